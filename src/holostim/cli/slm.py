"""``holostim slm-check``: test patterns on the SLM screen named by the session."""

from __future__ import annotations

import argparse

from holostim.cli.defaults import default_config
from holostim.cli.display import require_display
from holostim.errors import HolostimError

__all__ = ["SlmCheckError", "cmd_slm_check"]


class SlmCheckError(HolostimError, ValueError):
    """The session cannot be checked with ``slm-check`` (its SLM has no screen to test)."""


def cmd_slm_check(args: argparse.Namespace) -> int:
    """Show the test patterns (Qt is imported only here) until Esc or ``--seconds``.

    The SLM is the session's, opened without a camera (:meth:`Session.open` with ``camera=False``), and
    every test pattern goes through its gate and log (kind ``test_pattern``: the laser stays blocked
    unless ``safety.test_patterns_with_laser``).
    """
    from holostim.config import load_config
    from holostim.session import Session

    path = args.config or default_config()
    config = load_config(path)
    # slm-check reads back what OpenGL drew on a screen; a simulated SLM has neither. Saying which
    # backend the session has tells the user what to change, where "slm.screen is not set" (the OpenGL
    # check's first question) would send them looking for a screen setting the simulation does not have.
    backend = config.slm.backend
    if backend != "opengl":
        raise SlmCheckError(
            f"slm-check needs an OpenGL SLM (slm.backend: opengl with slm.screen); "
            f"this session's slm.backend is {backend!r} ({path})"
        )
    if not config.slm.screen:  # before Qt starts: the message is the whole answer
        raise SlmCheckError("slm.screen is not set: name the SLM's screen (name, serial or WxH+X+Y)")
    require_display("slm-check")  # before Qt is imported: without a display it aborts the process
    from holostim.hardware.slm.opengl.check import run_slm_check
    from holostim.hardware.slm.opengl.qt_loop import qt_application

    _app = qt_application()  # noqa: F841 - the SLM window needs it, alive while it is shown
    with Session.open(path, camera=False) as session:
        return int(run_slm_check(session.slm, session.show_test_pattern, seconds=args.seconds))
