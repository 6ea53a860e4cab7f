"""NWB files with an ImageSegmentation, written with pynwb as an analysis pipeline writes them."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np


def write_segmentation(path: Path, planes: dict, shape=(40, 50)) -> Path:
    """``planes``: name -> (kind, rois); kind 'image_mask' (rois: (n, h, w) array), 'pixel_mask' or
    'voxel_mask' (rois: list of lists of (x, y[, z], w)); extra columns from a dict under key 'columns'."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.device import Device
    from pynwb.ophys import ImageSegmentation, OpticalChannel

    nwb = NWBFile(session_description="segmentation", identifier="seg-1",
                  session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    dev = nwb.create_device(name="Microscope") if hasattr(nwb, "create_device") else Device(name="Microscope")
    channel = OpticalChannel(name="green", description="GCaMP", emission_lambda=520.0)
    module = nwb.create_processing_module(name="ophys", description="segmentation")
    seg = ImageSegmentation(name="ImageSegmentation")
    module.add(seg)
    for k, (name, spec) in enumerate(planes.items()):
        kind, rois = spec[0], spec[1]
        columns = spec[2] if len(spec) > 2 else {}
        plane = nwb.create_imaging_plane(name=f"plane{k}", optical_channel=channel, description="plane",
                                         device=dev, excitation_lambda=920.0, imaging_rate=30.0,
                                         indicator="GCaMP6s", location="V1")
        ps = seg.create_plane_segmentation(name=name, description="cells", imaging_plane=plane)
        for cname in columns:
            ps.add_column(name=cname, description=cname)
        for i, roi in enumerate(rois):
            extra = {c: v[i] for c, v in columns.items()}
            if kind == "image_mask":
                ps.add_roi(image_mask=np.asarray(roi), **extra)
            else:
                ps.add_roi(**{kind: [tuple(p) for p in roi]}, **extra)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path
