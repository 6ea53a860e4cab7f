"""Snap a click to the intensity centroid of the blob under it.

A user clicking a soma rarely hits its centre; snapping moves the target to the brightness-weighted
centre of the pixels around the click so the spot lands in the middle of the cell. This is image
handling for the pointer, not optics: it uses :func:`scipy.ndimage.center_of_mass` on a small window.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def snap_to_centroid(
    frame: np.ndarray, x: float, y: float, radius: int = 6, iterations: int = 3
) -> tuple[float, float]:
    """Return the local intensity centroid near (x, y) (camera px; x = column, y = row).

    The window of ``2 * radius + 1`` pixels is re-centred on the centroid a few times; its minimum is
    subtracted first so a flat background does not drag the result to the window centre. Where the
    window holds no contrast, or the centroid wanders further than ``radius`` from the click, the click
    itself is returned (the user clicked on something that is not a blob).
    """
    img = np.asarray(frame, dtype=np.float64)
    if img.ndim == 3:  # colour camera: use the luminance-like mean
        img = img.mean(axis=2)
    ny, nx = img.shape
    cx, cy = float(x), float(y)
    for _ in range(iterations):
        x0, x1 = max(int(round(cx)) - radius, 0), min(int(round(cx)) + radius + 1, nx)
        y0, y1 = max(int(round(cy)) - radius, 0), min(int(round(cy)) + radius + 1, ny)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return float(x), float(y)
        win = img[y0:y1, x0:x1]
        # Half-max threshold: only the blob's upper half counts, robust against background and noise.
        lo, hi = float(win.min()), float(win.max())
        if hi - lo <= 1e-12:
            return float(x), float(y)
        w = np.clip(win - (lo + 0.5 * (hi - lo)), 0.0, None)
        my, mx = ndimage.center_of_mass(w)
        cx, cy = x0 + float(mx), y0 + float(my)
    if np.hypot(cx - x, cy - y) > radius:
        return float(x), float(y)
    return cx, cy
