"""How the GUI writes a metric as a percentage.

A uniformity of 0.9993 written with one decimal reads "100.0 %", which tells a user the pattern is
perfect when it is not; a small positive value written as "0.0 %" hides that something is there. So a
value gets one decimal, or as many as it takes for its distance from 100 % (or from 0 %) to show as one
significant digit: 0.9993 is "99.93 %", 0.99996 is "99.996 %"; it never reads as 100 % unless it is 1.
"""

from __future__ import annotations

import math

MAX_DECIMALS = 6
"""Beyond this many decimals a difference from 100 % is numerical noise; the text then says "≈"."""


def percent(fraction: float) -> str:
    """``fraction`` (0..1) as a percentage: ``0.812`` → ``"81.2 %"``, ``0.9993`` → ``"99.93 %"``."""
    v = float(fraction)
    if not math.isfinite(v):
        return f"{v} %"
    if v in (0.0, 1.0):
        return f"{100 * v:.0f} %"
    gap = min(abs(100 * v), abs(100 - 100 * v))  # how far from reading "0" or "100"
    first = min(MAX_DECIMALS, max(1, math.ceil(-math.log10(gap)))) if gap > 0 else MAX_DECIMALS
    for decimals in range(first, MAX_DECIMALS + 1):  # more only where rounding still reached 0 or 100
        text = f"{100 * v:.{decimals}f}"
        if float(text) not in (0.0, 100.0):
            return f"{text} %"
    return f"≈{100 * v:.0f} %"
