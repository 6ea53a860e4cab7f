"""Simulated time: a clock that moves only when told to, so the rig's dynamics are exact in tests."""

from __future__ import annotations

import time


class SimulatedClock:
    """A clock for the simulated rig that only moves when told to — deterministic tests.

    It starts a day ahead of ``time.monotonic()`` (unless ``start`` is given), so every frame the SLM
    has shown — stamped with the real monotonic clock — lies in its past and has settled; pass
    ``start=`` a frame's ``t_swapped`` to watch that frame settle instead.
    """

    def __init__(self, start: float | None = None) -> None:
        self._t = time.monotonic() + 86400.0 if start is None else float(start)

    def __call__(self) -> float:
        """The current simulated time in seconds."""
        return self._t

    def advance(self, dt: float) -> float:
        """Move time forward by ``dt`` seconds (≥ 0); returns the new time. Usable as ``sleep``."""
        if not dt >= 0:
            raise ValueError(f"a clock cannot go back: dt={dt!r}")
        self._t += float(dt)
        return self._t

    sleep = advance
