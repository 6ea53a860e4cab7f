"""The rig's duty-cycle limit as a person at the rig sees it: a click's light is cut, the banner says why.

The session allows 50 ms of light in any second (``safety.max_duty_cycle: 0.05``): the click lights
its target, the gate's watchdog cuts the light at the limit, the banner turns red with the reason, and
once the window has room again it turns green by itself. Waited for, never timed.
"""

from __future__ import annotations

from gui_helpers import pick_neurons
from PyQt6.QtCore import Qt

from holostim.eventlog import read as read_log
from holostim.session import Session


def test_a_click_over_the_duty_cycle_is_cut_and_the_banner_says_why(qtbot, make_window, sim_config):
    with Session.open(sim_config()):  # calibrated without the limit: its spots need more light than 5 %
        pass
    win = make_window(sim_config(safety={"max_duty_cycle": 0.05, "duty_window_ms": 1000}))
    s = win.session
    banner = win.status_panel.interlock
    (x, y), = pick_neurons(s, 1)
    qtbot.mouseClick(win.camera_view.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=win.camera_view.viewport_pos(x, y))
    qtbot.waitUntil(lambda: banner.full_text.startswith("BLOCKED: duty cycle"), timeout=20_000)
    assert not s.daq.gate_open and "safety.max_duty_cycle = 0.05" in banner.full_text
    assert "duty cycle" in win.protocol_panel.gate_light.text().lower()  # the gate light says why it closed
    qtbot.waitUntil(lambda: banner.full_text == "LASER PERMITTED", timeout=20_000)  # room again, by itself
    gates = [r for r in read_log(s.log.path).records if r["type"] == "gate"]
    assert [g["action"] for g in gates][:2] == ["open", "close"]
    assert gates[1]["reason"].startswith("duty cycle: the light reached the limit")
