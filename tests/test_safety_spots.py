"""The gate judges each spot where it really focuses: between Fourier pixels and at its own depth.

The Fourier-plane grid sees only part of a spot that sits between its pixels, and a spot focused at
another depth is spread out in that plane; judged by the grid alone, exactly those spots would be
under-predicted (and a per-spot limit could pass light above it). The gate takes the larger of the grid's
box and the spot's own projection (:func:`holostim.session.power.spot_power_fractions`).
"""

from __future__ import annotations

import numpy as np
import pytest

from holostim.config.schema import SafetyConfig
from holostim.holography.defocus import DefocusModel
from holostim.safety import SafetyError, SafetyGate
from holostim.session.power import spot_power_fractions

N = 128
OPTICS = dict(wavelength_um=1.04, focal_length_um=200e3 / 50, magnification=1.0, pitch_um=9.2,
              objective_na=1.0, medium_index=1.33)


def tilt_phase(x: float, y: float, a: float = 0.0) -> np.ndarray:
    """The phase of one spot at Fourier pixel (x, y), with a paraxial defocus a per pixel² (wrapped)."""
    yy, xx = np.mgrid[:N, :N] - N // 2
    return np.mod(2 * np.pi * ((x - N // 2) * xx + (y - N // 2) * yy) / N + a * (xx**2 + yy**2), 2 * np.pi)


def gates(limit_mw: float = 15.0):
    limits = SafetyConfig(laser_power_mw=20.0, max_power_per_spot_mw=limit_mw)
    grid_only = SafetyGate(limits)
    both = SafetyGate(limits, spot_power=lambda ph, spots: spot_power_fractions(
        ph, spots, None, DefocusModel("paraxial", **OPTICS), np.ones(len(spots))))
    return grid_only, both


def test_a_spot_between_fourier_pixels_is_judged_at_its_full_power():
    grid_only, both = gates()
    spot = np.array([[80.5, 40.5]])
    ph = tilt_phase(80.5, 40.5)
    own = spot_power_fractions(ph, np.column_stack([spot, [0.0]]), None, None, [1.0])
    assert own[0] == pytest.approx(1.0, abs=1e-4)  # one perfect spot: all the light
    seen, _, _ = grid_only.spot_fractions(ph, spot)
    assert seen[0] < 0.9  # the grid's box misses the sinc tails of a spot between pixels
    at, peak, _ = both.spot_fractions(ph, spot)
    assert at[0] == pytest.approx(1.0, abs=1e-4) and peak >= at[0]
    # 20 mW in one spot: over a 19 mW limit, which the grid alone would have let through
    assert 20.0 * seen[0] < 19.0
    with pytest.raises(SafetyError, match="max_power_per_spot_mw"):
        SafetyGate(SafetyConfig(laser_power_mw=20.0, max_power_per_spot_mw=19.0),
                   spot_power=both.spot_power).decide("pattern", ph, spot)


def test_a_deep_spot_is_judged_at_its_focus_not_where_the_fourier_plane_spreads_it():
    model = DefocusModel("paraxial", **OPTICS)
    z = 400.0
    a = float(model.paraxial_coefficient(np.array([z]))[0])
    ph = tilt_phase(70.0, 60.0, a)
    grid_only, both = gates()
    spot3 = np.array([[70.0, 60.0, z]])
    seen, _, _ = grid_only.spot_fractions(ph, spot3)
    at, peak, _ = both.spot_fractions(ph, spot3)
    assert seen[0] < 0.5  # defocused in the Fourier plane
    assert at[0] == pytest.approx(1.0, abs=1e-3) and peak == pytest.approx(at[0])
    with pytest.raises(SafetyError, match="max_power_per_spot_mw"):
        both.decide("pattern", ph, spot3)  # 20 mW at its focus, over 15
    assert grid_only.decide("pattern", ph, spot3).light  # what the grid alone would have permitted


def test_the_two_agree_for_a_spot_on_the_grid():
    grid_only, both = gates()
    ph = tilt_phase(90.0, 30.0)
    spot = np.array([[90.0, 30.0]])
    a, _, _ = grid_only.spot_fractions(ph, spot)
    b, _, _ = both.spot_fractions(ph, spot)
    assert a[0] == pytest.approx(1.0, abs=1e-4) and b[0] == pytest.approx(a[0], abs=1e-4)


def test_spot_power_fractions_single_precision_field_equals_the_plain_projection():
    """The gate builds A·e^{iφ} in complex64 from cos/sin; the plain float64 exp gives the same shares."""
    from holostim.backend import get_backend
    from holostim.holography.spot_basis import SpotBasis
    from holostim.holography.targets import SpotTarget
    from holostim.session.power import spot_power_fractions

    rng = np.random.default_rng(3)
    shape = (96, 80)
    phase = rng.uniform(0, 2 * np.pi, shape)
    amp = rng.uniform(0.2, 1.0, shape)
    spots = np.array([[30.0, 40.0, 0.0], [52.5, 61.25, 0.0], [20.0, 70.0, 0.0]])
    eff = np.array([1.0, 0.9, 0.8])
    for a in (None, amp):
        got = spot_power_fractions(phase, spots, a, None, eff)
        aa = np.ones(shape) if a is None else a
        target = SpotTarget.from_pixels(spots[:, :2], shape=shape)
        basis = SpotBasis(target, get_backend("numpy", "double"), None)
        g = np.asarray(basis.values(aa * np.exp(1j * phase)))
        want = np.abs(g) ** 2 * (shape[0] * shape[1]) / aa.sum() ** 2 * eff
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-9)
