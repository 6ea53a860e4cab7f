"""Writers of ROI files exactly as the tools write them, for the interop tests.

suite2p: ``np.save`` of an object array of per-ROI dicts with suite2p 0.14's keys and dtypes (``ypix``,
``xpix`` int32, ``lam`` float32, ``med`` a list of two float64, ``npix`` int, booleans for
``soma_crop``/``overlap``, ...), ``iscell.npy`` float64 (n, 2), ``ops.npy`` a pickled dict. CaImAn: the
HDF5 layout of ``save_dict_to_hdf5`` (a CSC matrix as data/indices/indptr/shape, ``None`` as the string
``'NoneType'``, dims as an array).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest


def suite2p_stat(ypix, xpix, lam):
    """One ROI dict as suite2p's detection + roi_stats leave it."""
    ypix, xpix = np.asarray(ypix, np.int32), np.asarray(xpix, np.int32)
    n = len(ypix)
    return {
        "ypix": ypix, "xpix": xpix, "lam": np.asarray(lam, np.float32),
        "med": [np.float64(np.median(ypix)), np.float64(np.median(xpix))],
        "footprint": 1.0, "mrs": 0.9, "mrs0": 1.1, "compact": 1.05, "solidity": 0.97,
        "npix": n, "npix_soma": n, "soma_crop": np.ones(n, bool), "overlap": np.zeros(n, bool),
        "radius": 3.2, "aspect_ratio": 1.1, "npix_norm_no_crop": 1.0, "npix_norm": np.float32(1.0),
        "skew": np.float32(2.1), "std": np.float32(30.0), "neuropil_mask": np.arange(5, dtype=np.int32),
    }


def write_suite2p(folder: Path, stats, iscell=None, shape=(64, 80), ops_extra=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stat = np.empty(len(stats), dtype=object)
    stat[:] = list(stats)
    np.save(folder / "stat.npy", stat)
    if iscell is not None:
        np.save(folder / "iscell.npy", np.asarray(iscell, dtype=np.float64))
    if shape is not None:
        ops = {"Ly": shape[0], "Lx": shape[1], "meanImg": np.ones(shape, np.float32), "nframes": 100,
               "fs": 30.0, "tau": 1.0, "date_proc": datetime.datetime.now(), "save_path": str(folder),
               "filelist": ["a.tif", "b.tif"], "xrange": np.array([0, shape[1]]), **(ops_extra or {})}
        np.save(folder / "ops.npy", ops)
    return folder


def write_caiman(path: Path, images, idx_components=None, cnn_preds=None, dims_key="estimates/dims") -> Path:
    """``images`` (K, d1, d2) footprints, stored as CaImAn does: columns of A flattened in Fortran order."""
    import h5py
    import scipy.sparse

    images = np.asarray(images, dtype=np.float32)
    dims = images.shape[1:]
    a = scipy.sparse.csc_matrix(np.stack([im.ravel(order="F") for im in images], axis=1))
    with h5py.File(path, "w") as f:
        f["estimates/A/data"] = a.data
        f["estimates/A/indptr"] = a.indptr
        f["estimates/A/indices"] = a.indices
        f["estimates/A/shape"] = np.array(a.shape)
        f[dims_key] = np.array(dims)
        f["estimates/idx_components"] = "NoneType" if idx_components is None else np.asarray(idx_components)
        f["estimates/cnn_preds"] = "NoneType" if cnn_preds is None else np.asarray(cnn_preds, np.float64)
        f["estimates/C"] = np.zeros((len(images), 10))
        f["params/data/fr"] = 30.0
        f["dview"] = "NoneType"
    return path


@pytest.fixture
def suite2p_writer():
    return write_suite2p


@pytest.fixture
def stat_of():
    return suite2p_stat


@pytest.fixture
def caiman_writer():
    return write_caiman
