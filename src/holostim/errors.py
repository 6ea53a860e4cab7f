"""The base of every error a user can cause and fix.

The CLI prints a :class:`HolostimError` as one line and exits 2, and the GUI shows it in the status
bar, so each message must name the bad value and say what is allowed or how to fix it. Subclasses also
derive from the matching builtin (``ValueError``, ``FileNotFoundError``, ...) so callers can catch either.
"""

from __future__ import annotations


class HolostimError(Exception):
    """A user-facing error: bad input, a missing device, an unusable setting."""
