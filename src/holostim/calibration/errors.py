"""The errors of the calibration: one that cannot be fitted, used or read, and a missing file."""

from __future__ import annotations

from holostim.errors import HolostimError

__all__ = ["CalibrationError", "CalibrationFileError"]


class CalibrationError(HolostimError, ValueError):
    """A calibration that cannot be fitted, used or read (too few spots, degenerate, bad file content)."""


class CalibrationFileError(HolostimError, FileNotFoundError):
    """A calibration file that does not exist."""
