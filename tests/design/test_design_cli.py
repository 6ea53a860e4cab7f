"""``holostim design``: a real spot file and model file in, an ordinary mask out; bad input is one line."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.cli.main import main
from holostim.holography.io import load_spots

pytest.importorskip("jax")
pytest.importorskip("optax")

MODEL = "slm:\n  shape: [48, 48]\n  crosstalk_sigma_px: 1.0\nillumination: {waist_px: 18}\n"


def run(spots, model, out, *extra: str) -> int:
    return main(["design", "--spots", str(spots), "--model", str(model), "--out", str(out), *extra])


@pytest.fixture
def files(tmp_path):
    spots = tmp_path / "spots.csv"
    spots.write_text("x_fourier_px,y_fourier_px,weight\n30,30,1\n33,20,2\n16,28,1\n")
    model = tmp_path / "model.yaml"
    model.write_text(MODEL)
    return spots, model


def test_design_writes_a_mask_the_mask_reader_loads(files, tmp_path, capsys):
    spots, model = files
    out = tmp_path / "mask.npy"
    assert main(["design", "--spots", str(spots), "--model", str(model), "--out", str(out),
                 "--iterations", "20"]) == 0
    mask = np.load(out)
    assert mask.shape == (48, 48) and mask.dtype == np.float32
    assert mask.min() >= 0 and mask.max() < 2 * np.pi
    assert len(load_spots(spots)[0]) == 3
    text = capsys.readouterr().out
    assert "3 spots in 1 plane on 48x48, 20 Adam steps from wgs" in text
    lines = {ln.split()[0]: ln.split()[1:] for ln in text.splitlines() if ln.strip()}
    start, designed = (float(v) for v in lines["uniformity"])
    assert designed > start  # the printed numbers are the evaluator's, for both masks


def test_bad_model_key_is_one_line_naming_key_file_and_line(files, tmp_path, capsys):
    spots, model = files
    model.write_text(MODEL.replace("crosstalk_sigma_px", "crosstalk_px"))
    assert run(spots, model, tmp_path / "m.npy") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"{model}:3: slm.crosstalk_px: unknown key" in err and "crosstalk_sigma_px" in err
    assert not (tmp_path / "m.npy").exists()


def test_missing_jax_says_how_to_install(files, tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "optax" else real(name, *a))
    spots, model = files
    assert run(spots, model, tmp_path / "m.npy") == 2
    err = capsys.readouterr().err.strip()
    assert err == "holostim: error: gradient design needs optax: pip install -e .[design]"


def test_bad_arguments_are_refused_before_any_work(files, tmp_path, capsys):
    spots, model = files
    assert run(spots, model, tmp_path / "m.bmp") == 2
    assert "a mask file ends in one of .npy" in capsys.readouterr().err
    zero = tmp_path / "zero.csv"
    zero.write_text("x_fourier_px,y_fourier_px\n24,24\n")
    assert run(zero, model, tmp_path / "m.npy") == 2
    assert "zero order" in capsys.readouterr().err
