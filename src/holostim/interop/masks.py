"""Imported ROIs as pixel masks on the camera: what the closed loop's readout averages.

A disc around an ROI's centroid reads the neuropil beside a thin or elongated cell and misses part of a
large one; the analysis's own footprint is the cell. So each ROI becomes a boolean mask of the camera's
shape: its footprint's pixels (suite2p, CaImAn, NWB pixel masks) or the inside of its outline (ImageJ).
With a registration (imaging → camera affine) each camera pixel's centre is mapped back into the
imaging frame and takes the imaging mask's value there (nearest pixel), which is exact for any affine,
a scale above one included (mapping the footprint's pixels forward would leave holes).

Masks are keyed by target id (the ROI's id + :data:`~holostim.interop.targets.ID_OFFSET`), the ids
:func:`~holostim.interop.targets.to_targets` gives the same ROIs, so a rule's ``roi`` and a live action's
targets name the same cell. The protocol (a peer of this room) takes the masks; the CLI and the GUI,
above both, read the file and call :func:`roi_masks`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from holostim.interop.errors import InteropError
from holostim.interop.model import ROI, ROISet
from holostim.interop.registration import Registration
from holostim.interop.targets import ID_OFFSET

__all__ = ["inside_polygon", "masks_from_file", "polygon_mask", "roi_masks"]


def masks_from_file(path: str | Path, shape: tuple[int, int], *, format: str | None = None,
                    registration: str | Path | None = None) -> dict[int, np.ndarray]:
    """:func:`roi_masks` of the ROI file ``path`` (``registration``: an imaging → camera file, or none)."""
    from holostim.interop.rois import read_rois

    reg = Registration.load(registration) if registration is not None else None
    return roi_masks(read_rois(path, format), shape, reg)


def roi_masks(rois: ROISet, shape: tuple[int, int], registration: Registration | None = None,
              ) -> dict[int, np.ndarray]:
    """``{target id: bool mask of shape (h, w)}`` of every ROI in ``rois``, on the camera (see above).

    Raises
    ------
    InteropError
        An ROI with neither footprint nor outline, or one with no pixel on the camera.
    """
    h, w = int(shape[0]), int(shape[1])
    affines = None if registration is None else (np.asarray(registration.matrix, float),
                                                  np.asarray(registration.inverse(), float))
    out: dict[int, np.ndarray] = {}
    for r in rois.rois:
        mask = _camera_mask(r, (h, w), affines)
        if not mask.any():
            raise InteropError(f"{rois.source}: ROI {r.id} ({r.x:.1f}, {r.y:.1f}) has no pixel on the "
                               f"{w}×{h} camera; check the registration or drop the ROI")
        out[r.id + ID_OFFSET] = mask
    return out


def _camera_mask(r: ROI, shape: tuple[int, int], affines: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    h, w = shape
    if r.footprint is not None:
        xpix, ypix, weights = (np.asarray(a) for a in r.footprint)
        keep = np.asarray(weights, float) > 0
        xs, ys = np.asarray(xpix)[keep].astype(int), np.asarray(ypix)[keep].astype(int)
        if not len(xs):
            return np.zeros(shape, bool)
        x0, y0 = int(xs.min()), int(ys.min())
        local = np.zeros((int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1), bool)
        local[ys - y0, xs - x0] = True

        def lookup(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            j, i = np.floor(x + 0.5).astype(int) - x0, np.floor(y + 0.5).astype(int) - y0
            ok = (i >= 0) & (i < local.shape[0]) & (j >= 0) & (j < local.shape[1])
            hit = np.zeros(x.shape, bool)
            hit[ok] = local[i[ok], j[ok]]
            return hit

        corners = np.array([[x0 - 0.5, y0 - 0.5], [xs.max() + 0.5, y0 - 0.5], [x0 - 0.5, ys.max() + 0.5],
                            [xs.max() + 0.5, ys.max() + 0.5]], float)
    elif r.outline is not None:
        poly = np.asarray(r.outline, float)

        def lookup(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return inside_polygon(poly, np.column_stack([x.ravel(), y.ravel()])).reshape(x.shape)

        corners = np.array([[poly[:, 0].min(), poly[:, 1].min()], [poly[:, 0].max(), poly[:, 1].min()],
                            [poly[:, 0].min(), poly[:, 1].max()], [poly[:, 0].max(), poly[:, 1].max()]])
    else:
        raise InteropError(f"ROI {r.id} has neither pixels nor an outline: it cannot be read out as a mask")
    if affines is not None:  # the box in camera px: the imaging box's corners mapped forward
        fwd, inverse = affines
        corners = corners @ fwd[:, :2].T + fwd[:, 2]
    x_lo, y_lo = np.floor(corners.min(axis=0)).astype(int) - 1
    x_hi, y_hi = np.ceil(corners.max(axis=0)).astype(int) + 1
    x_lo, y_lo, x_hi, y_hi = max(0, x_lo), max(0, y_lo), min(w - 1, x_hi), min(h - 1, y_hi)
    mask = np.zeros(shape, bool)
    if x_lo > x_hi or y_lo > y_hi:
        return mask
    yy, xx = np.mgrid[y_lo:y_hi + 1, x_lo:x_hi + 1].astype(float)
    if affines is not None:  # each camera pixel centre, back in the imaging frame
        xx, yy = (inverse[0, 0] * xx + inverse[0, 1] * yy + inverse[0, 2],
                  inverse[1, 0] * xx + inverse[1, 1] * yy + inverse[1, 2])
    mask[y_lo:y_hi + 1, x_lo:x_hi + 1] = lookup(xx, yy)
    return mask


def polygon_mask(outline: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The camera pixels whose centres lie inside ``outline`` (camera px ``(x, y)``), as a bool mask."""
    poly = np.asarray(outline, float)
    h, w = int(shape[0]), int(shape[1])
    x_lo, y_lo = np.maximum(np.floor(poly.min(axis=0)).astype(int), 0)
    x_hi, y_hi = np.minimum(np.ceil(poly.max(axis=0)).astype(int), [w - 1, h - 1])
    mask = np.zeros((h, w), bool)
    if x_lo > x_hi or y_lo > y_hi:
        return mask
    yy, xx = np.mgrid[y_lo:y_hi + 1, x_lo:x_hi + 1].astype(float)
    inside = inside_polygon(poly, np.column_stack([xx.ravel(), yy.ravel()]))
    mask[y_lo:y_hi + 1, x_lo:x_hi + 1] = inside.reshape(xx.shape)
    return mask


def inside_polygon(poly: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Whether each point ``(x, y)`` lies inside the closed polygon ``poly`` (even-odd rule), vectorised."""
    px, py = np.asarray(poly, float).T
    qx, qy = np.roll(px, -1), np.roll(py, -1)
    x, y = np.asarray(xy, float).T
    inside = np.zeros(len(x), bool)
    for x1, y1, x2, y2 in zip(px, py, qx, qy, strict=True):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < at)
    return inside
