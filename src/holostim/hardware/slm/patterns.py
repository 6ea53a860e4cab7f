"""Test patterns for checking an SLM screen: plain numpy, so the GUI and ``slm-check`` share them.

Each one makes a particular fault visible on the panel or in a read-back: the ramp every gray level
(gamma, dithering, a LUT applied twice), the checkerboard scaling or blur (soft edges), the marker any
flip or rotation, the toggling corner the frame timing (a photodiode sees every swap).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["checkerboard", "gray_ramp", "orientation_marker", "toggle_corner"]


def gray_ramp(shape: Sequence[int]) -> np.ndarray:
    """Horizontal ramp 0 → 255 across the width (every gray level on a 256+ px wide panel)."""
    ny, nx = shape
    row = np.floor(np.arange(nx) * 256.0 / nx).astype(np.uint8)
    return np.broadcast_to(row, (ny, nx)).copy()


def checkerboard(shape: Sequence[int], square: int = 32, low: int = 0, high: int = 255) -> np.ndarray:
    """Squares of ``square`` pixels, ``low`` at the top-left: shows scaling or blur as soft edges."""
    ny, nx = shape
    yy, xx = np.indices((ny, nx))
    return np.where(((yy // square) + (xx // square)) % 2 == 0, low, high).astype(np.uint8)


def orientation_marker(shape: Sequence[int]) -> np.ndarray:
    """A white "F" on black at the top-left plus a one-pixel frame: any flip or rotation shows.

    The F's stem is at the left and its bars point right, the long bar at the top.
    """
    ny, nx = shape
    img = np.zeros((ny, nx), np.uint8)
    img[0, :] = img[-1, :] = img[:, 0] = img[:, -1] = 128
    u = max(2, min(ny, nx) // 16)  # stroke width
    y0, x0 = 2 * u, 2 * u
    img[y0 : y0 + 5 * u, x0 : x0 + u] = 255  # stem
    img[y0 : y0 + u, x0 : x0 + 4 * u] = 255  # top bar (long)
    img[y0 + 2 * u : y0 + 3 * u, x0 : x0 + 3 * u] = 255  # middle bar (shorter)
    return img


def toggle_corner(frame: np.ndarray, on: bool, size: int = 32) -> np.ndarray:
    """``frame`` with its bottom-right ``size``² corner white (on) or black: for a photodiode."""
    out = frame.copy()
    out[-size:, -size:] = 255 if on else 0
    return out
