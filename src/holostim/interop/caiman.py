"""Read a CaImAn results HDF5 (``cnm.save('results.hdf5')``) as an :class:`ROISet`, with h5py only.

CaImAn is not on PyPI, so its layout is read directly. ``CNMF.save`` writes the object's dict with
``save_dict_to_hdf5``: a scipy sparse matrix becomes a group of ``data``, ``indices``, ``indptr`` and
``shape`` (always converted to CSC), ``None`` becomes the string ``'NoneType'``, tuples such as
``dims`` become arrays. What this reader uses:

- ``estimates/A``: the spatial footprints, ``(d1·d2) × K``, one component per column (a dense 2-D
  dataset is accepted too);
- ``estimates/dims`` (else ``dims`` or ``params/data/dims``): the frame ``(d1, d2)``;
- ``estimates/idx_components``: the accepted components after ``evaluate_components`` (``'NoneType'``
  when never evaluated: then nothing is classified);
- ``estimates/cnn_preds``: the CNN classifier's probabilities, where it ran.

A column of ``A`` is a frame flattened in **Fortran order** (``A[:, k].reshape(dims, order='F')``), so
pixel index ``i`` is row ``y = i % d1``, column ``x = i // d1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from holostim.interop.errors import InteropError
from holostim.interop.model import ROI, ROISet
from holostim.interop.outline import mask_outline
from holostim.interop.sdk import missing_sdk

__all__ = ["read_caiman"]


def read_caiman(path: str | Path) -> ROISet:
    """The components of a CaImAn results file as ROIs at their footprint-weighted centroids."""
    try:
        import h5py  # the [interop] extra; only when a CaImAn file is read
    except ImportError:
        raise missing_sdk("h5py", "CaImAn results files") from None
    p = Path(path)
    what = f"CaImAn file {str(p)!r}"
    if not p.is_file():
        raise InteropError(f"{what} does not exist")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise InteropError(f"{what} is not an HDF5 file ({' '.join(str(exc).split())})") from None
    with f:
        if "estimates" not in f or "A" not in f["estimates"]:
            raise InteropError(f"{what} has no estimates/A: not a CaImAn results file (saved with cnm.save)")
        est = f["estimates"]
        dims = _dims(f, what, h5py)
        n_pixels = dims[0] * dims[1]
        columns = _columns(est["A"], n_pixels, what, h5py)
        k = len(columns)
        if k == 0:
            raise InteropError(f"{what}: estimates/A holds no components")
        accepted = _indices(est.get("idx_components"), k, what, "estimates/idx_components")
        probs = _probabilities(est.get("cnn_preds"), k, what)
    rois = []
    for j, (rows, vals) in enumerate(columns):
        if len(rows) == 0 or vals.sum() <= 0:
            raise InteropError(f"{what}: component {j} of estimates/A has an empty footprint")
        y, x = rows % dims[0], rows // dims[0]  # Fortran order over dims = (d1, d2)
        w = vals.astype(np.float64)
        rois.append(ROI(id=j, x=float(w @ x / w.sum()), y=float(w @ y / w.sum()),
                        npix=int(np.count_nonzero(w)), footprint=(x, y, w), outline=_outline(x, y, w),
                        probability=None if probs is None else float(probs[j]),
                        is_cell=None if accepted is None else j in accepted))
    return ROISet(rois=tuple(rois), image_shape=dims, source=p, format="caiman")


CONTOUR_ENERGY = 0.9
"""The outline encloses the brightest pixels holding this fraction of the footprint's energy (sum of
squares): CaImAn's own contour rule (``get_contours``, ``thr_method='nrg'``, ``thr=0.9``)."""


