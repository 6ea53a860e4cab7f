"""ROI readers against files written as suite2p, CaImAn and ImageJ write them; centroids checked
against analytic ones."""

from __future__ import annotations

import numpy as np
import pytest
import roifile

from holostim.interop import InteropError, read_caiman, read_imagej, read_rois, read_suite2p

# --- suite2p -----------------------------------------------------------------------------------------

def test_suite2p_centroid_is_lam_weighted_and_keeps_iscell(tmp_path, suite2p_writer, stat_of):
    # ROI 0: a 2-pixel ROI with weights 1 and 3 -> centroid 3/4 of the way; ROI 1: a uniform 3x2 block.
    a = stat_of([10, 10], [20, 24], [1.0, 3.0])
    yy, xx = np.mgrid[30:33, 40:42]
    b = stat_of(yy.ravel(), xx.ravel(), np.ones(6))
    folder = suite2p_writer(tmp_path / "suite2p" / "plane0", [a, b], iscell=[[1, 0.93], [0, 0.12]])
    rois = read_rois(folder)
    assert rois.format == "suite2p" and rois.image_shape == (64, 80) and len(rois) == 2
    assert rois.mean_image.shape == (64, 80)
    r0, r1 = rois.rois
    assert (r0.id, r0.x, r0.y, r0.npix) == (0, pytest.approx(23.0), pytest.approx(10.0), 2)
    assert (r1.x, r1.y, r1.npix) == (pytest.approx(40.5), pytest.approx(31.0), 6)
    assert (r0.is_cell, r0.probability) == (True, pytest.approx(0.93))
    assert (r1.is_cell, r1.probability) == (False, pytest.approx(0.12))
    assert read_rois(folder / "stat.npy").centroids().tolist() == rois.centroids().tolist()
    xpix, ypix, w = r0.footprint
    assert xpix.tolist() == [20, 24] and ypix.tolist() == [10, 10] and w.tolist() == [1.0, 3.0]


def test_suite2p_selection_by_probability_and_flag(tmp_path, suite2p_writer, stat_of):
    stats = [stat_of([5], [5 + i], [1.0]) for i in range(4)]
    iscell = [[1, 0.9], [1, 0.4], [0, 0.6], [0, 0.1]]
    rois = read_suite2p(suite2p_writer(tmp_path / "p", stats, iscell=iscell))
    assert [r.id for r in rois.select(min_prob=0.5)] == [0, 2]
    assert [r.id for r in rois.select(cells_only=True)] == [0, 1]
    assert [r.id for r in rois.select(min_prob=0.5, cells_only=True)] == [0]
    with pytest.raises(InteropError, match="between 0 and 1"):
        rois.select(min_prob=1.5)


def test_suite2p_without_iscell_and_ops_has_no_verdict_or_shape(tmp_path, suite2p_writer, stat_of):
    rois = read_suite2p(suite2p_writer(tmp_path / "p", [stat_of([1], [2], [1.0])], shape=None))
    assert rois.image_shape is None and rois.rois[0].is_cell is None
    with pytest.raises(InteropError, match="no cell probabilities"):
        rois.select(min_prob=0.5)


