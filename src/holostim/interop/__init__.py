"""Interop with neuroscience tools: analysis ROIs as holostim targets.

ROIs from suite2p, CaImAn, ImageJ/Fiji and NWB become targets, registered from the imaging frame to the
camera.

The room sits above the session (it makes :class:`~holostim.session.result.Target` lists and reuses
the calibration's affine fit) and below the GUI and CLI, its only users. Its SDKs (``h5py``,
``roifile``; the ``[interop]`` extra) are imported only inside the reader that needs them, when it runs.
"""

from __future__ import annotations

from holostim.interop.errors import InteropError
from holostim.interop.registration import Registration, fit_registration
from holostim.interop.rois import ROI, ROISet, read_caiman, read_imagej, read_nwb, read_rois, read_suite2p
from holostim.interop.targets import roi_id, to_targets

__all__ = ["ROI", "InteropError", "ROISet", "Registration", "fit_registration", "read_caiman", "read_imagej",
           "read_nwb", "read_rois", "read_suite2p", "roi_id", "to_targets"]
