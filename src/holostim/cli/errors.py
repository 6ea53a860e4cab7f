"""Exit statuses of the ``holostim`` command and the error of a bad argument combination."""

from __future__ import annotations

from holostim.errors import HolostimError

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "CLIError"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class CLIError(HolostimError, ValueError):
    """A bad combination of command-line arguments."""
