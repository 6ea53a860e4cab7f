"""``holostim import-rois`` end to end, and the ROI → target mapping behind it."""

from __future__ import annotations

import numpy as np
import pytest
import roifile

from holostim.cli.main import main
from holostim.interop import fit_registration, read_rois, roi_id, to_targets
from holostim.session.target_files import load_targets


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _suite2p(tmp_path, suite2p_writer, stat_of):
    stats = [stat_of([10 + i], [20 + 2 * i], [1.0]) for i in range(4)]
    return suite2p_writer(tmp_path / "plane0", stats, iscell=[[1, 0.95], [0, 0.7], [1, 0.3], [0, 0.05]])


def test_suite2p_to_targets_with_min_prob_and_ids_mapping_back(tmp_path, capsys, suite2p_writer, stat_of):
    folder = _suite2p(tmp_path, suite2p_writer, stat_of)
    out = tmp_path / "targets.csv"
    code, stdout, err = _run(["import-rois", str(folder), "--out", str(out), "--min-prob", "0.5",
                              "--group", "3"], capsys)
    assert code == 0 and err == ""
    assert len(stdout.strip().splitlines()) == 1
    assert "read 4 suite2p ROIs" in stdout and "kept 2" in stdout and str(out) in stdout
    rows = load_targets(out)
    assert [r["id"] for r in rows] == [1, 2]
    assert [roi_id(r["id"]) for r in rows] == [0, 1]
    assert [(r["x"], r["y"], r["group"]) for r in rows] == [(20.0, 10.0, 3), (22.0, 11.0, 3)]


def test_cells_only_and_a_transform(tmp_path, capsys, suite2p_writer, stat_of):
    folder = _suite2p(tmp_path, suite2p_writer, stat_of)
    imaging = np.array([[0, 0], [100, 0], [0, 100], [100, 100]], float)
    camera = imaging * 2 + [5, 7]
    reg = fit_registration(imaging, camera).save(tmp_path / "imaging_to_camera.yaml")
    out = tmp_path / "t.json"
    code, stdout, _ = _run(["import-rois", str(folder), "--out", str(out), "--cells-only",
                            "--transform", str(reg)], capsys)
    assert code == 0 and "residual 0.00 px" in stdout
    rows = load_targets(out)
    assert [r["id"] for r in rows] == [1, 3]
    assert [(r["x"], r["y"]) for r in rows] == [pytest.approx((45.0, 27.0)), pytest.approx((53.0, 31.0))]


def test_caiman_and_imagej_files_import(tmp_path, capsys, caiman_writer):
    images = np.zeros((2, 9, 13))
    images[0, 4, 11], images[1, 8, 1] = 1.0, 1.0
    h5 = caiman_writer(tmp_path / "results.hdf5", images, idx_components=[1])
    code, _, _ = _run(["import-rois", str(h5), "--out", str(tmp_path / "c.csv"), "--cells-only"], capsys)
    assert code == 0
    assert [(r["x"], r["y"], r["id"]) for r in load_targets(tmp_path / "c.csv")] == [(1.0, 8.0, 2)]

    rects = [roifile.ImagejRoi(roitype=roifile.ROI_TYPE.RECT, left=x, top=0, right=x + 4, bottom=2, name=n)
             for x, n in ((0, "a"), (10, "b"))]
    roifile.roiwrite(tmp_path / "RoiSet.zip", rects)
    code, _, _ = _run(["import-rois", str(tmp_path / "RoiSet.zip"), "--out", str(tmp_path / "i.csv")], capsys)
    assert code == 0
    rows = load_targets(tmp_path / "i.csv")
    assert [r["id"] for r in rows] == [1, 2]
    assert [(r["x"], r["y"]) for r in rows] == [pytest.approx((1.5, 0.5)), pytest.approx((11.5, 0.5))]


@pytest.mark.parametrize("case", ["bad_file", "nothing_passes", "no_probabilities", "bad_transform"])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, suite2p_writer, stat_of, case):
    folder = _suite2p(tmp_path, suite2p_writer, stat_of)
    out = tmp_path / "targets.csv"
    argv = ["import-rois", str(folder), "--out", str(out)]
    if case == "bad_file":
        np.save(folder / "iscell.npy", np.zeros((3, 2)))
        expect = "has 3 rows but stat.npy has 4 ROIs"
    elif case == "nothing_passes":
        argv += ["--min-prob", "0.99"]
        expect = "none of its 4 ROIs pass"
    elif case == "no_probabilities":
        (folder / "iscell.npy").unlink()
        argv += ["--min-prob", "0.5"]
        expect = "no cell probabilities"
    else:
        (tmp_path / "t.yaml").write_text("imaging_to_camera: [[1, 0, 0], [0, 1, 0]]\nscale: 2\n")
        argv += ["--transform", str(tmp_path / "t.yaml")]
        expect = "t.yaml:2: scale: unknown key"
    code, stdout, err = _run(argv, capsys)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("holostim: error: ") and expect in err
    assert not out.exists()


def test_to_targets_refuses_a_bad_group(tmp_path, suite2p_writer, stat_of):
    rois = read_rois(_suite2p(tmp_path, suite2p_writer, stat_of))
    with pytest.raises(ValueError, match="group"):
        to_targets(rois, group=1.5)
    assert [t.id for t in to_targets(rois)] == [1, 2, 3, 4]
