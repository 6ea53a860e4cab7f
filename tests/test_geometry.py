"""Geometry as pure units: blaze shift, zero order, Fourier pitch, sample µm, and target refusals."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.calibration import Calibration
from holostim.config import parse_config
from holostim.geometry import SLMGeometry, target_refusal

# A 128 × 256 SLM (ny, nx) with 8 µm pixels at 1.04 µm behind a 200 mm lens, 40× to the sample.
GEOMETRY = SLMGeometry(shape=(128, 256), pitch_um=8.0, wavelength_um=1.04, focal_length_um=200e3,
                       magnification=40.0)


def test_fourier_pitch_is_lambda_f_over_n_dx_per_axis():
    # By hand: 1.04 µm × 200 000 µm / (256 × 8 µm) = 101.5625 µm along x; / (128 × 8 µm) along y.
    np.testing.assert_allclose(GEOMETRY.fourier_pitch_um, [101.5625, 203.125])


def test_slm_to_sample_um_from_the_centre():
    xy = GEOMETRY.slm_to_sample_um([[128, 64], [138, 60]])
    np.testing.assert_allclose(xy, [[0.0, 0.0], [10 * 101.5625 / 40, -4 * 203.125 / 40]])


def test_blaze_moves_the_pattern_but_not_the_zero_order():
    g = SLMGeometry(shape=(128, 256), pitch_um=8.0, wavelength_um=1.04, focal_length_um=200e3,
                    magnification=40.0, blaze=(0.125, -0.25))
    np.testing.assert_allclose(g.blaze_shift_px, [32.0, -32.0])
    np.testing.assert_allclose(g.zero_order_slm, [128 - 32, 64 + 32])
    # The engine's pixel at the zero order is physically on the axis: sample (0, 0).
    np.testing.assert_allclose(g.slm_to_sample_um([g.zero_order_slm]), [[0.0, 0.0]])
    np.testing.assert_allclose(GEOMETRY.zero_order_slm, [128, 64])


def test_session_fourier_pitch_matches_the_hand_formula():
    cfg = parse_config("slm:\n  shape: [512, 1024]\n  pitch_um: 9.2\n  wavelength_um: 1.04\n"
                       "optics:\n  focal_length_um: 150000\n")
    # λ f / (N dx) with N the number of SLM columns, computed by hand: 1.04 × 150000 / (1024 × 9.2).
    assert cfg.fourier_pitch_um == pytest.approx(156000 / 9420.8, rel=1e-12)
    padded = parse_config("slm:\n  shape: [512, 1024]\n  pitch_um: 9.2\n  wavelength_um: 1.04\n"
                          "optics:\n  focal_length_um: 150000\nengine:\n  padding: 2\n")
    assert padded.fourier_pitch_um == pytest.approx(156000 / (2 * 9420.8), rel=1e-12)  # N = 2 × 1024


IDENTITY = Calibration(matrix=np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), slm_shape=(128, 256),
                       camera_shape=(128, 256))


def test_refusals_without_blaze():
    assert "no calibration" in target_refusal(None, GEOMETRY, 10, 10, 5.0)
    assert target_refusal(IDENTITY, GEOMETRY, 10, 10, 5.0) is None
    assert "outside the SLM" in target_refusal(IDENTITY, GEOMETRY, 300, 10, 5.0)
    assert "zero-order exclusion" in target_refusal(IDENTITY, GEOMETRY, 131, 64, 5.0)
    assert target_refusal(IDENTITY, GEOMETRY, 134, 64, 5.0) is None


def test_refusals_follow_the_blazed_zero_order():
    g = SLMGeometry(shape=(128, 256), pitch_um=8.0, wavelength_um=1.04, focal_length_um=200e3,
                    blaze=(0.125, 0.0))
    # The centre is free now; the exclusion sits 32 px to the left of it.
    assert target_refusal(IDENTITY, g, 128, 64, 5.0) is None
    reason = target_refusal(IDENTITY, g, 99, 64, 5.0)
    assert "zero-order exclusion" in reason and "shifted by the blaze" in reason
    assert target_refusal(IDENTITY, g, 90, 64, 5.0) is None
