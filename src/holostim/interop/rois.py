"""ROI import: the model, one reader per format, and :func:`read_rois`, which picks one by the path.

The formats are told apart by what a user points at, not by sniffing contents: a folder (or its
``stat.npy``) is suite2p's plane output, ``.hdf5``/``.h5`` is CaImAn's ``cnm.save`` file, ``.zip`` and
``.roi`` are ImageJ's, ``.nwb`` an NWB file's plane segmentation. Anything else gets one line listing
what is read.
"""

from __future__ import annotations

from pathlib import Path

from holostim.interop.caiman import read_caiman
from holostim.interop.errors import InteropError
from holostim.interop.imagej import read_imagej
from holostim.interop.model import ROI, ROISet
from holostim.interop.nwb import read_nwb
from holostim.interop.suite2p import read_suite2p

__all__ = ["FORMATS", "ROI", "ROISet", "read_caiman", "read_imagej", "read_nwb", "read_rois",
           "read_suite2p"]

FORMATS = ("suite2p", "caiman", "imagej", "nwb")


def read_rois(path: str | Path, format: str | None = None, plane: str | None = None) -> ROISet:
    """The ROIs in ``path``; ``format`` (one of :data:`FORMATS`) overrides the guess from the path.

    ``plane`` names the plane segmentation of an NWB file that has several (other formats refuse it).
    """
    p = Path(path).expanduser()
    if format is None:
        format = guess_format(p)
    readers = {"suite2p": read_suite2p, "caiman": read_caiman, "imagej": read_imagej}
    if format not in readers and format != "nwb":
        raise InteropError(f"unknown ROI format {format!r}; use one of {', '.join(FORMATS)}")
    if format == "nwb":
        return read_nwb(p, plane=plane)
    if plane is not None:
        raise InteropError(f"--plane {plane!r} names an NWB plane segmentation; {str(p)!r} is a {format} "
                           "file")
    return readers[format](p)


def guess_format(p: Path) -> str:
    """The format a path names (see the module docstring)."""
    if not p.exists():
        raise InteropError(f"ROI file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if p.is_dir() or p.name == "stat.npy":
        return "suite2p"
    if suffix in (".hdf5", ".h5"):
        return "caiman"
    if suffix in (".zip", ".roi"):
        return "imagej"
    if suffix == ".nwb":
        return "nwb"
    raise InteropError(f"cannot tell the ROI format of {str(p)!r}: name a suite2p plane folder (or its "
                       "stat.npy), a CaImAn results .hdf5, or an ImageJ RoiSet.zip / .roi, "
                       "or an NWB file (.nwb)")
