"""Read a suite2p plane folder (``stat.npy``, ``iscell.npy``, ``ops.npy``) as an :class:`ROISet`.

suite2p writes, per plane (``suite2p/plane0/``): ``stat.npy``, an object array with one dict per ROI
(``ypix``, ``xpix`` integer pixel indices, ``lam`` their float32 weights, ``med`` ``[y, x]`` medians,
``npix``, and version-dependent extras — ``footprint``, ``compact``, ``soma_crop``, ``overlap``, ...);
``iscell.npy``, an ``(n, 2)`` float array (flag, classifier probability); ``ops.npy``, a pickled dict
with the frame size ``Ly``, ``Lx`` and the ``meanImg`` (suite2p 1.0 splits it: ``db.npy`` holds ``Ly``,
``Lx`` and ``meanImg``, or ``reg_outputs.npy`` the ``meanImg``). Only ``ypix``, ``xpix`` and ``lam`` are
needed (the centroid is the ``lam``-weighted mean, not ``med``, which can fall outside a crescent-shaped ROI);
extra keys of other suite2p versions are ignored, and a missing or malformed one is named with its ROI.
``iscell.npy`` and ``ops.npy`` are optional: without them the ROIs have no verdict or frame size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from holostim.interop.errors import InteropError
from holostim.interop.model import ROI, Footprint, ROISet
from holostim.interop.npy import load_npy
from holostim.interop.outline import mask_outline

__all__ = ["read_suite2p"]


def read_suite2p(path: str | Path) -> ROISet:
    """The ROIs of a suite2p plane folder (or of its ``stat.npy``)."""
    p = Path(path)
    folder = p.parent if p.is_file() else p
    stat_path = folder / "stat.npy"
    if not stat_path.is_file():
        planes = sorted(q.name for q in folder.glob("plane*") if (q / "stat.npy").is_file())
        hint = (f"; it holds the planes {', '.join(planes)}: name one, e.g. {str(folder / planes[0])!r}"
                if planes else "; name a suite2p plane folder (suite2p/plane0)")
        raise InteropError(f"suite2p folder {str(folder)!r} has no stat.npy{hint}")
    what = f"suite2p {str(stat_path)!r}"
    stat = load_npy(stat_path, what)
    if stat.dtype != object or stat.ndim != 1:
        raise InteropError(f"{what} must be a 1-D object array of per-ROI dicts (as suite2p saves it), got "
                           f"{stat.dtype} of shape {stat.shape}")
    if len(stat) == 0:
        raise InteropError(f"{what} holds no ROIs")
    shape, mean_image = _ops(folder / "ops.npy" if (folder / "ops.npy").is_file() else folder / "db.npy")
    flags, probs = _iscell(folder / "iscell.npy", len(stat))
    rois = []
    for i, s in enumerate(stat):
        x, y, footprint = _centroid(s, i, what, shape)
        rois.append(ROI(id=i, x=x, y=y, npix=len(footprint[0]), footprint=footprint,
                        outline=mask_outline(footprint[0], footprint[1]),
                        probability=None if probs is None else float(probs[i]),
                        is_cell=None if flags is None else bool(flags[i])))
    return ROISet(rois=tuple(rois), image_shape=shape, source=folder, format="suite2p", mean_image=mean_image)


def _centroid(s: Any, i: int, what: str, shape: tuple[int, int] | None) -> tuple[float, float, Footprint]:
    if not isinstance(s, dict):
        raise InteropError(f"{what}: ROI {i} is a {type(s).__name__}, not a dict of ypix, xpix, lam")
    missing = [k for k in ("ypix", "xpix", "lam") if k not in s]
    if missing:
        keys = ", ".join(map(str, s))[:120]
        raise InteropError(f"{what}: ROI {i} has no {', '.join(missing)} (keys: {keys})")
    ypix, xpix, lam = (np.asarray(s[k]) for k in ("ypix", "xpix", "lam"))
    for key, a in (("ypix", ypix), ("xpix", xpix)):
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise InteropError(f"{what}: ROI {i} {key} must be a 1-D integer array, got {a.dtype} of shape "
                               f"{a.shape}")
    if not (len(ypix) == len(xpix) == len(lam)) or lam.ndim != 1:
        raise InteropError(f"{what}: ROI {i} has {len(ypix)} ypix, {len(xpix)} xpix and {lam.shape} lam; "
                           "they must be three arrays of the same length")
    if len(ypix) == 0:
        raise InteropError(f"{what}: ROI {i} has no pixels")
    if lam.dtype.kind not in "fiu" or not np.all(np.isfinite(lam)) or np.any(lam < 0) or lam.sum() <= 0:
        raise InteropError(f"{what}: ROI {i} lam must be finite weights ≥ 0 with a positive sum")
    if ypix.min() < 0 or xpix.min() < 0 or (shape is not None and (ypix.max() >= shape[0]
                                                                   or xpix.max() >= shape[1])):
        frame = "" if shape is None else f" of the {shape[0]} × {shape[1]} frame (ops Ly, Lx)"
        raise InteropError(f"{what}: ROI {i} has pixels outside{frame or ' the image'} (ypix "
                           f"{ypix.min()}..{ypix.max()}, xpix {xpix.min()}..{xpix.max()})")
    npix = s.get("npix", len(ypix))
    if isinstance(npix, (bool, np.bool_)) or not isinstance(npix, (int, np.integer)) or npix != len(ypix):
        raise InteropError(f"{what}: ROI {i} says npix={npix!r} but has {len(ypix)} pixels")
    w = lam.astype(np.float64)
    footprint = (xpix.astype(np.int64), ypix.astype(np.int64), w)
    return float(w @ xpix / w.sum()), float(w @ ypix / w.sum()), footprint


def _ops(path: Path) -> tuple[tuple[int, int] | None, np.ndarray | None]:
    if not path.is_file():
        return None, None
    what = f"suite2p {str(path)!r}"
    ops = _dict(path, what)
    try:
        shape = (int(ops["Ly"]), int(ops["Lx"]))
    except KeyError as exc:
        raise InteropError(f"{what} has no {exc.args[0]!r} (the frame size)") from None
    except (TypeError, ValueError):
        raise InteropError(f"{what}: Ly={ops.get('Ly')!r}, Lx={ops.get('Lx')!r} must be integers") from None
    if min(shape) <= 0:
        raise InteropError(f"{what}: Ly, Lx = {shape} must be positive")
    mean = ops.get("meanImg")
    if mean is None and (path.parent / "reg_outputs.npy").is_file():
        reg = path.parent / "reg_outputs.npy"
        mean = _dict(reg, f"suite2p {str(reg)!r}").get("meanImg")
    if mean is not None:
        mean = np.asarray(mean)
        if mean.shape != shape:
            raise InteropError(f"{what}: meanImg has shape {mean.shape}, not (Ly, Lx) = {shape}")
    return shape, mean


def _dict(path: Path, what: str) -> dict[Any, Any]:
    ops = load_npy(path, what, lenient=True)
    ops = ops.item() if ops.dtype == object and ops.shape == () else ops
    if not isinstance(ops, dict):
        raise InteropError(f"{what} must hold the dict suite2p saves, got {type(ops).__name__}")
    return ops


def _iscell(path: Path, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not path.is_file():
        return None, None
    what = f"suite2p {str(path)!r}"
    a = load_npy(path, what)
    if a.dtype.kind not in "fiub" or a.ndim != 2 or a.shape[1] != 2:
        raise InteropError(f"{what} must be an (n, 2) array of (flag, probability), got {a.dtype} {a.shape}")
    if a.shape[0] != n:
        raise InteropError(f"{what} has {a.shape[0]} rows but stat.npy has {n} ROIs")
    a = a.astype(np.float64)
    if not np.all(np.isin(a[:, 0], (0.0, 1.0))):
        raise InteropError(f"{what}: the flag column must be 0 or 1")
    if not np.all((a[:, 1] >= 0) & (a[:, 1] <= 1)):
        raise InteropError(f"{what}: the probability column must lie in [0, 1]")
    return a[:, 0] > 0.5, a[:, 1]
