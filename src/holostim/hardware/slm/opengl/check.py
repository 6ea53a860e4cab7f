"""``holostim slm-check``: show test patterns on the SLM screen and prove every byte arrives (Qt).

Before a rig is trusted, the panel must receive exactly the frames computed for it: no scaling,
dithering, gamma or colour management between the frame and the pixels, and the right way up. This
check shows each test pattern, reads back what OpenGL drew, and then cycles the patterns with a
toggling corner for a photodiode on the panel, so the frame timing can be measured on the real device.

Every frame goes through the caller's ``show(frame, name)`` -- the command passes its session's
:meth:`~holostim.session.Session.show_test_pattern`, so each one is judged by the safety gate and logged
(this module, below the session, never builds an SLM or shows a frame itself). It runs a local Qt event
loop, so it is one of the SLM modules that import Qt (with ``window.py`` and ``screens.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import QEventLoop, Qt, QTimer

from holostim.hardware.slm.base import FrameRecord
from holostim.hardware.slm.opengl.qt_loop import qt_application
from holostim.hardware.slm.opengl.window import OpenGLSLM
from holostim.hardware.slm.patterns import checkerboard, gray_ramp, orientation_marker, toggle_corner

__all__ = ["ShowFn", "run_slm_check"]

ShowFn = Callable[[np.ndarray, str], FrameRecord]
"""``show(frame, name) -> FrameRecord``: put a ready uint8 test pattern on the SLM (through the gate)."""


def run_slm_check(slm: OpenGLSLM, show: ShowFn, seconds: float | None = None) -> int:
    """Show the test patterns on an open :class:`OpenGLSLM` through ``show`` and prove the bytes.

    ``show(frame, name)`` displays every frame (the session's gated, logged ``show_test_pattern``);
    ``slm`` is the window it shows on, read back and watched here (the caller opens and closes it). Call
    on the Qt (main) thread. The show→swap statistics include the gate and the log's durable append.

    First each pattern (gray ramp, checkerboard, orientation marker) is shown and read back; a pattern
    whose read-back differs from its bytes is reported and makes the result 1. Then the patterns cycle
    (Space: next, every 3 s otherwise) with the bottom-right 32² corner toggling on every frame for a
    photodiode, until Esc or ``seconds``. Prints frame statistics at the end. 0 = every frame exact and no
    display fault; returns the exit status.
    """
    _app = qt_application()  # noqa: F841 - keep a reference while we run
    status = 0
    if not slm.wait_ready(10.0):
        print("SLM window did not appear within 10 s")
        return 1
    bits = int(getattr(slm, "bits", 8))

    def deep(frame: np.ndarray) -> np.ndarray:  # an 8-bit pattern on a 10/12-bit panel: the same levels
        return frame if bits == 8 else frame.astype(np.uint16) << (bits - 8)

    patterns = {
        "gray ramp": deep(gray_ramp(slm.shape)),
        "checkerboard": deep(checkerboard(slm.shape)),
        "orientation marker": deep(orientation_marker(slm.shape)),
    }
    for name, frame in patterns.items():
        rec = show(frame, name)
        slm.wait_swapped(rec, 5.0)
        got = slm.read_back()
        bad = int(np.count_nonzero(got != frame))
        print(f"{name:<20} {'exact' if bad == 0 else f'{bad} pixels differ'}")
        status |= bad != 0

    names = list(patterns)
    state = {"i": 0, "on": False, "n": 0, "since": time.monotonic()}
    lat: list[float] = []

    def next_frame() -> None:
        rec = slm.last_record
        if rec is not None and rec.t_swapped is not None:
            lat.append(rec.t_swapped - rec.t_request)
        if time.monotonic() - state["since"] > 3.0:
            state["i"] = (state["i"] + 1) % len(names)
            state["since"] = time.monotonic()
        state["on"] = not state["on"]
        state["n"] += 1
        name = names[state["i"]]
        show(toggle_corner(patterns[name], state["on"]), f"{name}, corner {'on' if state['on'] else 'off'}")

    def on_key(key: int) -> None:
        if key == int(Qt.Key.Key_Escape):
            loop.quit()
        elif key == int(Qt.Key.Key_Space):
            state["since"] = 0.0

    def next_frame_or_stop() -> None:
        try:
            next_frame()
        except Exception as exc:  # a refused or unloggable frame ends the check (Qt would swallow it)
            failure.append(exc)
            loop.quit()

    failure: list[BaseException] = []
    slm.window.frameSwapped.connect(next_frame_or_stop)
    slm.window.key_pressed.connect(on_key)
    loop = QEventLoop()  # a local loop: app.quit() would close every window of a host GUI
    if seconds is not None:
        QTimer.singleShot(int(1000 * seconds), loop.quit)
    print("cycling patterns with a toggling bottom-right corner; Esc quits, Space = next pattern")
    try:
        next_frame()
        loop.exec()
    finally:
        slm.window.frameSwapped.disconnect(next_frame_or_stop)
        slm.window.key_pressed.disconnect(on_key)
    if failure:
        raise failure[0]
    if lat:
        ms = 1e3 * np.asarray(lat)
        print(f"frames {state['n']}, show→swap median {np.median(ms):.2f} ms, max {ms.max():.2f} ms")
    if slm.window.faults:
        print("display faults: " + "; ".join(slm.window.faults))
        status = 1
    return int(status)
