"""``holostim gui`` (and plain ``holostim``): the rig GUI on a session, the simulation by default."""

from __future__ import annotations

import argparse

from holostim.cli.defaults import default_config

__all__ = ["cmd_gui"]


def cmd_gui(args: argparse.Namespace) -> int:
    """Open the GUI (Qt is imported only here)."""
    from holostim.gui.app import run_gui

    return run_gui(args.config or default_config())
