"""``holostim compute`` with spot depths: a z_um column, the session's optics through --config."""

from __future__ import annotations

import re

import numpy as np
import pytest

from holostim.cli import main
from holostim.holography.io import SpotFileError, load_spots

SESSION = ("slm:\n  shape: [64, 64]\nengine:\n  backend: numpy\n  iterations: 5\n"
           "optics:\n  objective_na: {na}\n")


@pytest.fixture
def deep_csv(tmp_path):
    p = tmp_path / "deep.csv"
    p.write_text("x_fourier_px,y_fourier_px,z_um,weight\n20,15,-5,1\n40,45,0,2\n45,20.5,6,1\n")
    return p


def test_z_um_column_is_read_in_any_order(tmp_path, deep_csv):
    xy, w, z = load_spots(deep_csv, depth=True)
    assert z.tolist() == [-5, 0, 6] and w.tolist() == [1, 2, 1] and xy[2].tolist() == [45, 20.5]
    other = tmp_path / "o.csv"
    other.write_text("x_fourier_px,y_fourier_px,weight,z_um\n1,2,3,4\n")
    assert [a.tolist() for a in load_spots(other, depth=True)] == [[[1, 2]], [3], [4]]
    with pytest.raises(SpotFileError, match="has a z_um column, which this reader would drop"):
        load_spots(deep_csv)
    twice = tmp_path / "t.csv"
    twice.write_text("x_fourier_px,y_fourier_px,z_um,z_um\n1,2,3,4\n")
    with pytest.raises(SpotFileError, match="header"):
        load_spots(twice, depth=True)


def test_compute_with_depths_and_a_session(tmp_path, deep_csv, capsys):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SESSION.format(na=1.0))
    out = tmp_path / "m.npy"
    assert main(["compute", "--spots", str(deep_csv), "--config", str(cfg), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 spots in 3-D on 64x64" in text and "algorithm    direct" in text and "5 iterations" in text
    phase = np.load(out)
    assert phase.shape == (64, 64) and 0 <= phase.min() and phase.max() < 2 * np.pi
    flat = tmp_path / "flat.csv"
    flat.write_text("x_fourier_px,y_fourier_px\n20,15\n40,45\n")
    assert main(["compute", "--spots", str(flat), "--config", str(cfg), "--spot-algorithm", "fft"]) == 0
    assert "algorithm    fft" in capsys.readouterr().out


@pytest.mark.parametrize("session,match", [
    (None, r"has spot depths \(z_um\): they need the rig's optics .* give --config SESSION.yaml"),
    (SESSION.format(na=1.4), "objective_na 1.4 is not below the medium index 1.33: set optics.medium_index"),
])
def test_depths_without_optics_exit_2_with_one_line(tmp_path, deep_csv, capsys, session, match):
    args = ["compute", "--spots", str(deep_csv), "--shape", "64", "64", "--backend", "numpy"]
    if session is not None:
        cfg = tmp_path / "s.yaml"
        cfg.write_text(session)
        args += ["--config", str(cfg)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("holostim: error:")
    assert re.search(match, err[0]), err[0]


def test_bad_spot_algorithm_flag(deep_csv, capsys):
    assert main(["compute", "--spots", str(deep_csv), "--spot-algorithm", "gpu", "--backend", "numpy"]) == 2
    assert "--spot-algorithm 'gpu'" in capsys.readouterr().err
