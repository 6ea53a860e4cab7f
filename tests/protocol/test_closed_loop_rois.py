"""The closed loop reads out the ROIs' real pixel masks: an ImageJ RoiSet.zip (written here by roifile),
a footprint, through a registration; and on the simulated rig, a rule on an imported ROI lights B.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_closed_loop import A_DRIVES_B, rig, start, targets_on_cells  # noqa: F401

from holostim.interop.errors import InteropError
from holostim.interop.masks import inside_polygon, masks_from_file, roi_masks
from holostim.interop.model import ROI, ROISet
from holostim.interop.registration import Registration
from holostim.protocol import ProtocolFileError, load_protocol, parse_protocol
from holostim.protocol.closed_loop.readout import RoiSet
from holostim.protocol.closed_loop.run import ClosedLoopRun
from holostim.protocol.errors import ProtocolError
from holostim.session import Session

roifile = pytest.importorskip("roifile")


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def rect(left, top, right, bottom, name="r"):
    return roifile.ImagejRoi(roitype=roifile.ROI_TYPE.RECT, left=left, top=top, right=right, bottom=bottom,
                             name=name)


def test_an_imagej_rectangle_is_exactly_its_pixels_and_a_registration_maps_every_camera_pixel(tmp_path):
    zip_path = tmp_path / "RoiSet.zip"
    roifile.roiwrite(zip_path, [rect(10, 20, 16, 23), rect(40, 4, 44, 12, "tall")])
    masks = masks_from_file(zip_path, (64, 80))
    assert sorted(masks) == [1, 2]  # ids: position in the zip + 1, as for its targets
    want = np.zeros((64, 80), bool)
    want[20:23, 10:16] = True  # ImageJ corners (10, 20)-(16, 23): pixel columns 10..15, rows 20..22
    assert np.array_equal(masks[1], want)
    assert masks[2].sum() == 4 * 8 and masks[2][4:12, 40:44].all()
    # imaging → camera: x' = 2x + 5.3, y' = 2y + 3.2; camera pixel centres whose image falls inside
    reg = Registration(matrix=np.array([[2.0, 0, 5.3], [0, 2.0, 3.2]]), residual_px=math.nan)
    (m,) = roi_masks(ROISet(rois=(_read(zip_path)[0],), image_shape=None, source=zip_path, format="imagej"),
                     (64, 80), reg).values()
    want = np.zeros((64, 80), bool)
    want[43:49, 25:37] = True  # 9.5 < (x - 5.3)/2 < 15.5, 19.5 < (y - 3.2)/2 < 22.5
    assert np.array_equal(m, want)


def _read(path: Path):
    from holostim.interop.rois import read_rois

    return read_rois(path).rois


def test_a_footprint_is_its_pixels_and_an_roi_off_the_camera_is_one_line(tmp_path):
    xs, ys = np.array([3, 4, 5, 5, 6]), np.array([7, 7, 7, 8, 9])  # an L, not a disc
    roi = ROI(id=4, x=4.6, y=7.6, npix=5, footprint=(xs, ys, np.ones(5)))
    one = ROISet(rois=(roi,), image_shape=None, source=tmp_path, format="suite2p")
    (m,) = roi_masks(one, (16, 16)).values()
    assert set(zip(*np.nonzero(m), strict=True)) == set(zip(ys, xs, strict=True))
    far = ROI(id=0, x=500, y=500, npix=1, footprint=(np.array([500]), np.array([500]), np.ones(1)))
    with pytest.raises(InteropError, match="ROI 0 .* has no pixel on the 16×16 camera"):
        roi_masks(ROISet(rois=(far,), image_shape=None, source=tmp_path, format="suite2p"), (16, 16))


def test_the_even_odd_rule_agrees_with_a_triangles_area():
    tri = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 30.0]])
    yy, xx = np.mgrid[0:30, 0:40] + 0.25  # off the edges: no ties
    inside = inside_polygon(tri, np.column_stack([xx.ravel(), yy.ravel()]))
    assert abs(inside.sum() - 600) <= 40  # the area ± the edge's pixels
    assert np.array_equal(inside, (xx / 40 + yy / 30 < 1).ravel())


def test_the_readout_averages_the_real_pixels_not_a_disc_around_their_centroid():
    image = np.zeros((32, 32), np.float32)
    mask = np.zeros((32, 32), bool)
    mask[10:12, 4:24] = True  # a thin, long cell: a disc at its centroid would read mostly background
    image[mask] = 100.0
    real = RoiSet([mask], [1], ring_px=2)
    disc = RoiSet.discs(np.array([[13.5, 10.5]]), 6.0, (32, 32), [1], ring_px=2)
    assert real.signals(image, neuropil_factor=0.0)[0] == pytest.approx(100.0)
    assert disc.signals(image, neuropil_factor=0.0)[0] < 40.0


GOOD = """\
version: 1
name: imported
patterns:
  b: {ids: [2]}
