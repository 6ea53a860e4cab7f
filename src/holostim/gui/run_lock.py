"""While a protocol runs the SLM is the protocol's: the window's own ways to the SLM are shut, and say why.

The targets' send flow (Auto send, Send, the compute worker), the test pattern and the calibration would
each put another frame on the SLM in the middle of a step; the session would close the laser gate for
it (every frame closes it first), so nothing unsafe would happen, but the run would be spoiled. The
lock stops the send worker (its running pattern finishes first, before the run's thread starts), turns
the controls off with a tooltip saying why, and makes the camera view refuse target edits with the same
line; while a step is on, the status and the mask preview describe its pattern. After the run the SLM
shows the protocol's last pattern, not the targets: the markers turn to unsent edits and Send (or the
next change under Auto send) puts the targets back, as after a test pattern.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from holostim.gui.main_window import MainWindow

LOCKED = "a protocol is running: the SLM is the protocol's until it ends (Abort stops it)"
"""The line every shut control shows."""


class RunLock:
    """Shuts and reopens the window's ways to the SLM around a protocol run."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.locked = False
        self._tips: dict[Any, str] = {}

    def _controls(self) -> list[Any]:
        win, menus = self.win, self.win.menus
        return [win.targets_panel, win.slm_panel.pattern_button, *menus.targets_menu.actions(),
                menus.calibrate_action, menus.depth_calibrate_action, menus.test_pattern_action]

    def set_running(self, running: bool) -> None:
        """Lock (``True``: before the run's thread starts) or unlock (``False``: the run has ended)."""
        if running == self.locked:
            return
        self.locked = running
        win = self.win
        if running:
            win.sending.pause()  # the pattern being computed finishes before the run owns the SLM
            win.sending.slm_replaced()
        for c in self._controls():
            if running:
                self._tips[c] = c.toolTip()
                c.setToolTip(LOCKED)
            else:
                c.setToolTip(self._tips.pop(c, c.toolTip()))
            c.setEnabled(not running)
        win.camera_view.set_locked(LOCKED if running else None)
        if running:
            win.status_panel.set_other_pattern("protocol run")
        if not running:
            win.sending.resume()
            win.sending.slm_replaced()  # the SLM shows the protocol's last pattern, not the targets
        win.show_message(LOCKED if running else "protocol ended: Send puts the targets back on the SLM")

    def pattern_shown(self, prepared: Any) -> None:
        """A step put ``prepared`` on the SLM: status and previews describe it (not the targets)."""
        what = f"protocol pattern {prepared.name!r}"
        self.win.mask_preview.set_frame(prepared.frame, what=what)
        self.win.focal_preview.clear(f"{what} on the SLM: no predicted focus")
        self.win.status_panel.set_other_pattern(what)
