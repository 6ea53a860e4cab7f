"""The session's own error: it cannot do what was asked (closed, no calibration where one is needed)."""

from __future__ import annotations

from holostim.errors import HolostimError

__all__ = ["SessionError"]


class SessionError(HolostimError, RuntimeError):
    """The session cannot do what was asked (closed, no calibration where one is needed, ...)."""
