"""The window's laser banner follows the session's gate, not the SLM's display interlock (issue 12).

A test pattern on a healthy display used to read LASER PERMITTED; the banner now shows the gate's permit
(interlock, last frame's verdict, its durable record), and a refused click is in the log.
"""

from __future__ import annotations

from gui_helpers import pick_neurons
from PyQt6.QtCore import Qt

from holostim.eventlog import read as read_log


def click(qtbot, win, x, y):
    qtbot.mouseClick(win.camera_view.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=win.camera_view.viewport_pos(x, y))


def test_banner_follows_the_gate_through_a_test_pattern(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    banner = win.status_panel.interlock
    click(qtbot, win, *pick_neurons(s, 1)[0])
    qtbot.waitUntil(lambda: win.sending.last_result is not None and win.sending.worker.idle, timeout=20_000)
    qtbot.waitUntil(lambda: banner.text() == "LASER PERMITTED", timeout=5_000)
    win.slm_panel.pattern_combo.setCurrentText("checkerboard")
    win.slm_panel.show_test_pattern()
    assert s.slm.laser_permitted  # the display itself is healthy ...
    qtbot.waitUntil(lambda: banner.text().startswith("BLOCKED: test pattern"), timeout=5_000)  # ... the gate
    kinds = [r.get("kind") for r in read_log(s.log.path).records if r["type"] == "frame"]
    assert kinds[-1] == "test_pattern"  # (the calibration on first open logged its frames before)


def test_a_refused_click_is_logged(qtbot, make_window, sim_config):
    win = make_window(sim_config())
    s = win.session
    zx, zy = s.calibration.zero_order_camera()
    click(qtbot, win, zx + 1, zy)
    assert "refused" in win.last_message
    (rec,) = [r for r in read_log(s.log.path).records if r["type"] == "refusal"]
    assert "zero-order" in rec["reason"] and abs(rec["camera_px"][0] - (zx + 1)) < 1
