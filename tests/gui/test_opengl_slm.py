"""The GUI driving a real OpenGL SLM window (Mesa under Xvfb): the clicked pattern is what GL draws."""

from __future__ import annotations

import numpy as np
import tifffile
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QGuiApplication

from holostim.calibration import Calibration
from holostim.eventlog import read as read_log


def blobs(shape, centres, sigma=3.0):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    img = np.full(shape, 200.0)
    for x, y in centres:
        img += 3000 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return img.astype(np.uint16)


def test_clicks_reach_the_opengl_slm_window(qtbot, make_window, sim_config, tmp_path):
    cells = [(60.0, 70.0), (190.0, 80.0), (100.0, 200.0)]
    stack = np.stack([blobs((256, 256), cells)] * 3)
    tifffile.imwrite(tmp_path / "cells.tif", stack, photometric="minisblack")
    # A camera whose pixels are SLM Fourier pixels shifted by 3 px: a calibration we know exactly.
    cal = Calibration(matrix=np.array([[1.0, 0.0, 3.0], [0.0, 1.0, -3.0]]), slm_shape=(256, 256),
                      camera_shape=(256, 256), slm_id="slm", camera_id="replay:cells.tif", residual_px=0.0)
    cal_file = cal.save(tmp_path / "cal.yaml")
    screen = QGuiApplication.primaryScreen().name()
    cfg = sim_config(
        slm={"backend": "opengl", "screen": screen, "fullscreen": False},
        camera={"backend": "replay", "path": str(tmp_path / "cells.tif"), "fps": 10},
        calibration={"file": str(cal_file)},
    )
    win = make_window(cfg, size=(1200, 800))
    s = win.session
    assert s.slm.window.isVisible()
    assert win.slm_panel.window_check.isEnabled() and win.slm_panel.window_check.isChecked()
    vp = win.camera_view.graphics.viewport()
    for x, y in cells:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=win.camera_view.viewport_pos(x, y))
        qtbot.wait(20)
    qtbot.waitUntil(lambda: win.sending.last_result is not None and len(win.sending.last_result.targets) == 3
                    and win.sending.worker.idle, timeout=30_000)
    r = win.sending.last_result
    np.testing.assert_allclose([(t.x, t.y) for t in r.targets], cells, atol=0.5)
    np.testing.assert_allclose(r.targets_slm, np.array(cells) + [3.0, -3.0], atol=0.5)
    assert r.t_swapped is not None and r.click_to_swap_ms > 0
    drawn = s.slm.read_back()  # glReadPixels of what the window drew
    np.testing.assert_array_equal(drawn, r.frame)
    rec = [x for x in read_log(s.log.path).records if x["type"] == "pattern"][-1]
    np.testing.assert_allclose([t["camera_px"] for t in rec["targets"]], [(t.x, t.y) for t in r.targets])
    # The main window covers the SLM window (both on the one Xvfb screen): the SLM reports it.
    qtbot.waitUntil(lambda: "covered" in win.status_panel.interlock.text(), timeout=5000)
    assert not s.laser_permitted
    win.move(400, 300)  # the SLM window sits at the screen's top-left (fullscreen: False)
    qtbot.waitUntil(lambda: win.status_panel.interlock.permitted, timeout=5000)
    assert win.status_panel.interlock.text() == "LASER PERMITTED"
    # Hiding the SLM window from the GUI blocks the laser, with the reason shown.
    win.slm_panel.window_check.setChecked(False)
    qtbot.waitUntil(lambda: not win.status_panel.interlock.permitted, timeout=5000)
    assert win.status_panel.interlock.text().startswith("BLOCKED: ")
    assert "not exposed" in win.status_panel.interlock.text()


def test_choosing_another_screen_moves_the_slm_window_live(qtbot, make_window, sim_config, tmp_path):
    stack = np.stack([blobs((256, 256), [(60.0, 70.0)])] * 2)
    tifffile.imwrite(tmp_path / "cells.tif", stack, photometric="minisblack")
    cal = Calibration(matrix=np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), slm_shape=(256, 256),
                      camera_shape=(256, 256), slm_id="slm", camera_id="replay:cells.tif", residual_px=0.0)
    screen = QGuiApplication.primaryScreen()
    cfg = sim_config(
        slm={"backend": "opengl", "screen": screen.name(), "fullscreen": False},
        camera={"backend": "replay", "path": str(tmp_path / "cells.tif"), "fps": 10},
        calibration={"file": str(cal.save(tmp_path / "cal.yaml"))},
    )
    win = make_window(cfg, size=(900, 700))
    s = win.session
    vp = win.camera_view.graphics.viewport()
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=win.camera_view.viewport_pos(60.0, 70.0))
    qtbot.waitUntil(lambda: win.sending.last_result is not None and win.sending.worker.idle, timeout=30_000)
    shown = win.sending.last_result.frame
    old = s.slm
    n_records = len([r for r in read_log(s.log.path).records if r["type"] == "pattern"])

    # a screen that is not there: refused in the status bar, the SLM stays on its screen
    win.slm_panel.screen_combo.addItem("nowhere (0×0)", "nowhere")
    win.slm_panel.screen_combo.setCurrentIndex(win.slm_panel.screen_combo.count() - 1)
    win.slm_panel.screen_combo.activated.emit(win.slm_panel.screen_combo.count() - 1)
    assert "SLM stays where it was" in win.last_message and "nowhere" in win.last_message
    assert s.slm is old and s.config.slm.screen == screen.name()
    assert win.slm_panel.screen_combo.currentData() == screen.name()

    # the same screen named by its geometry: a new window, showing the last pattern again, logged
    g = screen.geometry()
    spec = f"{g.width()}x{g.height()}+{g.x()}+{g.y()}"
    s.set_slm_screen(spec)
    assert s.slm is not old and s.config.slm.screen == spec
    assert s.slm.wait_ready(10)
    qtbot.waitUntil(lambda: s.slm.last_record is not None and s.slm.last_record.t_swapped is not None,
                    timeout=5000)
    np.testing.assert_array_equal(s.slm.read_back(), shown)
    assert len([r for r in read_log(s.log.path).records if r["type"] == "pattern"]) == n_records + 1
