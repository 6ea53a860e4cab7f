"""The engines' own error: a bad setting or compute argument (its one home, so both engines share it)."""

from __future__ import annotations

from holostim.errors import HolostimError

__all__ = ["EngineError"]


class EngineError(HolostimError, ValueError):
    """A bad engine setting or compute argument (shape, source, padding, iterations, budget...)."""
