"""The outline of a pixel footprint: the outer boundary of its pixels as one polygon.

suite2p and CaImAn store ROIs as weighted pixels, not outlines; the GUI draws outlines on the camera
view, so each footprint gets the boundary of its pixel squares — exact, a staircase along pixel edges
(pixel centres on integers, so edges on half-integers), with collinear vertices dropped. A footprint
made of several pieces keeps the outline of the largest; holes are not outlined (a soma has none that
matter for choosing it).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = ["mask_outline"]


def mask_outline(xpix: np.ndarray, ypix: np.ndarray) -> np.ndarray:
    """The ``(K, 2)`` polygon ``(x, y)`` around the pixels ``(xpix[i], ypix[i])`` (largest piece)."""
    pixels = {(int(x), int(y)) for x, y in zip(np.asarray(xpix).ravel(), np.asarray(ypix).ravel(),
                                               strict=True)}
    if not pixels:
        raise ValueError("a footprint without pixels has no outline")
    # Directed boundary edges between pixel corners; corner (i, j) is the point (i - 0.5, j - 0.5).
    # Each pixel's edges run the same way round, so the boundary of the set chains into closed loops.
    out: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for x, y in pixels:
        if (x, y - 1) not in pixels:
            out[(x, y)].append((x + 1, y))
        if (x + 1, y) not in pixels:
            out[(x + 1, y)].append((x + 1, y + 1))
        if (x, y + 1) not in pixels:
            out[(x + 1, y + 1)].append((x, y + 1))
        if (x - 1, y) not in pixels:
            out[(x, y + 1)].append((x, y))
    best, best_area = None, -1.0
    while out:
        start = next(iter(out))
        loop, here = [start], start
        while True:
            nxt = out[here].pop()
            if not out[here]:
                del out[here]
            if nxt == start:
                break
            loop.append(nxt)
            here = nxt
        a = np.array(loop, dtype=np.float64)
        area = abs(float(np.sum(a[:, 0] * np.roll(a[:, 1], -1) - np.roll(a[:, 0], -1) * a[:, 1]))) / 2
        if area > best_area:
            best, best_area = a, area
    assert best is not None
    return _drop_collinear(best) - 0.5


def _drop_collinear(a: np.ndarray) -> np.ndarray:
    d_in = a - np.roll(a, 1, axis=0)
    d_out = np.roll(a, -1, axis=0) - a
    turn = d_in[:, 0] * d_out[:, 1] - d_in[:, 1] * d_out[:, 0]
    return a[turn != 0]
