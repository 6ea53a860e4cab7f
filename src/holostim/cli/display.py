"""Whether a command that opens the OpenGL SLM window has a screen to open it on, asked before Qt starts.

Without ``DISPLAY`` (or ``WAYLAND_DISPLAY``) Qt's xcb plugin prints several lines about plugins and then
aborts the whole process (SIGABRT, exit 134): no cleanup, and nothing that says what to do. So the
commands that start Qt for the SLM window (``calibrate`` on an OpenGL session, ``slm-check``) ask first
and refuse in one line, naming the fix. A ``QT_QPA_PLATFORM`` the user set (``offscreen``, ``vnc``, ...)
is their choice and is not second-guessed; Windows and macOS have no such variable to check.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from holostim.errors import HolostimError

__all__ = ["NoDisplayError", "require_display"]


class NoDisplayError(HolostimError, RuntimeError):
    """A command needs a screen (the OpenGL SLM window) and this session has none."""


def require_display(
    command: str, environ: Mapping[str, str] | None = None, platform: str = sys.platform
) -> None:
    """Raise :class:`NoDisplayError` for ``command`` where Qt would find no display (Linux only)."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return
    raise NoDisplayError(
        f"`holostim {command}` opens the OpenGL SLM window, but neither DISPLAY nor WAYLAND_DISPLAY is set "
        "(no screen to show it on). Run it from the rig's desktop session (the SLM is a screen of it), "
        f"or without a real SLM under a virtual one: `xvfb-run -a holostim {command} ...`"
    )
