"""Finding the projected spots on the camera and pairing them with the ones the SLM was asked for.

Sub-pixel centroids of the background-subtracted frame, a one-to-one assignment to the predicted
positions, and robust rejection of bad pairs — one bad match would otherwise skew the whole
least-squares fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from holostim.calibration.affine import apply_affine, as_xy, fit_affine
from holostim.calibration.errors import CalibrationError

__all__ = ["detect_spots", "match_points", "reject_outliers"]


def detect_spots(
    image: np.ndarray,
    *,
    sigma: float = 1.0,
    window: int = 4,
    min_separation: int = 4,
    rel_threshold: float = 0.15,
    snr: float = 8.0,
    max_spots: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bright spots in a (background-subtracted) image with sub-pixel intensity-weighted centroids.

    Peaks are local maxima of the Gaussian-smoothed image above both ``rel_threshold`` × its maximum and
    ``snr`` robust noise deviations above its median, at least ``min_separation`` px apart; each centroid
    is taken on the unsmoothed image in a ``(2 window + 1)²`` box around the peak, after subtracting the
    median of the box's rim and clipping at zero.

    Returns
    -------
    xy : ndarray, shape (M, 2)
        Centroids ``(x, y)`` in pixels, brightest first.
    flux : ndarray, shape (M,)
        Summed intensity in each box.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise CalibrationError(f"detect_spots needs a 2-D image, got shape {img.shape}")
    pos = np.clip(img, 0, None)
    smooth = ndimage.gaussian_filter(pos, sigma) if sigma > 0 else pos
    med = float(np.median(smooth))
    mad = 1.4826 * float(np.median(np.abs(smooth - med)))
    peak = float(smooth.max())
    threshold = max(med + snr * mad, med + rel_threshold * (peak - med))
    if peak <= threshold:
        return np.empty((0, 2)), np.empty(0)
    local_max = ndimage.maximum_filter(smooth, size=2 * min_separation + 1, mode="constant")
    ys, xs = np.nonzero((smooth == local_max) & (smooth > threshold))
    order = np.argsort(-smooth[ys, xs], kind="stable")
    ys, xs = ys[order], xs[order]
    # A flat (saturated) top gives several equal maxima: keep the brightest of any closer than
    # min_separation.
    kept: list[tuple[int, int]] = []
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        if all((y - ky) ** 2 + (x - kx) ** 2 > min_separation**2 for ky, kx in kept):
            kept.append((y, x))
            if max_spots is not None and len(kept) >= max_spots:
                break
    h, w = img.shape
    out, flux = [], []
    for y, x in kept:
        y0, y1 = max(0, y - window), min(h, y + window + 1)
        x0, x1 = max(0, x - window), min(w, x + window + 1)
        box = img[y0:y1, x0:x1]
        # Local background: the median of the box's rim, so an offset or a dim neighbour does not pull
        # the centroid towards the box centre.
        rim = np.concatenate([box[0], box[-1], box[1:-1, 0], box[1:-1, -1]])
        box = np.clip(box - float(np.median(rim)), 0, None)
        total = float(box.sum())
        if total <= 0:
            continue
        cy, cx = ndimage.center_of_mass(box)
        out.append((x0 + cx, y0 + cy))
        flux.append(total)
    order = np.argsort(-np.asarray(flux), kind="stable")
    xy = np.asarray(out, dtype=np.float64).reshape(-1, 2)[order]
    return xy, np.asarray(flux)[order]


def match_points(detected: Any, predicted: Any, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of detected to predicted points (Hungarian assignment, gated by distance).

    Returns index arrays ``(i_detected, i_predicted)`` of the accepted pairs.
    """
    d = as_xy(detected, "detected") if len(detected) else np.empty((0, 2))
    p = as_xy(predicted, "predicted")
    if len(d) == 0:
        return np.empty(0, int), np.empty(0, int)
    cost = np.hypot(d[:, None, 0] - p[None, :, 0], d[:, None, 1] - p[None, :, 1])
    big = 1e6 + cost.max()
    rows, cols = linear_sum_assignment(np.where(cost <= max_distance, cost, big))
    ok = cost[rows, cols] <= max_distance
    return rows[ok], cols[ok]


def reject_outliers(
    src: np.ndarray, dst: np.ndarray, *, floor_px: float = 0.75, k: float = 4.0, min_points: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``src → dst`` and drop the worst pair while it is an outlier; return ``(matrix, inlier_mask)``.

    A pair is an outlier when its residual exceeds both ``floor_px`` and ``k`` robust standard deviations
    (1.4826 × the median absolute residual) of the current fit. One pair is removed at a time because a
    single bad match skews the whole least-squares fit.
    """
    s = as_xy(src, "src")
    d = as_xy(dst, "dst")
    keep = np.ones(len(s), bool)
    while True:
        m = fit_affine(s[keep], d[keep])
        res = np.hypot(*(apply_affine(m, s) - d).T)
        kept = np.flatnonzero(keep)
        if len(kept) <= min_points:
            return m, keep
        robust = 1.4826 * float(np.median(res[kept]))
        worst = kept[np.argmax(res[kept])]
        if res[worst] > max(floor_px, k * robust):
            keep[worst] = False
            continue
        return m, keep

