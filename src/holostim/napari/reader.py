"""The napari reader contribution: ROI files (suite2p, CaImAn, ImageJ, NWB) open as Labels + Shapes.

napari offers every file matching the manifest's patterns to every reader, and ``.zip`` and folders are
common, so this reader declines (``None``: napari asks the next one) a folder without suite2p's
``stat.npy`` and a ``.zip`` without ImageJ ``.roi`` members. An ``.hdf5``/``.nwb`` it claims and cannot
read raises holostim's one-line error naming the file, which napari shows.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from holostim.interop import InteropError, read_rois
from holostim.interop.rois import guess_format
from holostim.napari.layers import roi_layers

__all__ = ["get_reader"]


def get_reader(path: str | list[str]) -> Callable[[Any], list[tuple]] | None:
    """The ``get_reader`` hook of napari: a reader function for an ROI file, else ``None``."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    try:
        fmt = guess_format(p)
    except InteropError:
        return None
    if fmt == "suite2p" and not (p / "stat.npy").is_file() and p.name != "stat.npy":
        return None
    if p.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(p) as z:
                if not any(n.lower().endswith(".roi") for n in z.namelist()):
                    return None
        except (OSError, zipfile.BadZipFile):
            return None
    return _read


def _read(path: str | list[str]) -> list[tuple]:
    p = Path(path[0] if isinstance(path, list) else path)
    rois = read_rois(p)  # an InteropError here is napari's to show: the file is named and what is wrong
    return roi_layers(rois, p.parent.name if p.name == "stat.npy" else p.stem)
