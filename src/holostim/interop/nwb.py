"""The ROIs of an NWB file's ``ImageSegmentation`` (its ``PlaneSegmentation`` tables) as an :class:`ROISet`.

NWB is how labs share a segmentation (suite2p, CaImAn and the DANDI archive all write it): an
``ImageSegmentation`` holds one ``PlaneSegmentation`` per imaging plane, each a table with one row per
ROI and its footprint in one of three forms — ``image_mask`` (a dense ``(n, height, width)`` stack of
weights), ``pixel_mask`` (ragged ``(x, y, weight)`` rows) or ``voxel_mask`` (``(x, y, z, weight)``,
projected onto ``(x, y)`` here: targets are chosen on the camera's plane). Each row becomes an ROI at its
weight-weighted centroid, with the row's ``id`` as the source id and the outline of its pixels. A file
with several plane segmentations needs one named (``plane=``); the error lists them.

NWB's pixel masks give ``x`` as the column and ``y`` as the row, as holostim does, and ``image_mask``
is indexed ``[roi, y, x]``, so neither needs a flip. A suite2p-written ``iscell`` column (flag,
probability) or CaImAn-style ``accepted`` column is read as the verdict where present.

pynwb is imported here only, when a file is read (the ``[nwb]`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from holostim.interop.errors import InteropError
from holostim.interop.model import ROI, ROISet
from holostim.interop.outline import mask_outline

__all__ = ["plane_segmentations", "read_nwb"]


def _pynwb() -> Any:
    try:
        import pynwb
    except ImportError:
        raise InteropError("reading NWB files needs the Python package 'pynwb', which is not installed: "
                           "pip install 'holostim[nwb]' (in a checkout: pip install -e .[nwb])") from None
    return pynwb


def plane_segmentations(nwbfile: Any) -> dict[str, Any]:
    """Every ``PlaneSegmentation`` of an open NWB file, by name (the name pynwb gives the table)."""
    from pynwb.ophys import PlaneSegmentation

    found: dict[str, Any] = {}
    for obj in nwbfile.objects.values():
        if isinstance(obj, PlaneSegmentation):
            found[obj.name] = obj
    return found


def read_nwb(path: str | Path, plane: str | None = None) -> ROISet:
    """The ROIs of the plane segmentation ``plane`` (needed only when the file has several)."""
    pynwb = _pynwb()
    p = Path(path)
    what = f"NWB file {str(p)!r}"
    if not p.is_file():
        raise InteropError(f"{what} does not exist")
    try:
        io = pynwb.NWBHDF5IO(str(p), mode="r", load_namespaces=True)
    except Exception as e:  # noqa: BLE001 - h5py/hdmf raise many types for a file that is not NWB
        raise InteropError(f"{what} cannot be opened as NWB (HDF5): {e}") from None
    with io:
        try:
            nwbfile = io.read()
        except Exception as e:  # noqa: BLE001
            raise InteropError(f"{what} is not a readable NWB file: {e}") from None
        tables = plane_segmentations(nwbfile)
        if not tables:
            raise InteropError(f"{what} has no ImageSegmentation/PlaneSegmentation (no ROIs to import)")
        if plane is None:
            if len(tables) > 1:
                names = ", ".join(sorted(tables))
                raise InteropError(f"{what} has {len(tables)} plane segmentations ({names}); "
                                   "name one (--plane NAME)")
            plane = next(iter(tables))
        if plane not in tables:
            names = ", ".join(sorted(tables))
            raise InteropError(f"{what} has no plane segmentation {plane!r}; it has {names}")
        return _read_table(tables[plane], p, f"{what}, plane segmentation {plane!r}")


def _read_table(ps: Any, path: Path, what: str) -> ROISet:
    n = len(ps.id)
    if n == 0:
        raise InteropError(f"{what} holds no ROIs")
    ids = [int(i) for i in ps.id[:]]
    cols = set(ps.colnames)
    shape: tuple[int, int] | None = None
    if "image_mask" in cols:
        # One ROI's mask at a time from the file (a stack of 1000 masks of 512² is 1 GB as float32).
        masks = getattr(ps["image_mask"], "data", ps["image_mask"])
        dims = tuple(np.shape(masks))
        if len(dims) not in (3, 4) or dims[0] != n:
            raise InteropError(f"{what}: image_mask must be (n_rois, height, width), got shape {dims}")
        shape = (int(dims[1]), int(dims[2]))
        footprints = []
        for k in range(n):
            m = np.asarray(masks[k], dtype=np.float64)
            if m.ndim == 3:  # (h, w, depth) volumes: projected onto the plane
                m = m.sum(axis=2)
            yy, xx = np.nonzero(m)
            footprints.append((xx.astype(np.int64), yy.astype(np.int64), m[yy, xx]))
    elif "pixel_mask" in cols or "voxel_mask" in cols:
        key = "pixel_mask" if "pixel_mask" in cols else "voxel_mask"
        # The whole ragged column at once (data + index): row by row, hdmf costs ~10 ms per ROI.
        index = ps[key + "_index"] if key + "_index" in ps else None
        flat = np.asarray(getattr(ps, key).data[:]) if index is None else np.asarray(index.target.data[:])
        ends = np.asarray(index.data[:], dtype=np.int64) if index is not None else np.array([len(flat)])
        if len(ends) != n:
            raise InteropError(f"{what}: {key} has {len(ends)} rows but the table has {n} ROIs")
        starts = np.concatenate([[0], ends[:-1]])
        footprints = [_ragged(flat[a:b], key, what, k)
                      for k, (a, b) in enumerate(zip(starts, ends, strict=True))]
    else:
        raise InteropError(f"{what} has no image_mask, pixel_mask or voxel_mask column (columns: "
                           f"{', '.join(sorted(cols)) or 'none'})")
    flags, probs = _verdicts(ps, cols, n)
    rois = []
    for k, (xpix, ypix, w) in enumerate(footprints):
        if len(xpix) == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise InteropError(f"{what}: ROI id {ids[k]} has an empty footprint or weights that are "
                               "negative, non-finite or all zero")
        x, y = float(np.sum(w * xpix) / w.sum()), float(np.sum(w * ypix) / w.sum())
        rois.append(ROI(id=ids[k], x=x, y=y, npix=len(xpix), outline=mask_outline(xpix, ypix),
                        footprint=(xpix, ypix, w),
                        probability=None if probs is None else float(probs[k]),
                        is_cell=None if flags is None else bool(flags[k])))
    return ROISet(rois=tuple(rois), image_shape=shape, source=path, format="nwb")


def _ragged(rows: Any, key: str, what: str, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y[, z], weight)`` rows → pixels; voxels at several depths of one pixel add up."""
    arr = (np.stack([rows[f] for f in rows.dtype.names], axis=-1).astype(np.float64)
           if getattr(rows, "dtype", None) is not None and rows.dtype.names
           else np.asarray([tuple(r) for r in rows], dtype=np.float64))
    width = 4 if key == "voxel_mask" else 3
    if arr.ndim != 2 or arr.shape[1] != width:
        raise InteropError(f"{what}: {key} of ROI row {k} must hold ({'x, y, z' if width == 4 else 'x, y'}, "
                           f"weight) entries, got shape {arr.shape}")
    xy = arr[:, :2]
    if np.any(xy != np.round(xy)) or np.any(xy < 0):
        raise InteropError(f"{what}: {key} of ROI row {k} has pixel indices that are not whole numbers ≥ 0")
    pix, inv = np.unique(xy.astype(np.int64), axis=0, return_inverse=True)
    weights = np.zeros(len(pix))
    np.add.at(weights, inv.ravel(), arr[:, -1])
    return pix[:, 0], pix[:, 1], weights


def _verdicts(ps: Any, cols: set[str], n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    if "iscell" in cols:  # suite2p's NWB export: (flag, probability) per ROI
        a = np.asarray(ps["iscell"][:], dtype=np.float64).reshape(n, -1)
        return a[:, 0] > 0, (a[:, 1] if a.shape[1] > 1 else None)
    if "accepted" in cols:
        return np.asarray(ps["accepted"][:]).astype(bool).reshape(n), None
    return None, None
