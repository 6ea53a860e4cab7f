"""``holostim slm-check``: show test patterns on the SLM screen and prove every byte arrives (Qt).

Before a rig is trusted, the panel must receive exactly the frames computed for it: no scaling,
dithering, gamma or colour management between the frame and the pixels, and the right way up. This
check shows each test pattern, reads back what OpenGL drew, and then cycles the patterns with a
toggling corner for a photodiode on the panel, so the frame timing can be measured on the real device.

It runs a local Qt event loop, so it is one of the SLM modules that import Qt (with ``window.py`` and
``screens.py``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PyQt6.QtCore import QEventLoop, Qt, QTimer

from holostim.hardware.slm.errors import SLMError
from holostim.hardware.slm.opengl.qt_loop import qt_application
from holostim.hardware.slm.opengl.window import OpenGLSLM
from holostim.hardware.slm.patterns import checkerboard, gray_ramp, orientation_marker, toggle_corner

__all__ = ["run_slm_check"]


def run_slm_check(config: Any, seconds: float | None = None) -> int:
    """Show the test patterns on the SLM screen and prove the bytes; return the exit status.

    ``config`` is the validated session (:func:`holostim.config.load_config`) or its ``slm`` section;
    the SLM is built from the section's ``slm_kwargs`` (the one reader of that section) with the
    session's interlock limits, on ``screen``, fullscreen unless the section says otherwise.

    First each pattern (gray ramp, checkerboard, orientation marker) is shown and read back; a pattern
    whose read-back differs from its bytes is reported and makes the result 1. Then the patterns cycle
    (Space: next, every 3 s otherwise) with the bottom-right 32² corner toggling on every frame for a
    photodiode, until Esc or ``seconds``. Prints frame statistics at the end. 0 = every frame exact and no
    display fault.
    """
    section = getattr(config, "slm", config)
    if not hasattr(section, "slm_kwargs"):
        raise SLMError(
            f"slm-check needs the validated session (holostim.config.load_config) or its slm section, "
            f"not a {type(section).__name__}"
        )
    if not section.screen:  # before Qt starts: the message is the whole answer
        raise SLMError("slm.screen is not set: name the SLM's screen (name, serial or WxH+X+Y)")
    _app = qt_application()  # noqa: F841 - keep a reference while we run
    slm = OpenGLSLM.from_config(section, getattr(config, "safety", None), name="slm-check")
    status = 0
    try:
        if not slm.wait_ready(10.0):
            print("SLM window did not appear within 10 s")
            return 1
        patterns = {
            "gray ramp": gray_ramp(slm.shape),
            "checkerboard": checkerboard(slm.shape),
            "orientation marker": orientation_marker(slm.shape),
        }
        for name, frame in patterns.items():
            rec = slm.show_gray(frame)
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
            slm.show_gray(toggle_corner(patterns[names[state["i"]]], state["on"]))

        def on_key(key: int) -> None:
            if key == int(Qt.Key.Key_Escape):
                loop.quit()
            elif key == int(Qt.Key.Key_Space):
                state["since"] = 0.0

        slm.window.frameSwapped.connect(next_frame)
        slm.window.key_pressed.connect(on_key)
        loop = QEventLoop()  # a local loop: app.quit() would close every window of a host GUI
        if seconds is not None:
            QTimer.singleShot(int(1000 * seconds), loop.quit)
        print("cycling patterns with a toggling bottom-right corner; Esc quits, Space = next pattern")
        next_frame()
        loop.exec()
        slm.window.frameSwapped.disconnect(next_frame)
        if lat:
            ms = 1e3 * np.asarray(lat)
            print(f"frames {state['n']}, show→swap median {np.median(ms):.2f} ms, max {ms.max():.2f} ms")
        if slm.window.faults:
            print("display faults: " + "; ".join(slm.window.faults))
            status = 1
    finally:
        slm.close()
    return int(status)
