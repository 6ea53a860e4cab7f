"""The protocol room's errors: one line each, naming the pattern, step or file at fault."""

from __future__ import annotations

from holostim.config.messages import ConfigError
from holostim.errors import HolostimError

__all__ = ["ProtocolError", "ProtocolFileError"]


class ProtocolError(HolostimError, ValueError):
    """A protocol that cannot run: a pattern with no targets, an id not in its file, a bad target file.

    The message names the pattern (``pattern 'ens3': ...``) so the user knows which entry to fix.
    """


class ProtocolFileError(ConfigError, ProtocolError):
    """A protocol file that cannot be read or does not match the schema (``file:line: key: message``).

    Both a :class:`~holostim.config.ConfigError` (it has ``problems``, like a bad session file) and a
    :class:`ProtocolError`, so a caller can catch either.
    """
