"""The gray scale: two_pi_gray (scaled with the wavelength) and vendor LUT files, and their errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from slm_helpers import ASSETS, TWO_PI, assert_frame, ref_gray

from holostim.errors import HolostimError
from holostim.hardware.slm import LUT, LUTError, SimulatedSLM, SLMError, SLMFileError, load_lut


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_two_pi_gray_linear_matches_reference(rng):
    slm = SimulatedSLM((64, 96), 8.0, 1.064, two_pi_gray=200)
    phase = rng.uniform(-20, 20, (64, 96)).astype(np.float32)
    frame = slm.phase_to_gray(phase)
    exp, amb = ref_gray(phase, 200)
    assert_frame(frame, exp, amb)
    assert frame.max() <= 199


def test_exact_levels_and_wrap():
    slm = SimulatedSLM((2, 4), 8.0, 1.064, two_pi_gray=256)
    phase = np.array(
        [
            [0.0, math.pi, TWO_PI, -math.pi / 2],
            [TWO_PI * 10 / 256, TWO_PI * 255.6 / 256, 4 * math.pi, TWO_PI * 255.4 / 256],
        ],
        np.float32,
    )
    assert slm.phase_to_gray(phase).tolist() == [[0, 128, 0, 192], [10, 0, 0, 255]]


def test_wavelength_scaling_of_two_pi_gray(rng):
    # 2π at gray 120 at 532 nm -> 240 at 1064 nm (retardance ∝ 1/λ)
    slm = SimulatedSLM((32, 32), 8.0, 1.064, two_pi_gray=120, two_pi_gray_wavelength_um=0.532)
    assert slm.two_pi_gray == pytest.approx(240.0)
    phase = rng.uniform(0, TWO_PI, (32, 32)).astype(np.float32)
    exp, amb = ref_gray(phase, 240)
    assert_frame(slm.phase_to_gray(phase), exp, amb)
    with pytest.raises(SLMError, match="cannot reach 2π"):
        SimulatedSLM((8, 8), 8.0, 1.064, two_pi_gray=200, two_pi_gray_wavelength_um=0.532)


def test_non_integer_two_pi_gray(rng):
    slm = SimulatedSLM((40, 40), 8.0, 1.064, two_pi_gray=212.6)
    phase = rng.uniform(0, TWO_PI, (40, 40)).astype(np.float32)
    t = phase.astype(np.float64) / TWO_PI * 212.6
    k = np.floor(t + 0.5)
    k[k >= 212.6] = 0  # 213 steps would be 2π+: that is 0
    amb = np.abs(t + 0.5 - np.round(t + 0.5)) < 1e-3
    assert_frame(slm.phase_to_gray(phase), k.astype(np.uint8), amb)


def test_per_wavelength_two_pi_gray_and_missing_wavelength():
    slm = SimulatedSLM((8, 8), 8.0, 0.920, two_pi_gray={1.064: 230, 0.920: 205})
    assert slm.two_pi_gray == 205
    with pytest.raises(SLMError, match=r"working wavelength 0.8 µm.*1.064, 0.92"):
        SimulatedSLM((8, 8), 8.0, 0.8, two_pi_gray={1.064: 230, 0.920: 205})


def test_vendor_lut_file_maps_levels(rng):
    lut = load_lut(ASSETS / "example-1064nm.lut")
    raw = np.loadtxt(ASSETS / "example-1064nm.lut", comments="#")
    assert np.array_equal(lut.gray, raw[:, 1].astype(np.uint8))
    slm = SimulatedSLM((48, 48), 8.0, 1.064, lut=ASSETS / "example-1064nm.lut")
    phase = rng.uniform(-10, 10, (48, 48)).astype(np.float32)
    exp, amb = ref_gray(phase, 256, raw[:, 1])
    assert_frame(slm.phase_to_gray(phase), exp, amb)


def test_csv_lut_and_per_wavelength_lut(rng):
    lut = load_lut(ASSETS / "example-1040nm.csv")
    raw = np.loadtxt(ASSETS / "example-1040nm.csv", delimiter=",", skiprows=1)
    assert np.array_equal(lut.gray, raw[:, 1])
    slm = SimulatedSLM(
        (16, 16), 8.0, 1.040, lut={1.064: ASSETS / "example-1064nm.lut", 1.040: ASSETS / "example-1040nm.csv"}
    )
    phase = rng.uniform(0, TWO_PI, (16, 16)).astype(np.float32)
    exp, amb = ref_gray(phase, 256, raw[:, 1])
    assert_frame(slm.phase_to_gray(phase), exp, amb)
    with pytest.raises(SLMError, match="not rescaled"):
        SimulatedSLM((16, 16), 8.0, 1.040, lut=LUT(raw[:, 1], wavelength_um=1.064))


def test_single_column_lut(tmp_path):
    p = tmp_path / "one.txt"
    p.write_text("\n".join(str(i // 2) for i in range(256)))
    assert load_lut(p).gray.tolist() == [i // 2 for i in range(256)]


@pytest.mark.parametrize(
    ("text", "exc", "match"),
    [
        ("\n".join(f"{i} {i}" for i in range(255)), LUTError, "has 255 entries.*exactly 256"),
        (
            "\n".join(f"{i} {i if i != 100 else 90}" for i in range(256)),
            LUTError,
            "not monotonic: level 99 -> gray 99 but level 100 -> gray 90",
        ),
        ("\n".join(f"{i} {4 * i}" for i in range(256)), LUTError, "span 0..1020"),
        ("\n".join(f"{(i + 1) % 256} {i}" for i in range(256)), LUTError, "levels 0..255 in order"),
        ("0 1\n1 2\nx y\n", LUTError, "line 3"),
        ("0 1 2\n1 2 3\n", LUTError, "rows of"),
        ("", LUTError, "holds no numbers"),
    ],
)
def test_lut_errors(tmp_path, text, exc, match):
    p = tmp_path / "bad.lut"
    p.write_text(text)
    with pytest.raises(exc, match=match) as info:
        load_lut(p)
    assert isinstance(info.value, HolostimError) and isinstance(info.value, ValueError)
    assert str(p) in str(info.value)


def test_lut_unreadable_and_missing(tmp_path):
    with pytest.raises(SLMFileError, match="does not exist"):
        load_lut(tmp_path / "nope.lut")
    p = tmp_path / "bin.lut"
    p.write_bytes(b"\xff\xfe\x00\x81" * 100)
    with pytest.raises(SLMFileError, match="cannot be read"):
        load_lut(p)
    with pytest.raises(SLMError, match="not both"):
        SimulatedSLM((8, 8), 8.0, 1.064, two_pi_gray=255, lut=ASSETS / "example-1064nm.lut")
