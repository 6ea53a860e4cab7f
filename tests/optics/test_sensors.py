"""Camera model: power-conserving pixel integration and the statistics of its noise."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.optics import (
    CameraModel,
    Field,
    FieldError,
    add_camera_noise,
    gaussian_beam,
    power,
    resample_to_camera,
)


def test_binning_equals_block_sum_and_conserves_power():
    rng = np.random.default_rng(0)
    i = rng.random((63, 45))
    # 3x3 blocks: the centre camera pixel (10, 7) is centred on the field origin (31, 22), as both grids
    # put their origin at index N//2, so the blocks are aligned with the field's pixels
    out = resample_to_camera(i, (21, 15), 3.0, spacing=1.0)
    blocks = i.reshape(21, 3, 15, 3).sum(axis=(1, 3))
    assert np.allclose(out, blocks)
    assert out.sum() == pytest.approx(i.sum())


def test_resampling_with_magnification_and_fractional_pixels_conserves_power():
    f = gaussian_beam((128, 128), 0.5, 0.9, 6.0)
    # 6.5 µm camera pixels behind a 10x magnification: 0.65 µm footprint, not a multiple of 0.5 µm
    img = resample_to_camera(f, (120, 120), 6.5, magnification=10.0)
    assert img.sum() == pytest.approx(float(power(f)), rel=1e-9)
    # the spot is centred on pixel (60, 60) and symmetric
    assert np.unravel_index(np.argmax(img), img.shape) == (60, 60)
    assert np.allclose(img[60 - 10:60 + 11, 60], img[60 + 10:60 - 11:-1, 60])
    # shifting the camera centre by 5 pixels (in the field plane) moves the spot by 5 pixels
    shifted = resample_to_camera(f, (120, 120), 6.5, magnification=10.0, center=(5 * 0.65, 0.0))
    assert np.unravel_index(np.argmax(shifted), img.shape) == (60, 55)


def test_noise_statistics_match_poisson_and_read_noise():
    photons = np.full((200, 200), 400.0)
    counts = add_camera_noise(photons, quantum_efficiency=0.5, read_noise=3.0, gain=2.0, offset=100,
                              bit_depth=16, seed=7)
    assert counts.dtype == np.uint16
    e = (counts.astype(float) - 100) * 2.0  # back to electrons (rounding adds var gain²/12)
    assert e.mean() == pytest.approx(200.0, abs=0.5)  # QE·photons, 4σ of the mean = 0.3
    expected_var = 200.0 + 3.0**2 + 2.0**2 / 12
    assert e.var() == pytest.approx(expected_var, rel=0.03)  # 4σ of a 40000-sample variance ≈ 2.8 %


def test_noise_is_seeded_and_saturates():
    photons = np.linspace(0, 5000, 100).reshape(10, 10)
    a = add_camera_noise(photons, read_noise=1.0, seed=3, bit_depth=8)
    b = add_camera_noise(photons, read_noise=1.0, seed=3, bit_depth=8)
    c = add_camera_noise(photons, read_noise=1.0, seed=4, bit_depth=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == np.uint8 and a.max() == 255
    fw = add_camera_noise(photons, full_well=1000, bit_depth=16, seed=1)
    assert fw.max() == 1000
    dark = add_camera_noise(np.zeros((50, 50)), read_noise=5.0, offset=0, seed=1)
    assert dark.min() == 0  # clipped at zero, never wraps round


def test_camera_model_capture():
    f = gaussian_beam((64, 64), 1.0, 0.9, 5.0, power=1.0)
    cam = CameraModel((32, 32), 2.0, photons_per_unit=1e5, read_noise=0.0, offset=0, quantum_efficiency=1.0,
                      full_well=None, bit_depth=16)
    exp = cam.expected_photons(f)
    assert exp.sum() == pytest.approx(1e5, rel=1e-6)
    frame = cam.capture(f, seed=0)
    assert frame.shape == (32, 32) and frame.dtype == np.uint16
    assert frame.sum() == pytest.approx(1e5, rel=0.02)


def test_bad_sensor_input():
    with pytest.raises(FieldError, match="spacing"):
        resample_to_camera(np.ones((4, 4)), (2, 2), 1.0)
    with pytest.raises(FieldError, match="bit_depth"):
        add_camera_noise(np.ones((2, 2)), bit_depth=0)
    with pytest.raises(FieldError, match="negative"):
        add_camera_noise(-np.ones((2, 2)))
    with pytest.raises(FieldError, match="pixel_size"):
        CameraModel((4, 4), 0.0)
    with pytest.raises(FieldError, match="wavelength"):
        Field(np.ones((2, 2)), 1.0, 0.0)
    with pytest.raises(FieldError, match="spacing"):
        Field(np.ones((2, 2)), -1.0, 0.5)


def test_gaussian_limit_keeps_mean_variance_and_exact_dim_pixels():
    from holostim.optics.sensors import add_camera_noise

    lam = np.full((300, 300), 60.0)
    lam[:150] = 0.5  # dim half: still exact Poisson
    c = add_camera_noise(lam, read_noise=3.0, offset=100, seed=4, gaussian_above=20.0, bit_depth=16)
    c = c.astype(float) - 100  # the offset keeps read noise from clipping at 0
    bright, dim = c[150:], c[:150]
    assert bright.mean() == pytest.approx(60.0, abs=0.1)
    assert bright.var() == pytest.approx(60.0 + 9.0, rel=0.03)
    assert dim.mean() == pytest.approx(0.5, abs=0.02)
    # the same call without read noise shows the dim pixels are integer Poisson counts: P(0) = exp(-0.5)
    c0 = add_camera_noise(lam, seed=5, gaussian_above=20.0, bit_depth=16)[:150]
    assert np.mean(c0 == 0) == pytest.approx(np.exp(-0.5), abs=0.01)
