"""Validators for user-given numbers and shapes, one copy each.

Every room of holostim raises its own error class (``SLMError``, ``CameraConfigError``, ...), so each
validator takes the class to raise; the message always names the offending value and what is allowed,
which is what the CLI prints as its one line.
"""

from __future__ import annotations

import math
from typing import Any

from holostim.errors import HolostimError


def _number(value: Any, name: str, error: type[Exception], what: str) -> float:
    if isinstance(value, bool):  # True is an int to Python, never a number to a user
        raise error(f"{name}={value!r} must be {what}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise error(f"{name}={value!r} must be {what}") from None
    if not math.isfinite(v):
        raise error(f"{name}={value!r} must be {what}")
    return v


def finite(value: Any, name: str, error: type[Exception] = HolostimError) -> float:
    """Return ``value`` as a finite float, or raise ``error`` naming it."""
    return _number(value, name, error, "a finite number")


def positive(value: Any, name: str, error: type[Exception] = HolostimError) -> float:
    """Return ``value`` as a finite float > 0, or raise ``error`` naming it."""
    v = _number(value, name, error, "a positive, finite number")
    if v <= 0:
        raise error(f"{name}={value!r} must be a positive, finite number")
    return v


def non_negative(value: Any, name: str, error: type[Exception] = HolostimError) -> float:
    """Return ``value`` as a finite float ≥ 0, or raise ``error`` naming it."""
    v = _number(value, name, error, "a finite number ≥ 0")
    if v < 0:
        raise error(f"{name}={value!r} must be a finite number ≥ 0")
    return v


def number_pair(value: Any, name: str, error: type[Exception] = HolostimError) -> tuple[float, float]:
    """Return ``value`` as two finite floats, or raise ``error`` naming it."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise error(f"{name}={value!r} must be a pair of numbers") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise error(f"{name}={value!r} must be a pair of finite numbers")
    return a, b


def shape_pair(value: Any, name: str = "shape", error: type[Exception] = HolostimError) -> tuple[int, int]:
    """Return ``value`` as ``(height, width)``, two positive integers, or raise ``error`` naming it.

    A float that is not a whole number (``512.5``) is refused rather than truncated: a shape that silently
    changes is worse than an error.
    """
    msg = f"{name}={value!r} must be two positive integers (height, width)"
    try:
        items = list(value)
    except TypeError:
        raise error(msg) from None
    if len(items) != 2:
        raise error(msg)
    out = []
    for v in items:
        if isinstance(v, bool):
            raise error(msg)
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise error(msg) from None
        if not math.isfinite(f) or f != int(f) or f < 1:
            raise error(msg)
        out.append(int(f))
    return out[0], out[1]
