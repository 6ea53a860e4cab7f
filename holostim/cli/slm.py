"""``holostim slm-check``: test patterns on the SLM screen named by the session."""

from __future__ import annotations

import argparse

from holostim.cli.defaults import default_config

__all__ = ["cmd_slm_check"]


def cmd_slm_check(args: argparse.Namespace) -> int:
    """Show the test patterns (Qt is imported only here) until Esc or ``--seconds``."""
    from holostim.config import load_config
    from holostim.hardware.slm.opengl.check import run_slm_check

    return int(run_slm_check(load_config(args.config or default_config()), seconds=args.seconds))
