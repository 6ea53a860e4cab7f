"""The SLM's errors, apart from the modules that raise them so a caller can catch them without Qt.

Each is a :class:`~holostim.errors.HolostimError` (the CLI prints it as one line, no traceback) and also
the builtin it resembles, so code that expects a ``ValueError`` or ``FileNotFoundError`` keeps working.
"""

from __future__ import annotations

from holostim.errors import HolostimError

__all__ = ["LUTError", "SLMDisplayError", "SLMError", "SLMFileError", "ScreenError"]


class SLMError(HolostimError, ValueError):
    """A bad SLM setting or input (shape, wavelength, gray scale, correction, phase array)."""


class LUTError(SLMError):
    """A lookup-table file or array that cannot be used (wrong length, non-monotonic, out of range)."""


class SLMFileError(HolostimError, FileNotFoundError):
    """A LUT or flatness-correction file that does not exist or cannot be read."""


class SLMDisplayError(HolostimError, RuntimeError):
    """The SLM display cannot be used (screen missing or wrong, OpenGL failure)."""


class ScreenError(SLMDisplayError):
    """The chosen SLM screen is missing, ambiguous, scaled, or of the wrong size."""
