"""A screenshot of the main window in simulation mode with targets placed (goes into the README)."""

from __future__ import annotations

import time

from gui_helpers import pick_neurons, settle
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage


def test_screenshot_of_main_window_with_targets(qtbot, make_window, sim_config, artifacts):
    win = make_window(sim_config(slm_shape=(512, 512), camera_shape=(512, 512),
                                 engine={"backend": "numpy", "iterations": 20}), size=(1600, 950))
    s = win.session
    win.targets_panel.snap_check.setChecked(True)
    vp = win.camera_view.graphics.viewport()
    for x, y in pick_neurons(s, 6, min_dist=40):
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=win.camera_view.viewport_pos(x, y))
        qtbot.wait(30)
    zx, zy = s.calibration.zero_order_camera()
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=win.camera_view.viewport_pos(zx + 2, zy + 2))
    assert "zero-order" in win.last_message
    qtbot.waitUntil(lambda: win.sending.last_result is not None and len(win.sending.last_result.targets) == 6
                    and win.sending.worker.idle, timeout=30_000)
    win.store.set_selection([2])
    # Stimulated neurons brighten over a few hundred ms (calcium transients); let the view show it.
    t_end = time.monotonic() + 1.5
    while time.monotonic() < t_end:
        settle(qtbot, 50)
    win.show_message(win.last_message)  # keep the refusal visible in the status bar for the picture
    settle(qtbot, 100)
    path = artifacts / "gui_main_window.png"
    assert win.grab().save(str(path))
    img = QImage(str(path))
    assert (img.width(), img.height()) == (win.width(), win.height())
    # Not blank: the camera image, markers and previews make many distinct colours.
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 500
