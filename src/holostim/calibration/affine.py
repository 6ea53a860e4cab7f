"""Affine maps of 2-D points: apply, invert, least-squares fit.

Between the camera and the SLM's Fourier plane sit the relay optics, the objective and the camera mount,
which together are — to the accuracy that matters for somata — an affine map: rotation, scale, shear,
offset and possibly a mirror. A map is a 2×3 matrix ``M`` with ``dst = M[:, :2] @ src + M[:, 2]``;
points are ``(N, 2)`` arrays of ``(x, y)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from holostim.calibration.errors import CalibrationError

__all__ = ["apply_affine", "as_xy", "fit_affine", "invert_affine"]


def as_xy(xy: Any, name: str = "xy") -> np.ndarray:
    """``xy`` as a finite float ``(N, 2)`` array (one point ``(x, y)`` becomes ``(1, 2)``)."""
    a = np.asarray(xy, dtype=np.float64)
    if a.ndim == 1 and a.shape[0] == 2:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != 2:
        raise CalibrationError(f"{name} must be an (N, 2) array of (x, y) positions, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise CalibrationError(f"{name} contains NaN or infinite positions")
    return a


def apply_affine(matrix: np.ndarray, xy: Any) -> np.ndarray:
    """Map ``(N, 2)`` points ``(x, y)`` through a 2×3 affine ``matrix``: ``M[:, :2] @ p + M[:, 2]``."""
    p = as_xy(xy)
    m = np.asarray(matrix, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The 2×3 inverse of a 2×3 affine map (raises :class:`CalibrationError` if it is singular)."""
    m = np.asarray(matrix, dtype=np.float64)
    a = m[:, :2]
    det = float(np.linalg.det(a))
    if not math.isfinite(det) or abs(det) < 1e-12:
        raise CalibrationError(f"the affine matrix {m.tolist()} is singular (determinant {det:g})")
    ai = np.linalg.inv(a)
    return np.hstack([ai, -(ai @ m[:, 2])[:, None]])


def fit_affine(src: Any, dst: Any) -> np.ndarray:
    """Least-squares 2×3 affine ``M`` with ``dst ≈ M @ [src, 1]``.

    Needs at least three points that are not on one line (otherwise the map is undetermined).
    """
    s = as_xy(src, "src")
    d = as_xy(dst, "dst")
    if len(s) != len(d):
        raise CalibrationError(f"fit_affine needs matching point lists, got {len(s)} and {len(d)} points")
    if len(s) < 3:
        raise CalibrationError(f"fit_affine needs at least 3 point pairs, got {len(s)}")
    design = np.hstack([s, np.ones((len(s), 1))])
    centred = s - s.mean(axis=0)
    sv = np.linalg.svd(centred, compute_uv=False)
    if sv[-1] <= 1e-9 * max(sv[0], 1.0):
        raise CalibrationError(
            f"the {len(s)} calibration points lie on a line; an affine map needs points spread in 2-D"
        )
    coef, *_ = np.linalg.lstsq(design, d, rcond=None)
    return coef.T.copy()