closed_loop:
  duration_ms: 5000
  rois: {file: RoiSet.zip}
  rules:
    - {name: r, when: {roi: 1, dff_above: 0.2}, do: {show: b, duration_ms: 10}}
"""


def test_the_file_keys_are_checked_at_their_line(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(GOOD)
    with pytest.raises(ProtocolFileError, match=r"p.yaml:7: closed_loop.rois.file: ROI file .* does not"):
        load_protocol(p)
    with pytest.raises(ProtocolFileError, match="closed_loop.rois: registration is for ROIs read from a"):
        parse_protocol(GOOD.replace("{file: RoiSet.zip}", "{registration: reg.yaml}").replace(
            "reg.yaml", str(p)), file="p.yaml")


@pytest.mark.parametrize(("rois", "where"), [
    ("{source: file}", "closed_loop.rois: source: file needs file:"),
    ("{source: targets, file: p.yaml}", "closed_loop.rois: source: targets reads no file"),
    ("{source: drawn}", "closed_loop.rois.source"),
])
def test_the_roi_source_is_checked(tmp_path, rois, where):
    (tmp_path / "p.yaml").write_text(GOOD.replace("{file: RoiSet.zip}", rois))
    with pytest.raises(ProtocolFileError, match=where):
        load_protocol(tmp_path / "p.yaml")


def test_imported_rois_need_the_gui_or_masks(rig):  # noqa: F811
    proto = parse_protocol(GOOD.replace("{file: RoiSet.zip}", "{source: imported}"))
    assert proto.closed_loop.rois.kind == "imported"
    with Session.open(rig) as s:
        s.targets = targets_on_cells(s)
        with pytest.raises(ProtocolError, match="source: imported names the ROIs imported in the GUI"):
            ClosedLoopRun(s, proto).prepare()


def test_a_closed_loop_on_imported_masks_lights_b_when_a_fires(rig, tmp_path):  # noqa: F811
    with Session.open(rig) as s:
        s.targets = targets_on_cells(s)
        pos = s.camera.neuron_positions
        # ImageJ rectangles (pixel corners) of 9 × 7 px around cells A and B, in camera px (no registration)
        rois = [rect(int(pos[i, 0]) - 4, int(pos[i, 1]) - 3, int(pos[i, 0]) + 5, int(pos[i, 1]) + 4, f"c{i}")
                for i in (s.cell_a, s.cell_b)]
        roifile.roiwrite(tmp_path / "RoiSet.zip", rois)
        (tmp_path / "p.yaml").write_text(GOOD.replace("dff_above: 0.2", "dff_above: 0.1").replace(
            "duration_ms: 5000", "duration_ms: 120000").replace(  # A's decay may cross again: once here
            "duration_ms: 10}}", "duration_ms: 10}, refractory_ms: 5000}"))
        proto = load_protocol(tmp_path / "p.yaml")
        with pytest.raises(ProtocolError, match="closed_loop.rois.file: the masks of 'RoiSet.zip' are"):
            ClosedLoopRun(s, proto).prepare()
        masks = masks_from_file(proto.closed_loop.rois.file, tuple(s.camera.shape))
        run = ClosedLoopRun(s, proto, masks=masks)
        run.prepare()
        assert [m.sum() for m in run.rois.masks] == [63, 63]  # the rectangles, not 6 px discs (113 px)
        assert all(np.array_equal(a, masks[i]) for a, i in zip(run.rois.masks, (1, 2), strict=True))
        start(s, run, [0.3], until_actions=1)
        assert run.run() == ("completed", "")
        spikes = list(s.camera.network.spikes)
    shown = [a for a in run.actions if a.outcome == "shown"]
    assert len(shown) == 1 and shown[0].decision.roi == 1
    assert any(sp.neuron == s.cell_b and sp.cause == "opsin" for sp in spikes)
    assert A_DRIVES_B[0]["do"]["show"] == "b"
