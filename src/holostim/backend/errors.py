"""The backend room's error: its own module, so the backend and its FFT plans can both raise it."""

from __future__ import annotations

from holostim.errors import HolostimError


class BackendError(HolostimError, ValueError):
    """A backend or precision that is unknown or not usable on this machine."""
