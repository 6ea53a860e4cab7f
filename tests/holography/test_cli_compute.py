from __future__ import annotations

import re

import numpy as np
import pytest

from holostim.cli import main


@pytest.fixture
def spots_csv(tmp_path):
    p = tmp_path / "spots.csv"
    p.write_text("x_fourier_px,y_fourier_px,weight\n40,30,1\n80,90,2\n70,50,1\n")
    return p


def test_compute_writes_a_mask_and_prints_metrics(tmp_path, spots_csv, capsys):
    out = tmp_path / "mask.npy"
    rc = main(["compute", "--spots", str(spots_csv), "--shape", "128", "128", "--method", "wgs",
               "--iterations", "10", "--backend", "numpy", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    for word in ("efficiency", "uniformity", "std_error", "tolerance_error", "gap", "ms/iteration"):
        assert word in text
    phase = np.load(out)
    assert phase.shape == (128, 128) and phase.dtype == np.float32
    assert 0 <= phase.min() and phase.max() < 2 * np.pi
    png = tmp_path / "mask.png"
    assert main(["compute", "--spots", str(spots_csv), "--shape", "128", "128", "--iterations", "3",
                 "--backend", "numpy", "--out", str(png)]) == 0
    assert png.stat().st_size > 0


@pytest.mark.parametrize(
    "extra,csv,match",
    [
        (["--method", "foo"], None, "unknown method 'foo'"),
        (["--backend", "gpu"], None, "unknown backend 'gpu'"),
        (["--precision", "half"], None, "unknown precision 'half'"),
        (["--shape", "0", "128"], None, "must be two positive integers"),
        (["--iterations", "-3"], None, "iterations -3"),
        (["--out", "mask.bmp"], None, "unknown mask format"),
        ([], "x_fourier_px,y_fourier_px\n500,3\n", "outside the 128x128 grid"),
        ([], "x_fourier_px,y_fourier_px,weight\n3,3,-1\n", "weight -1"),
        ([], "x_fourier_px,y_fourier_px,weight\n3,3,nan\n", "weight nan"),
        ([], "x_fourier_px,y_fourier_px\n", "no spots"),
        ([], "u,v\n1,2\n", "header"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, spots_csv, capsys, extra, csv, match):
    spots = spots_csv
    if csv is not None:
        spots = tmp_path / "bad.csv"
        spots.write_text(csv)
    args = ["compute", "--spots", str(spots), "--shape", "128", "128", "--iterations", "2",
            "--backend", "numpy"]
    extra = [str(tmp_path / e) if e.endswith(".bmp") else e for e in extra]
    rc = main(args + extra)
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("holostim: error:"), err
    assert "Traceback" not in err
    assert re.search(match, lines[0]), lines[0]


def test_missing_spot_file_exits_2(tmp_path, capsys):
    assert main(["compute", "--spots", str(tmp_path / "none.csv"), "--backend", "numpy"]) == 2
    assert "does not exist" in capsys.readouterr().err
