"""``holostim slm-check``: test patterns on the SLM screen named by the session."""

from __future__ import annotations

import argparse

from holostim.cli.defaults import default_config
from holostim.cli.display import require_display

__all__ = ["cmd_slm_check"]


def cmd_slm_check(args: argparse.Namespace) -> int:
    """Show the test patterns (Qt is imported only here) until Esc or ``--seconds``."""
    from holostim.config import load_config

    config = load_config(args.config or default_config())
    require_display("slm-check")  # before Qt is imported: without a display it aborts the process
    from holostim.hardware.slm.opengl.check import run_slm_check

    return int(run_slm_check(config, seconds=args.seconds))
