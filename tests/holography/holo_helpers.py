"""Spot targets shared by the holography tests."""

from __future__ import annotations

import numpy as np

from holostim.holography import SpotTarget


def random_spots(size: int, count: int, seed: int = 0, window: int | None = None, exclude: float = 4):
    """``count`` distinct integer spots in the central ``window`` of a ``size`` grid, off the zero order."""
    window = window or size // 2
    lo = size // 2 - window // 2
    yy, xx = np.mgrid[lo : lo + window, lo : lo + window]
    ok = np.hypot(yy - size // 2, xx - size // 2) > exclude
    cand = np.stack([xx[ok], yy[ok]], 1)
    pick = np.random.default_rng(seed).choice(len(cand), count, replace=False)
    return SpotTarget.from_pixels(cand[pick], shape=(size, size))


def grid_spots(size: int, side: int, pitch: int, offset: int):
    c = size // 2 + offset - pitch * (side - 1) // 2
    g = c + pitch * np.arange(side)
    xx, yy = np.meshgrid(g, g)
    return SpotTarget.from_pixels(np.stack([xx.ravel(), yy.ravel()], 1), shape=(size, size))


