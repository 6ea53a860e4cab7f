"""NWB ROI import: ImageSegmentation/PlaneSegmentation (image, pixel and voxel masks) → ROIs.

The files are written with pynwb in the test, as an analysis pipeline writes them; centroids are checked
against the weighted mean computed here by hand, ids against the table's row ids.
"""

from __future__ import annotations

import numpy as np
import pytest
from nwb_files import write_segmentation

from holostim.cli import main
from holostim.interop import InteropError, read_rois, to_targets
from holostim.session.target_files import load_targets

pytest.importorskip("pynwb")


def _blob(shape, cx, cy, r=3.0):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    w = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    w[w < 0.05] = 0
    return w


def test_image_mask_centroids_are_weighted_means(tmp_path):
    shape = (40, 50)
    masks = np.stack([_blob(shape, 10.3, 12.7), _blob(shape, 30.0, 25.5, 2.0)])
    masks[0, 12, 10] += 3.0  # a heavy pixel pulls the centroid: weighted, not the area centre
    f = write_segmentation(tmp_path / "seg.nwb", {"PlaneSegmentation": ("image_mask", masks)}, shape)
    rois = read_rois(f)
    assert rois.format == "nwb" and len(rois) == 2 and rois.image_shape == shape
    for roi, m in zip(rois, masks, strict=True):
        yy, xx = np.nonzero(m)
        w = m[yy, xx]
        assert roi.x == pytest.approx(np.sum(w * xx) / w.sum())
        assert roi.y == pytest.approx(np.sum(w * yy) / w.sum())
        assert roi.npix == len(xx)
        # the outline encloses every footprint pixel's centre and lies on pixel edges
        assert roi.outline is not None and np.all(np.mod(roi.outline, 1.0) == 0.5)
        assert roi.outline[:, 0].min() < xx.min() < xx.max() < roi.outline[:, 0].max()
    assert [r.id for r in rois] == [0, 1]


def test_pixel_mask_with_suite2p_iscell_column(tmp_path):
    a = [(5, 6, 1.0), (6, 6, 3.0), (5, 7, 1.0)]
    b = [(20, 30, 2.0), (21, 30, 2.0)]
    iscell = [[1.0, 0.9], [0.0, 0.2]]
    f = write_segmentation(tmp_path / "px.nwb", {"cells": ("pixel_mask", [a, b], {"iscell": iscell})})
    rois = read_rois(f)
    r0, r1 = rois.rois
    assert (r0.x, r0.y) == pytest.approx(((5 + 18 + 5) / 5, (6 + 18 + 7) / 5))
    assert (r1.x, r1.y) == pytest.approx((20.5, 30.0))
    assert (r0.is_cell, r0.probability, r1.is_cell, r1.probability) == (True, 0.9, False, 0.2)
    assert [r.id for r in rois.select(min_prob=0.5)] == [0]
    assert [t.id for t in to_targets(rois)] == [1, 2]


def test_voxel_mask_projects_depths_onto_the_plane(tmp_path):
    v = [(4, 4, 0, 1.0), (4, 4, 1, 1.0), (8, 4, 0, 2.0)]
    f = write_segmentation(tmp_path / "vx.nwb", {"vol": ("voxel_mask", [v])})
    (roi,) = read_rois(f).rois
    assert (roi.x, roi.y, roi.npix) == (pytest.approx(6.0), pytest.approx(4.0), 2)


def test_several_planes_need_a_name(tmp_path):
    m = _blob((40, 50), 10, 10)[None]
    f = write_segmentation(tmp_path / "two.nwb", {"PlaneA": ("image_mask", m),
                                                   "PlaneB": ("pixel_mask", [[(1, 2, 1.0)]])})
    with pytest.raises(InteropError, match=r"2 plane segmentations \(PlaneA, PlaneB\); name one"):
        read_rois(f)
    assert read_rois(f, plane="PlaneB").rois[0].x == 1.0
    with pytest.raises(InteropError, match="no plane segmentation 'PlaneC'; it has PlaneA, PlaneB"):
        read_rois(f, plane="PlaneC")


def test_bad_files_get_one_line(tmp_path):
    junk = tmp_path / "junk.nwb"
    junk.write_bytes(b"not an hdf5 file")
    with pytest.raises(InteropError, match="cannot be opened as NWB"):
        read_rois(junk)
    import datetime

    from pynwb import NWBHDF5IO, NWBFile
    empty = tmp_path / "empty.nwb"
    with NWBHDF5IO(str(empty), "w") as io:
        io.write(NWBFile(session_description="x", identifier="x",
                         session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)))
    with pytest.raises(InteropError, match="has no ImageSegmentation/PlaneSegmentation"):
        read_rois(empty)
    zero = write_segmentation(tmp_path / "zero.nwb", {"p": ("pixel_mask", [[(1, 2, 0.0)]])})
    with pytest.raises(InteropError, match="ROI id 0 has an empty footprint"):
        read_rois(zero)
    with pytest.raises(InteropError, match="names an NWB plane segmentation"):
        read_rois(tmp_path, format="imagej", plane="x")


def test_import_rois_cli_reads_nwb(tmp_path, capsys):
    m = np.stack([_blob((40, 50), 10, 10), _blob((40, 50), 30, 20)])
    f = write_segmentation(tmp_path / "seg.nwb", {"PlaneSegmentation": ("image_mask", m)})
    out = tmp_path / "t.csv"
    assert main(["import-rois", str(f), "--out", str(out)]) == 0
    assert "read 2 nwb ROIs" in capsys.readouterr().out
    targets = load_targets(out)
    assert [t["id"] for t in targets] == [1, 2]
    assert (targets[1]["x"], targets[1]["y"]) == (pytest.approx(30.0, abs=1e-6),
                                                  pytest.approx(20.0, abs=1e-6))
    assert main(["import-rois", str(tmp_path / "missing.nwb"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_volumetric_image_masks_are_projected(tmp_path):
    vol = np.zeros((1, 20, 30, 3))
    vol[0, 5, 10, 0] = vol[0, 5, 10, 2] = 1.0  # one pixel at two depths: weight 2
    vol[0, 5, 13, 1] = 1.0
    f = write_segmentation(tmp_path / "vol.nwb", {"vol": ("image_mask", vol)})
    (roi,) = read_rois(f).rois
    assert (roi.x, roi.y, roi.npix) == (pytest.approx(11.0), pytest.approx(5.0), 2)
