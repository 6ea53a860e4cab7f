"""The correction phase: flatness image (rescaled from its wavelength), blaze, Fresnel lens, Zernike."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from slm_helpers import ASSETS, TWO_PI, assert_frame, ref_gray

from holostim.hardware.slm import SimulatedSLM, SLMError, SLMFileError, load_flatness


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_flatness_correction_rescaled_from_design_wavelength(tmp_path, rng):
    flat = rng.integers(0, 256, (24, 40), dtype=np.uint8)
    path = tmp_path / "flat.bmp"
    Image.fromarray(flat, mode="L").save(path)
    assert np.array_equal(load_flatness(path), flat)
    slm = SimulatedSLM((24, 40), 8.0, 1.064, two_pi_gray=220, flatness=path, flatness_wavelength_um=0.8)
    phase = rng.uniform(0, TWO_PI, (24, 40)).astype(np.float32)
    total = phase.astype(np.float64) + TWO_PI * flat / 256.0 * (0.8 / 1.064)
    exp, amb = ref_gray(total, 220)
    assert_frame(slm.phase_to_gray(phase), exp, amb)


def test_flatness_errors(tmp_path):
    with pytest.raises(SLMError, match="is 256x256.*SLM is 128x128"):
        SimulatedSLM((128, 128), 8.0, 1.064, flatness=ASSETS / "example-flatness-256x256-1064nm.bmp")
    with pytest.raises(SLMFileError, match="does not exist"):
        SimulatedSLM((8, 8), 8.0, 1.064, flatness=tmp_path / "missing.bmp")
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 5
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "c.png")
    with pytest.raises(SLMError, match="colour image"):
        load_flatness(tmp_path / "c.png")
    assert load_flatness(ASSETS / "example-flatness-256x256-1064nm.bmp").shape == (256, 256)


def test_blaze_moves_far_field_by_expected_pixels():
    n = 64
    slm = SimulatedSLM((n, n), 8.0, 1.064, two_pi_gray=256, blaze=(8 / n, -5 / n))
    frame = slm.phase_to_gray(np.zeros((n, n), np.float32))
    field = np.exp(1j * TWO_PI * frame / 256.0)
    far = np.abs(np.fft.fftshift(np.fft.fft2(field))) ** 2
    iy, ix = np.unravel_index(np.argmax(far), far.shape)
    assert (ix - n // 2, iy - n // 2) == (8, -5)
    assert far.max() / far.sum() > 0.95  # 256 levels: nearly all power in the first order
    # and the gray values themselves: 2π (gx x + gy y) on centred pixel coordinates
    y, x = np.indices((n, n))
    exp, amb = ref_gray(TWO_PI * (8 / n * (x - n // 2) - 5 / n * (y - n // 2)), 256)
    assert_frame(frame, exp, amb)


def test_fresnel_lens_offset():
    slm = SimulatedSLM((32, 48), 9.2, 1.064, two_pi_gray=256, fresnel_focal_um=5e5)
    y, x = np.indices((32, 48))
    r2 = ((x - 24) * 9.2) ** 2 + ((y - 16) * 9.2) ** 2
    expected = np.mod(-math.pi * r2 / (1.064 * 5e5), TWO_PI)
    corr = slm.correction_phase.astype(np.float64)
    d = np.angle(np.exp(1j * (corr - expected)))
    assert np.abs(d).max() < 1e-5


def test_zernike_correction_defocus():
    n = 64
    slm = SimulatedSLM((n, n), 10.0, 1.064, zernike={4: 1.5})
    y, x = np.indices((n, n))
    rho2 = ((x - n // 2) ** 2 + (y - n // 2) ** 2) / (n / 2) ** 2
    expected = np.where(rho2 <= 1, 1.5 * math.sqrt(3) * (2 * rho2 - 1), 0.0)  # ANSI j=4: √3 (2ρ² - 1)
    d = np.angle(np.exp(1j * (slm.correction_phase - expected)))
    assert np.abs(d).max() < 1e-5
    slm.set_corrections(zernike=None)
    assert np.all(slm.correction_phase == 0)


@pytest.mark.parametrize("bad", [0, 0.0, float("inf"), float("nan"), "far", True])
def test_fresnel_focal_length_is_checked_once_for_slm_and_session(bad):
    from holostim.config import ConfigError, parse_config

    with pytest.raises(SLMError, match="must be a non-zero finite length in µm"):
        SimulatedSLM((8, 8), 8.0, 1.064, fresnel_focal_um=bad)
    slm = SimulatedSLM((8, 8), 8.0, 1.064, fresnel_focal_um=2e5)
    with pytest.raises(SLMError, match="must be a non-zero finite length in µm"):
        slm.set_corrections(fresnel_focal_um=bad)
    assert slm.fresnel_focal_um == 2e5  # a refused change leaves the lens as it was
    if isinstance(bad, float):  # YAML can spell these; the session refuses them with the same words
        text = f"version: 1\nslm: {{fresnel_focal_um: {'.nan' if bad != bad else '.inf' if bad else 0}}}\n"
        with pytest.raises(ConfigError, match="must be a non-zero finite length in µm"):
            parse_config(text)
