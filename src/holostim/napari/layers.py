"""ROIs as napari layer data: a Labels image of the footprints and Shapes polygons of the outlines.

napari indexes arrays and places points as ``(row, col)``; holostim writes ``(x, y)`` = ``(col, row)``,
so every coordinate is flipped here, in one place. Labels are ROI id + 1 (0 is background, as napari
expects, and it equals the target id an ROI becomes); where footprints overlap the later ROI wins.
ImageJ ROIs have outlines but no pixels: their labels are the pixels whose centres the outline contains.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from holostim.interop import ROISet
from holostim.interop.targets import ID_OFFSET

__all__ = ["labels_image", "outline_polygons", "roi_layers"]


def _shape(rois: ROISet) -> tuple[int, int]:
    if rois.image_shape is not None:
        return rois.image_shape
    hi = np.zeros(2)
    for r in rois:
        pts = r.outline if r.outline is not None else np.array([[r.x, r.y]])
        hi = np.maximum(hi, np.max(pts, axis=0))
    return int(np.ceil(hi[1])) + 1, int(np.ceil(hi[0])) + 1


def labels_image(rois: ROISet, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``(height, width)`` int32 image: each ROI's pixels hold its id + 1."""
    h, w = shape or _shape(rois)
    out = np.zeros((h, w), dtype=np.int32)
    for r in rois:
        if r.footprint is not None:
            xs, ys = np.asarray(r.footprint[0], int), np.asarray(r.footprint[1], int)
        elif r.outline is not None:
            xs, ys = _inside(np.asarray(r.outline, float))
        else:
            continue
        ok = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        out[ys[ok], xs[ok]] = r.id + ID_OFFSET
    return out


def _inside(poly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel centres inside a polygon ``(x, y)`` (even-odd rule), over its bounding box."""
    x0, y0 = np.floor(poly.min(axis=0)).astype(int)
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
    gx, gy = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
    px, py = poly[:, 0], poly[:, 1]
    qx, qy = np.roll(px, -1), np.roll(py, -1)
    inside = np.zeros(gx.shape, dtype=bool)
    for ax, ay, bx, by in zip(px, py, qx, qy, strict=True):
        if ay == by:
            continue
        cross = (ay > gy) != (by > gy)
        at = ax + (gy - ay) * (bx - ax) / (by - ay)
        inside ^= cross & (gx < at)
    return gx[inside], gy[inside]


def outline_polygons(rois: ROISet) -> tuple[list[np.ndarray], dict[str, list[Any]]]:
    """The outlines as ``(K, 2)`` ``(row, col)`` polygons, and their features (ROI id, probability, cell)."""
    polys, feats = [], {"roi_id": [], "target_id": [], "probability": [], "is_cell": []}
    for r in rois:
        if r.outline is None or len(r.outline) < 3:
            continue
        polys.append(np.asarray(r.outline, float)[:, ::-1].copy())
        feats["roi_id"].append(r.id)
        feats["target_id"].append(r.id + ID_OFFSET)
        feats["probability"].append(np.nan if r.probability is None else float(r.probability))
        feats["is_cell"].append(bool(r.is_cell) if r.is_cell is not None else True)
    return polys, feats


def roi_layers(rois: ROISet, name: str) -> list[tuple[Any, dict[str, Any], str]]:
    """The layer-data tuples of an ROI set: ``[(labels, meta, "labels"), (polygons, meta, "shapes")]``."""
    polys, feats = outline_polygons(rois)
    layers: list[tuple[Any, dict[str, Any], str]] = [
        (labels_image(rois), {"name": f"{name} ROIs", "opacity": 0.4, "metadata": {
            "holostim_format": rois.format, "source": str(rois.source)}}, "labels")]
    if polys:
        layers.append((polys, {"name": f"{name} outlines", "shape_type": "polygon", "features": feats,
                               "edge_color": "cyan", "face_color": "transparent", "edge_width": 0.5},
                       "shapes"))
    return layers
