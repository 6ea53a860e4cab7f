"""Spot and target files, and `holostim compute`'s arguments: every bad input is one line, exit 2 (issue #12).

The GUI's target files (camera px) and compute's spot files (Fourier-plane px) have their own headers, so
neither loads into the other; weights are bounded; compute applies the session's limits.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from holostim.cli import main
from holostim.holography import SpotTarget
from holostim.holography.io import SpotFileError, load_spots
from holostim.holography.targets import MAX_WEIGHT_RATIO, TargetError
from holostim.session.target_files import TargetFileError, load_targets, save_targets


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def compute(capsys, *argv: str) -> tuple[int, str]:
    rc = main(["compute", "--backend", "numpy", *argv])
    err = capsys.readouterr().err
    return rc, err


def one_line(rc: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------- the two kinds of CSV
def test_gui_target_files_and_compute_spot_files_do_not_load_into_each_other(tmp_path):
    class T:
        x, y, weight, group = 10.0, 20.0, 1.0, 0

    gui = save_targets(tmp_path / "targets.csv", [T()])
    assert gui.read_text().splitlines()[0] == "x_camera_px,y_camera_px,weight,group,id,z_um"
    with pytest.raises(SpotFileError, match="GUI target file \\(camera pixels\\).*x_fourier_px"):
        load_spots(gui)
    spots = tmp_path / "spots.csv"
    spots.write_text("x_fourier_px,y_fourier_px,weight\n10,20,1\n")
    with pytest.raises(TargetFileError, match="`holostim compute` spot file.*x_camera_px"):
        load_targets(spots)
    old = tmp_path / "old.csv"  # the old shared header: neither reader guesses its unit
    old.write_text("x,y,weight\n10,20,1\n")
    with pytest.raises(SpotFileError, match="does not say its units.*Fourier-plane"):
        load_spots(old)
    with pytest.raises(TargetFileError, match="does not say its units.*camera pixels"):
        load_targets(old)


def test_a_given_weight_is_used_and_zero_is_refused(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps([{"x": 1, "y": 2, "weight": 0}]))
    with pytest.raises(TargetFileError, match="target 1 weight=0"):
        load_targets(p)
    p.write_text(json.dumps([{"x": 1, "y": 2}, {"x": 3, "y": 4, "weight": 2.5}]))
    assert [r["weight"] for r in load_targets(p)] == [1.0, 2.5]
    c = tmp_path / "t.csv"
    c.write_text("x_camera_px,y_camera_px,weight\n1,2,\n3,4,0\n")
    with pytest.raises(TargetFileError, match="target 2 weight='0'"):
        load_targets(c)


def test_deeply_nested_target_json_is_one_error(tmp_path):
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TargetFileError, match="nested too deeply"):
        load_targets(p)


def test_a_200_kb_csv_field_is_one_error(tmp_path, capsys):
    p = tmp_path / "big.csv"
    p.write_text('x_camera_px,y_camera_px\n"' + "1" * 200_000 + '",2\n')
    with pytest.raises(TargetFileError, match="not a valid CSV"):
        load_targets(p)
    s = tmp_path / "spots.csv"
    s.write_text('x_fourier_px,y_fourier_px\n"' + "1" * 200_000 + '",2\n')
    line = one_line(*compute(capsys, "--spots", str(s), "--shape", "64", "64"))
    assert "is not a spot CSV" in line and len(line) < 400


# ---------------------------------------------------------------- weights
@pytest.mark.parametrize("weights", [[1e-300, 1.0], [1.7e308, 1.0], [1.0, 1.0 + MAX_WEIGHT_RATIO]])
def test_extreme_weight_ratios_are_refused(weights):
    with pytest.raises(TargetError, match="differ by more than"):
        SpotTarget.from_pixels([[10, 10], [40, 20]], shape=(64, 64), weights=weights)


def test_extreme_but_equal_weights_are_relative(capsys, tmp_path):
    t = SpotTarget.from_pixels([[10, 10], [40, 20]], shape=(64, 64), weights=[1.7e308, 1.7e308])
    np.testing.assert_allclose(t.weights, [0.5, 0.5])
    s = tmp_path / "s.csv"
    s.write_text("x_fourier_px,y_fourier_px,weight\n10,10,1e-300\n40,20,1\n")
    assert "differ by more than" in one_line(*compute(capsys, "--spots", str(s), "--shape", "64", "64"))
    g = tmp_path / "t.csv"
    g.write_text("x_camera_px,y_camera_px,weight\n10,10,1.7e308\n40,20,1\n")
    with pytest.raises(TargetFileError, match="differ by more than"):
        load_targets(g)


# ---------------------------------------------------------------- compute: the session's limits
def test_compute_refuses_a_spot_on_the_zero_order(tmp_path, capsys):
    s = tmp_path / "s.csv"
    s.write_text("x_fourier_px,y_fourier_px\n512,512\n600,500\n")
    line = one_line(*compute(capsys, "--spots", str(s), "--shape", "1024", "1024", "--iterations", "2"))
    assert "spot 0 at (512, 512)" in line and "zero order" in line and "exclusion" in line


def test_compute_refuses_a_million_spots(tmp_path, capsys):
    s = tmp_path / "s.csv"
    xy = np.stack(np.divmod(np.arange(10**6), 1000), axis=1)
    s.write_text("x_fourier_px,y_fourier_px\n" + "\n".join(f"{x},{y}" for x, y in xy) + "\n")
    line = one_line(*compute(capsys, "--spots", str(s), "--shape", "1024", "1024"))
    assert "1000000 spots; at most 100" in line and "max_spots" in line


@pytest.mark.timeout(60)  # a guard only: 10^9 iterations would run for days
def test_compute_caps_iterations_like_the_session(tmp_path, capsys):
    s = tmp_path / "s.csv"
    s.write_text("x_fourier_px,y_fourier_px\n10,10\n")
    line = one_line(*compute(capsys, "--spots", str(s), "--shape", "64", "64", "--iterations", "1000000000"))
    assert "--iterations 1000000000" in line and "10000" in line


def test_compute_batch_refuses_two_outputs_of_one_name_before_computing(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in "ab":
        (tmp_path / d / "s.csv").write_text("x_fourier_px,y_fourier_px\n10,10\n")
    out = tmp_path / "masks"
    line = one_line(*compute(capsys, "--spots", str(tmp_path / "a" / "s.csv"), str(tmp_path / "b" / "s.csv"),
                             "--shape", "64", "64", "--out", str(out)))
    assert "would both be saved as" in line and "s.npy" in line
    assert not out.exists()  # nothing was computed or written
