"""Imported ROIs → holostim targets (camera px), keeping the way back to the source ROI.

A target's ``id`` is the source ROI's 0-based id **plus one** (suite2p's ``stat.npy`` row, CaImAn's
``A`` column, ImageJ's position in the zip): target ids are positive (the GUI and the log number
targets from 1), and the stimulation log's target ids map back to the analysis with one subtraction.
"""

from __future__ import annotations

from holostim.checks import non_negative
from holostim.interop.errors import InteropError
from holostim.interop.model import ROISet
from holostim.interop.registration import Registration
from holostim.session.result import Target

__all__ = ["ID_OFFSET", "roi_id", "to_targets"]

ID_OFFSET = 1
"""target id = source ROI id + ID_OFFSET."""


def to_targets(rois: ROISet, registration: Registration | None = None, group: int = 0,
               weight: float = 1.0) -> list[Target]:
    """One target per ROI at its centroid, in ``group``.

    ``registration`` maps imaging → camera px; without one the imaging pixels are taken as camera pixels.
    """
    g = non_negative(group, "group", InteropError)
    if g != int(g):
        raise InteropError(f"group={group!r} must be a whole number ≥ 0")
    xy = rois.centroids()
    if registration is not None and len(xy):
        xy = registration.apply(xy)
    return [Target(x=float(x), y=float(y), weight=float(weight), group=int(g), id=r.id + ID_OFFSET)
            for r, (x, y) in zip(rois.rois, xy, strict=True)]


def roi_id(target_id: int) -> int:
    """The source ROI id of a target made by :func:`to_targets`."""
    return int(target_id) - ID_OFFSET
