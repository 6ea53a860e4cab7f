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
    """Show the test patterns (Qt is imported only here) until Esc or ``--seconds``."""
    from holostim.config import load_config

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
    require_display("slm-check")  # before Qt is imported: without a display it aborts the process
    from holostim.hardware.slm.opengl.check import run_slm_check

    return int(run_slm_check(config, seconds=args.seconds))