def _outline(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    order = np.argsort(w)[::-1]
    energy = np.cumsum(w[order] ** 2)
    n = int(np.searchsorted(energy, CONTOUR_ENERGY * energy[-1])) + 1
    keep = order[:n]
    return mask_outline(x[keep], y[keep])


def _read(node: Any) -> Any:
    value = node[()]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value


def _dims(f: Any, what: str, h5py: Any) -> tuple[int, int]:
    for key in ("estimates/dims", "dims", "params/data/dims"):
        if key in f and isinstance(f[key], h5py.Dataset):
            value = _read(f[key])
            if isinstance(value, str):
                continue  # 'NoneType': not set there
            d = np.asarray(value).ravel()
            if len(d) == 3:
                raise InteropError(f"{what}: {key} = {d.tolist()} is a volume; holostim imports 2-D planes")
            if len(d) != 2 or d.dtype.kind not in "iuf" or np.any(d <= 0) or np.any(d != np.round(d)):
                raise InteropError(f"{what}: {key} = {d.tolist()} must be two positive integers (d1, d2)")
            return int(d[0]), int(d[1])
    raise InteropError(f"{what} has no dims (estimates/dims): the frame size of the footprints is unknown")


def _columns(node: Any, n_pixels: int, what: str, h5py: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each component's (pixel indices, values), from the CSC group or a dense dataset."""
    if isinstance(node, h5py.Dataset):
        a = np.asarray(node[()])
        if a.ndim != 2 or a.shape[0] != n_pixels or a.dtype.kind not in "fiu":
            raise InteropError(f"{what}: estimates/A must be (d1·d2 = {n_pixels}) × K numbers, got {a.dtype} "
                               f"{a.shape}")
        _check_values(a, what)
        return [(np.flatnonzero(a[:, j]), a[np.flatnonzero(a[:, j]), j]) for j in range(a.shape[1])]
    missing = [k for k in ("data", "indices", "indptr", "shape") if k not in node]
    if missing:
        raise InteropError(f"{what}: estimates/A has no {', '.join(missing)} (a CSC matrix needs data, "
                           "indices, indptr and shape)")
    data, indices, indptr, shape = (np.asarray(node[k][()]) for k in ("data", "indices", "indptr", "shape"))
    if shape.shape != (2,) or shape.dtype.kind not in "iu":
        raise InteropError(f"{what}: estimates/A/shape must be two integers, got {shape.tolist()}")
    rows, k = int(shape[0]), int(shape[1])
    if rows != n_pixels:
        raise InteropError(f"{what}: estimates/A has {rows} rows but dims give {n_pixels} pixels")
    if indptr.ndim != 1 or len(indptr) != k + 1 or indptr.dtype.kind not in "iu" or indptr[0] != 0 \
            or np.any(np.diff(indptr.astype(np.int64)) < 0) or indptr[-1] != len(data) \
            or len(indices) != len(data):
        raise InteropError(f"{what}: estimates/A is not a valid CSC matrix (indptr must rise from 0 to "
                           f"len(data) = {len(data)} over {k} + 1 entries, indices as long as data)")
    if len(indices) and (indices.dtype.kind not in "iu" or indices.min() < 0 or indices.max() >= rows):
        raise InteropError(f"{what}: estimates/A/indices must be pixel indices 0..{rows - 1}")
    if data.dtype.kind not in "fiu":
        raise InteropError(f"{what}: estimates/A/data must be numbers, got {data.dtype}")
    _check_values(data, what)
    return [(indices[indptr[j]:indptr[j + 1]].astype(np.int64), data[indptr[j]:indptr[j + 1]])
            for j in range(k)]


def _check_values(a: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise InteropError(f"{what}: estimates/A must hold finite footprint weights ≥ 0")


def _indices(node: Any, k: int, what: str, key: str) -> set[int] | None:
    if node is None:
        return None
    value = _read(node)
    if isinstance(value, str):
        return None  # 'NoneType': the components were never evaluated
    a = np.asarray(value).ravel()
    if a.size and (a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= k):
        raise InteropError(f"{what}: {key} must be component indices 0..{k - 1}")
    return {int(i) for i in a}


def _probabilities(node: Any, k: int, what: str) -> np.ndarray | None:
    if node is None:
        return None
    value = _read(node)
    if isinstance(value, str):
        return None
    a = np.asarray(value, dtype=np.float64).ravel() if np.asarray(value).dtype.kind in "fiu" else None
    if a is None or a.size == 0:
        return None
    if len(a) != k or not np.all((a >= 0) & (a <= 1)):
        raise InteropError(f"{what}: estimates/cnn_preds must be {k} probabilities in [0, 1]")
    return a
