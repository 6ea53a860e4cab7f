"""Read ImageJ/Fiji ROIs (``RoiSet.zip`` from the ROI Manager, or one ``.roi``) with ``roifile``.

Area ROIs — polygon, freehand, traced, rectangle, oval — become ROIs at the centroid of their area
(the polygon's, not the mean of its vertices, which a densely traced side would pull towards itself),
with the outline kept for drawing. ImageJ puts pixel *corners* on integer coordinates (the rectangle
``left=10, right=20`` covers pixel columns 10..19, centred on 15); holostim puts pixel centres there,
so every coordinate is shifted by −0.5 (that rectangle's centre becomes 14.5, the mean of columns
10..19). Lines, points, angles and composite shapes have no single area and are refused by name.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from holostim.interop.errors import InteropError
from holostim.interop.model import ROI, ROISet
from holostim.interop.sdk import missing_sdk

__all__ = ["polygon_centroid", "read_imagej"]

HALF_PIXEL = 0.5
"""ImageJ's pixel-corner coordinates minus this are holostim's pixel-centre coordinates."""


def read_imagej(path: str | Path) -> ROISet:
    """The area ROIs of a Fiji ``RoiSet.zip`` or ``.roi`` file."""
    try:
        import roifile  # the [interop] extra; only when an ImageJ file is read
    except ImportError:
        raise missing_sdk("roifile", "ImageJ ROI files") from None
    p = Path(path)
    what = f"ImageJ ROI file {str(p)!r}"
    if not p.is_file():
        raise InteropError(f"{what} does not exist")
    try:
        read = roifile.roiread(p)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, IndexError, KeyError) as exc:
        raise InteropError(f"{what} cannot be read as ImageJ ROIs ({' '.join(str(exc).split())})") from None
    items = read if isinstance(read, list) else [read]
    if not items:
        raise InteropError(f"{what} holds no ROIs")
    area = {roifile.ROI_TYPE.POLYGON, roifile.ROI_TYPE.FREEHAND, roifile.ROI_TYPE.TRACED,
            roifile.ROI_TYPE.RECT, roifile.ROI_TYPE.OVAL}
    rois = [_roi(i, r, what, area) for i, r in enumerate(items)]
    return ROISet(rois=tuple(rois), image_shape=None, source=p, format="imagej")


def _roi(i: int, r: Any, what: str, area: set[Any]) -> ROI:
    label = f"ROI {i}" + (f" {r.name!r}" if r.name else "")
    if r.composite or r.roitype not in area:
        kind = "composite shape" if r.composite else getattr(r.roitype, "name", str(r.roitype)).lower()
        raise InteropError(f"{what}: {label} is a {kind} ROI; only areas (polygon, freehand, traced, "
                           "rectangle, oval) have a centre to stimulate")
    try:
        xy = np.asarray(r.coordinates(), dtype=np.float64)
    except (ValueError, TypeError, IndexError) as exc:
        raise InteropError(f"{what}: {label} has unreadable coordinates ({exc})") from None
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) < 3 or not np.all(np.isfinite(xy)):
        raise InteropError(f"{what}: {label} needs at least 3 finite vertices, got {xy.shape}")
    xy = xy - HALF_PIXEL
    try:
        cx, cy, a = polygon_centroid(xy)
    except ValueError:
        raise InteropError(f"{what}: {label} encloses no area (its vertices lie on a line)") from None
    return ROI(id=i, x=cx, y=cy, npix=int(round(a)), outline=xy, name=r.name or None)


def polygon_centroid(xy: np.ndarray) -> tuple[float, float, float]:
    """Centroid ``(x, y)`` and area of the closed polygon ``xy`` (shoelace; either winding).

    Raises ``ValueError`` for a polygon without area.
    """
    x, y = xy[:, 0], xy[:, 1]
    x0, y0 = x.mean(), y.mean()  # centred first: no cancellation far from the origin
    x, y = x - x0, y - y0
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    a = cross.sum() / 2
    if abs(a) <= 1e-12 * max(1.0, float(np.ptp(x) * np.ptp(y))):
        raise ValueError("the polygon has no area")
    cx = ((x + xn) * cross).sum() / (6 * a)
    cy = ((y + yn) * cross).sum() / (6 * a)
    return float(cx + x0), float(cy + y0), float(abs(a))
