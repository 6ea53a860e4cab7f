"""The diffraction-efficiency model: the analytic pixel envelope against the optics core, and the map fit."""

from __future__ import annotations

import numpy as np
import pytest

from holostim import optics
from holostim.calibration import CalibrationError
from holostim.calibration.power_map import (
    PowerMap,
    efficiency,
    fit_power_map,
    normalised_coordinates,
    pixel_envelope,
)

N = 32  # SLM pixels per side


def supersampled_spot_power(kx: int, ky: int, fill: tuple[float, float], S: int) -> float:
    """Fraction of the input power in the first-order spot of a (kx, ky)-cycle blazed grating.

    Independent of the envelope formula: the optics core's pixelated SLM (each pixel an aperture of width
    F·pitch, dead space absorbing, S samples per pixel), then its Fourier lens on the S-times finer grid.
    Sampling a pixel S times makes its transfer function a Dirichlet kernel, off by O(1/S²).
    """
    pitch = 9.2
    src = optics.plane_wave((N * S, N * S), pitch / S, 1.04)
    y, x = np.mgrid[0:N, 0:N]
    phase = 2 * np.pi * (kx * x + ky * y) / N
    u = optics.slm(src, phase, pitch=pitch, fill_factor=fill, levels=None, supersample=S)
    far = np.asarray(optics.intensity(optics.fourier_lens(u, 2e5)))
    c = N * S // 2
    return float(far[c + ky, c + kx] / far.sum() * (fill[0] * fill[1]) ** 2)


@pytest.mark.parametrize("fill", [(1.0, 1.0), (0.8, 0.8), (0.6, 0.8)])  # F·S whole and even
def test_envelope_matches_supersampled_slm(fill):
    ks = [(4, 0), (0, -9), (15, 0), (-16, 0), (11, -13)]

    ref = {s: supersampled_spot_power(0, 0, fill, s) for s in (10, 20)}

    def relative(kx, ky, s):
        return supersampled_spot_power(kx, ky, fill, s) / ref[s]

    for kx, ky in ks:
        # Richardson extrapolation of S = 10 and 20 to the continuous pixel (the O(1/S²) term cancels)
        measured = (4 * relative(kx, ky, 20) - relative(kx, ky, 10)) / 3
        xn, yn = normalised_coordinates([[N // 2 + kx, N // 2 + ky]], (N, N))
        want = pixel_envelope(xn, yn, (fill[0], fill[1]))[0]
        assert measured == pytest.approx(want, rel=2e-3), (kx, ky)


def test_envelope_is_not_flat_in_the_optics_core():
    # without the envelope a far spot would keep all its light: the reference really sees the pixels
    edge = supersampled_spot_power(-16, 0, (1.0, 1.0), 16)
    assert edge < 0.45 * supersampled_spot_power(0, 0, (1.0, 1.0), 16)


def test_edge_of_field_is_two_over_pi_squared():
    assert pixel_envelope(0.5, 0.0, 1.0) == pytest.approx((2 / np.pi) ** 2)
    assert pixel_envelope(0.0, 0.0, 0.9) == 1.0


def test_blaze_moves_the_envelope_centre():
    eff = efficiency([[20.0, 16.0]], (32, 32), 1.0, zero_order=(20.0, 16.0))
    assert eff[0] == pytest.approx(1.0)


def test_map_fit_recovers_a_smooth_truth_and_round_trips():
    rng = np.random.default_rng(1)
    xn, yn = rng.uniform(-0.45, 0.45, (2, 60))
    truth = pixel_envelope(xn, yn, 0.85) * (1 - 0.3 * (xn**2 + yn**2))
    measured = 123.0 * truth * (1 + 0.002 * rng.standard_normal(60))
    pm = fit_power_map(xn, yn, measured, 0.95, degree=4)
    gx, gy = np.meshgrid(np.linspace(-0.45, 0.45, 9), np.linspace(-0.45, 0.45, 9))
    model = pixel_envelope(gx, gy, 0.95) * pm(gx, gy)
    want = pixel_envelope(gx, gy, 0.85) * (1 - 0.3 * (gx**2 + gy**2))
    # the scale is free: compare shapes, normalised at the zero order
    np.testing.assert_allclose(model / pm(0, 0), want, rtol=0.01)
    assert pm.residual < 0.01
    again = PowerMap.from_dict(pm.to_dict())
    np.testing.assert_allclose(again(gx, gy), pm(gx, gy))
    with pytest.raises(CalibrationError, match="depth"):
        pm(0.1, 0.1, z=5.0)
    wild = PowerMap(degree=1, coefficients=(40.0, 0.0), fill_factor=1.0)  # extrapolated far too steeply
    assert wild(0.5, 0.0) == pytest.approx(2.0) and wild(-0.5, 0.0) == pytest.approx(0.5)


@pytest.mark.parametrize("bad, match", [
    ({"degree": 2, "coefficients": [1.0], "fill_factor": [1, 1]}, "needs 5 finite"),
    ({"degree": 2, "fill_factor": [1, 1]}, "missing key 'coefficients'"),
    ({"degree": 2, "coefficients": [0] * 5, "fill_factor": [1.5, 1]}, r"\(0, 1\]"),
    ([1, 2], "must be a mapping"),
])
def test_bad_power_map_names_the_problem(bad, match):
    with pytest.raises(CalibrationError, match=match):
        PowerMap.from_dict(bad, "cal.yaml")


def test_fit_refuses_unseen_spots():
    xn = np.linspace(-0.4, 0.4, 30)
    with pytest.raises(CalibrationError, match="positive flux"):
        fit_power_map(xn, xn, np.r_[np.ones(29), 0.0], 1.0, degree=2)


def test_the_gates_efficiency_grid_is_the_efficiency_at_each_pixel():
    from types import SimpleNamespace

    from holostim.session.power import PowerModel

    pm = PowerMap(degree=2, coefficients=(0.1, -0.05, -0.8, 0.2, -0.6), fill_factor=(0.9, 0.9))
    for padding in (1, 2):
        geo = SimpleNamespace(shape=(16, 20), zero_order_slm=np.array([9.0, 7.5]))  # a blazed zero order
        model = PowerModel(0.9, True, lambda g=geo: g, lambda: SimpleNamespace(power_map=pm))
        grid = model.grid((16 * padding, 20 * padding), padding)
        i, j = np.mgrid[0:16 * padding, 0:20 * padding]
        xy = np.column_stack([(20 // 2 + (j - 10 * padding) / padding).ravel(),
                              (16 // 2 + (i - 8 * padding) / padding).ravel()])
        want = efficiency(xy, (16, 20), 0.9, zero_order=(9.0, 7.5), power_map=pm).reshape(grid.shape)
        np.testing.assert_allclose(grid, want, rtol=1e-6)
        w, eff = model.engine_weights(xy[:3], np.ones(3))
        np.testing.assert_allclose(w * eff, 1.0)