def _message(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("case, expected", [
    ("missing_lam", "ROI 1 has no lam"),
    ("float_ypix", "ROI 0 ypix must be a 1-D integer array"),
    ("lengths", "same length"),
    ("outside", "outside of the 64 × 80 frame"),
    ("npix", "says npix=7 but has 1 pixels"),
    ("npix_type", "says npix='1' but has 1 pixels"),
    ("not_dict", "ROI 0 is a list"),
    ("empty", "holds no ROIs"),
    ("iscell_rows", "has 1 rows but stat.npy has 2 ROIs"),
    ("iscell_prob", "probability column"),
    ("plain_array", "1-D object array"),
    ("ops_no_ly", "has no 'Ly'"),
])
def test_suite2p_bad_files_are_one_line_naming_the_file(tmp_path, suite2p_writer, stat_of, case, expected):
    good = [stat_of([1], [2], [1.0]), stat_of([3], [4], [1.0])]
    folder = tmp_path / "plane0"
    if case == "missing_lam":
        bad = dict(good[1])
        del bad["lam"]
        suite2p_writer(folder, [good[0], bad])
    elif case == "float_ypix":
        suite2p_writer(folder, [{**good[0], "ypix": np.array([1.0])}])
    elif case == "lengths":
        suite2p_writer(folder, [{**good[0], "lam": np.ones(2, np.float32)}])
    elif case == "outside":
        suite2p_writer(folder, [stat_of([70], [2], [1.0])])
    elif case == "npix":
        suite2p_writer(folder, [{**good[0], "npix": 7}])
    elif case == "npix_type":
        suite2p_writer(folder, [{**good[0], "npix": "1"}])
    elif case == "not_dict":
        suite2p_writer(folder, [[1, 2, 3]])
    elif case == "empty":
        suite2p_writer(folder, [])
    elif case == "iscell_rows":
        suite2p_writer(folder, good, iscell=[[1, 0.5]])
    elif case == "iscell_prob":
        suite2p_writer(folder, good, iscell=[[1, 0.5], [1, 1.5]])
    elif case == "plain_array":
        folder.mkdir()
        np.save(folder / "stat.npy", np.zeros((2, 3)))
    elif case == "ops_no_ly":
        suite2p_writer(folder, good)
        np.save(folder / "ops.npy", {"Lx": 80})
    with pytest.raises(InteropError) as exc:
        read_rois(folder)
    msg = _message(exc)
    assert expected in msg and str(folder) in msg


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo this must never run",))


def test_a_stat_npy_pickling_anything_but_suite2p_data_is_refused_unrun(tmp_path):
    folder = tmp_path / "plane0"
    folder.mkdir()
    evil = np.empty(1, dtype=object)
    evil[0] = {"ypix": _Evil()}
    np.save(folder / "stat.npy", evil)
    with pytest.raises(InteropError) as exc:
        read_suite2p(folder)
    assert "not suite2p's" in _message(exc) and "system" in str(exc.value)


class _Touch:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_ops_objects_suite2p_did_not_write_are_inert_placeholders(tmp_path, suite2p_writer, stat_of):
    import pathlib

    marker = tmp_path / "ran"
    folder = suite2p_writer(tmp_path / "plane0", [stat_of([1], [2], [1.0])], shape=(20, 30),
                            ops_extra={"save_folder": pathlib.PurePosixPath("/data/suite2p"),
                                       "reg_file": pathlib.Path("/data/reg.bin"), "hook": _Touch(marker)})
    rois = read_suite2p(folder)
    assert rois.image_shape == (20, 30) and not marker.exists()


def test_suite2p_1_db_npy_and_reg_outputs_give_the_frame(tmp_path, suite2p_writer, stat_of):
    import pathlib

    folder = suite2p_writer(tmp_path / "plane0", [stat_of([1], [2], [1.0])], shape=None)
    np.save(folder / "db.npy", {"Ly": 12, "Lx": 14, "nchannels": 1, "save_path": pathlib.Path(folder)})
    np.save(folder / "reg_outputs.npy", {"meanImg": np.full((12, 14), 3.0, np.float32)})
    rois = read_suite2p(folder)
    assert rois.image_shape == (12, 14) and float(rois.mean_image[0, 0]) == 3.0


def test_a_multi_plane_folder_names_its_planes(tmp_path, suite2p_writer, stat_of):
    suite2p_writer(tmp_path / "suite2p" / "plane0", [stat_of([1], [2], [1.0])])
    suite2p_writer(tmp_path / "suite2p" / "plane1", [stat_of([1], [2], [1.0])])
    with pytest.raises(InteropError, match="plane0, plane1"):
        read_rois(tmp_path / "suite2p")


# --- CaImAn ------------------------------------------------------------------------------------------

def test_caiman_single_pixel_footprints_land_on_their_pixels_in_fortran_order(tmp_path, caiman_writer):
    # dims (7, 11), not square: reading A in C order would put (y=2, x=9) at a different pixel.
    images = np.zeros((2, 7, 11))
    images[0, 2, 9] = 1.0
    images[1, 6, 0] = 0.5
    rois = read_rois(caiman_writer(tmp_path / "results.hdf5", images))
    assert rois.format == "caiman" and rois.image_shape == (7, 11)
    assert rois.centroids().tolist() == [[9.0, 2.0], [0.0, 6.0]]
    assert [r.footprint[0].tolist() + r.footprint[1].tolist() for r in rois] == [[9, 2], [0, 6]]


def test_caiman_asymmetric_footprint_centroid_is_weighted(tmp_path, caiman_writer):
    rng = np.random.default_rng(3)
    img = np.zeros((20, 30))
    img[3:6, 17:27] = rng.uniform(0.1, 1.0, size=(3, 10))  # a wide, uneven bar off-centre
    yy, xx = np.mgrid[0:20, 0:30]
    expected = ((img * xx).sum() / img.sum(), (img * yy).sum() / img.sum())
    roi = read_caiman(caiman_writer(tmp_path / "r.hdf5", img[None], dims_key="dims")).rois[0]
    assert (roi.x, roi.y) == (pytest.approx(expected[0], abs=1e-5), pytest.approx(expected[1], abs=1e-5))
    assert roi.npix == 30 and roi.is_cell is None and roi.probability is None


def test_caiman_accepted_components_and_cnn_probabilities(tmp_path, caiman_writer):
    images = np.zeros((3, 8, 9))
    for k in range(3):
        images[k, k + 1, 2 * k] = 1.0
    path = caiman_writer(tmp_path / "r.h5", images, idx_components=[0, 2], cnn_preds=[0.9, 0.8, 0.2])
    rois = read_caiman(path)
    assert [r.is_cell for r in rois] == [True, False, True]
    assert [r.id for r in rois.select(cells_only=True)] == [0, 2]
    assert [r.id for r in rois.select(min_prob=0.5)] == [0, 1]


def test_caiman_dense_a_matches_sparse(tmp_path, caiman_writer):
    import h5py

    images = np.zeros((1, 5, 6))
    images[0, 1, 4], images[0, 3, 4] = 1.0, 3.0
    sparse = read_caiman(caiman_writer(tmp_path / "s.hdf5", images)).centroids()
    with h5py.File(tmp_path / "d.hdf5", "w") as f:
        f["estimates/A"] = images[0].ravel(order="F")[:, None]
        f["estimates/dims"] = np.array([5, 6])
    assert read_caiman(tmp_path / "d.hdf5").centroids().tolist() == sparse.tolist() == [[4.0, 2.5]]


@pytest.mark.parametrize("case, expected", [
    ("not_hdf5", "is not an HDF5 file"),
    ("no_a", "has no estimates/A"),
    ("no_dims", "has no dims"),
    ("rows", "has 30 rows but dims give 42 pixels"),
    ("indptr", "not a valid CSC matrix"),
    ("idx", "idx_components must be component indices 0..1"),
    ("volume", "is a volume"),
    ("missing_indices", "has no indices"),
    ("negative", "finite footprint weights ≥ 0"),
])
def test_caiman_bad_files_are_one_line_naming_the_file(tmp_path, caiman_writer, case, expected):
    import h5py

    path = tmp_path / "bad.hdf5"
    images = np.zeros((2, 6, 7))
    images[:, 1, 1] = 1.0
    if case == "not_hdf5":
        path.write_text("not hdf5")
    else:
        caiman_writer(path, images, idx_components=[0, 5] if case == "idx" else None)
        with h5py.File(path, "a") as f:
            if case == "no_a":
                del f["estimates/A"]
            elif case == "no_dims":
                del f["estimates/dims"]
            elif case == "rows":
                f["estimates/A/shape"][...] = [30, 2]
            elif case == "indptr":
                f["estimates/A/indptr"][...] = [0, 2, 1]
            elif case == "volume":
                del f["estimates/dims"]
                f["estimates/dims"] = np.array([6, 7, 3])
            elif case == "missing_indices":
                del f["estimates/A/indices"]
            elif case == "negative":
                f["estimates/A/data"][0] = -1.0
    with pytest.raises(InteropError) as exc:
        read_rois(path)
    msg = _message(exc)
    assert expected in msg and str(path) in msg


# --- ImageJ ------------------------------------------------------------------------------------------

def test_imagej_rectangle_oval_polygon_centroids_shift_half_a_pixel(tmp_path):
    rect = roifile.ImagejRoi(roitype=roifile.ROI_TYPE.RECT, left=10, top=20, right=30, bottom=26, name="rect")
    oval = roifile.ImagejRoi(roitype=roifile.ROI_TYPE.OVAL, left=40, top=4, right=50, bottom=18, name="oval")
    # A right triangle, with many vertices along its hypotenuse: the vertex mean would be pulled there;
    # the area centroid of a triangle is the mean of its three corners.
    t = np.linspace(0, 1, 30)[1:-1]
    hyp = np.stack([6 * (1 - t), 3 * t], axis=1)
    tri = roifile.ImagejRoi.frompoints(np.vstack([[0, 0], [6, 0], hyp, [0, 3]]) + [100, 50])
    tri.name = "tri"
    roifile.roiwrite(tmp_path / "RoiSet.zip", [rect, oval, tri])
    rois = read_rois(tmp_path / "RoiSet.zip")
    assert rois.format == "imagej" and rois.image_shape is None
    assert [r.name for r in rois] == ["rect", "oval", "tri"]
    (x0, y0), (x1, y1), (x2, y2) = rois.centroids()
    assert (x0, y0) == (pytest.approx(19.5), pytest.approx(22.5))  # pixel columns 10..29, rows 20..25
    assert (x1, y1) == (pytest.approx(44.5, abs=1e-4), pytest.approx(10.5, abs=1e-4))
    assert (x2, y2) == (pytest.approx(102 - 0.5, abs=1e-4), pytest.approx(51 - 0.5, abs=1e-4))
    assert rois.rois[0].npix == 120 and rois.rois[2].npix == 9
    assert rois.rois[0].outline.shape[1] == 2
    assert all(r.is_cell is None for r in rois.select(cells_only=True))


def test_imagej_single_roi_file(tmp_path):
    roi = roifile.ImagejRoi.frompoints(np.array([[2, 2], [8, 2], [8, 6], [2, 6]], float))
    roi.tofile(tmp_path / "cell.roi")
    r = read_imagej(tmp_path / "cell.roi").rois[0]
    assert (r.id, r.x, r.y, r.npix) == (0, pytest.approx(4.5), pytest.approx(3.5), 24)


def test_imagej_line_and_point_rois_are_refused_by_name(tmp_path):
    line = roifile.ImagejRoi(roitype=roifile.ROI_TYPE.LINE, x1=1, y1=1, x2=5, y2=5, name="axon")
    rect = roifile.ImagejRoi(roitype=roifile.ROI_TYPE.RECT, left=1, top=1, right=3, bottom=3)
    roifile.roiwrite(tmp_path / "RoiSet.zip", [rect, line])
    with pytest.raises(InteropError) as exc:
        read_rois(tmp_path / "RoiSet.zip")
    assert "ROI 1 'axon' is a line ROI" in _message(exc)


def test_imagej_broken_and_empty_files(tmp_path):
    (tmp_path / "RoiSet.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InteropError) as exc:
        read_rois(tmp_path / "RoiSet.zip")
    assert "cannot be read as ImageJ ROIs" in _message(exc)
    import zipfile

    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    with pytest.raises(InteropError, match="holds no ROIs"):
        read_rois(tmp_path / "empty.zip")


def test_unknown_and_missing_paths(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InteropError, match="cannot tell the ROI format"):
        read_rois(tmp_path / "notes.txt")
    with pytest.raises(InteropError, match="does not exist"):
        read_rois(tmp_path / "nothing.hdf5")


@pytest.mark.parametrize("module, path", [("h5py", "results.hdf5"), ("roifile", "RoiSet.zip")])
def test_a_missing_sdk_says_what_to_install(tmp_path, monkeypatch, module, path):
    import sys

    (tmp_path / path).write_bytes(b"x")
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(InteropError) as exc:
        read_rois(tmp_path / path)
    assert f"needs the Python package {module!r}" in _message(exc) and "[interop]" in str(exc.value)
