"""Smoke tests: each offline-design example runs, writes its figure, and its physics is sane."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"holostim_example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _check_png(path: Path) -> None:
    assert path.exists()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > 600 and im.height > 300
        assert len(np.unique(np.asarray(im.convert("L")))) > 20  # not a blank canvas


def test_focal_volume_example(artifacts):
    res = _load("focal_volume").main(artifacts / "examples", z_step=1.0)
    _check_png(res["figure"])
    assert res["uniformity"] > 0.8  # WGS spots, only mildly changed by pixel envelope and quantisation
    assert abs(res["peak_z_um"]) <= 1.0  # the spots focus in the nominal focal plane
    # Gaussian-filled pupil: longer than the filled-pupil estimate, but the same order
    assert res["axial_estimate_um"] * 0.9 < res["axial_fwhm_um"] < res["axial_estimate_um"] * 1.6


def test_aberration_example(artifacts):
    res = _load("aberration_correction").main(artifacts / "examples", z_step=1.0)
    _check_png(res["figure"])
    assert res["strehl_aberrated"] == pytest.approx(res["marechal"], abs=0.1)
    assert res["strehl_corrected"] > 0.97


def test_efficiency_falloff_example(artifacts):
    mod = _load("efficiency_falloff")
    res = mod.main(artifacts / "examples", step=8)
    _check_png(res["figure"])
    assert res["max_deviation"] < 0.01
    data = np.load(res["map"])
    k = data["k"]
    expect = np.sinc(0.95 * k.max() / mod.SLM_N) ** 2
    assert res["edge_relative"] == pytest.approx(expect, rel=0.01)
    kmin = np.abs(k).min()  # the map point nearest the axis is (±kmin, ±kmin)
    assert data["weights"].min() == pytest.approx(1 / np.sinc(0.95 * kmin / mod.SLM_N) ** 4, rel=0.01)
    assert not math.isnan(res["eta_on_axis"])
