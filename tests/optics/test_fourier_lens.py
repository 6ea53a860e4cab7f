"""fourier_lens against analytic Fraunhofer optics (Airy, sinc², Gaussian focus, 4f inversion).

Grids are sized so that the apertures are well oversampled (>= 64 samples across) and the far field
resolves each lobe with >= 8 samples; the remaining discretisation error is the sampled-aperture
factor (π d f)/sin(π d f), < 1e-3 of the peak over the lobes compared.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import j0, j1

from holostim.optics import (
    Field,
    FieldError,
    circular_aperture,
    fourier_lens,
    gaussian_beam,
    plane_wave,
    power,
    rectangular_aperture,
)

WL = 0.5
F = 1000.0


@pytest.mark.parametrize("n", [63, 64])
def test_centring_pitch_and_power(n):
    rng = np.random.default_rng(1)
    u = rng.normal(size=(n, n + 2)) + 1j * rng.normal(size=(n, n + 2))
    f = Field(u, (0.7, 0.9), WL)
    g = fourier_lens(f, F)
    assert g.spacing == pytest.approx((WL * F / (n * 0.7), WL * F / ((n + 2) * 0.9)))
    assert float(power(g)) == pytest.approx(float(power(f)), rel=1e-12)
    # zero order at index N//2, with the physical factor dy dx / (i λ f)
    dc = u.sum() * 0.7 * 0.9 / (1j * WL * F)
    assert g.u[n // 2, (n + 2) // 2] == pytest.approx(dc, rel=1e-12)
    # a tilt of k cycles over the grid lands k pixels from the zero order
    yy, xx = np.indices((n, n + 2))
    tilt = Field(np.exp(2j * np.pi * 5 * xx / (n + 2)), (0.7, 0.9), WL)
    i = np.abs(fourier_lens(tilt, F).u) ** 2
    assert np.unravel_index(np.argmax(i), i.shape) == (n // 2, (n + 2) // 2 + 5)


def test_single_precision_power():
    f = gaussian_beam((64, 64), 1.0, WL, 8.0, dtype=np.complex64)
    g = fourier_lens(f, F)
    assert g.dtype == np.complex64
    assert float(power(g)) == pytest.approx(float(power(f)), rel=1e-5)


def test_airy_pattern_zero_and_encircled_energy():
    n, dx, a = 512, 1.0, 32.0
    f = circular_aperture(plane_wave((n, n), dx, WL), a)
    g = fourier_lens(f, F)
    i = np.abs(g.u) ** 2
    i0 = (np.pi * a**2 / (WL * F)) ** 2  # |∫u dA / (λ f)|²
    assert i[n // 2, n // 2] == pytest.approx(i0, rel=1e-3)
    d = g.spacing[1]
    r = np.abs((np.arange(n) - n // 2) * d)
    v = 2 * np.pi * a * r / (WL * F)
    with np.errstate(invalid="ignore", divide="ignore"):
        airy = np.where(v == 0, 1.0, (2 * j1(v) / v) ** 2)
    sel = v < 10.2  # three rings
    assert np.max(np.abs(i[n // 2, sel] / i0 - airy[sel])) < 1e-3
    # first zero at 0.61 λ f / a: the row minimum between the peak and the first ring
    first = 0.6098 * WL * F / a
    k = np.argmin(i[n // 2, n // 2: n // 2 + int(1.5 * first / d)])
    assert abs(k * d - first) <= d / 2 + 1e-9
    # encircled energy 1 - J0² - J1² at the first three dark rings, as a fraction of the power π a²
    # through the aperture (the anti-aliased edge pixels carry coverage², so the sampled aperture's own
    # total is ~1 % lower: that missing power is the aperture edge's high-frequency tail, not the core).
    y, x = np.indices(i.shape)
    rr = np.hypot(y - n // 2, x - n // 2) * d
    for v0 in (3.8317, 7.0156, 10.1735):
        radius = v0 * WL * F / (2 * np.pi * a)
        ee = i[rr <= radius].sum() * d * d / (np.pi * a**2)
        assert ee == pytest.approx(1 - j0(v0) ** 2 - j1(v0) ** 2, abs=1e-3)


def test_rectangular_aperture_gives_sinc_squared():
    n, dx = 512, 1.0
    wx, wy = 64.0, 32.0
    g = fourier_lens(rectangular_aperture(plane_wave((n, n), dx, WL), wx, wy), F)
    i = np.abs(g.u) ** 2
    i0 = (wx * wy / (WL * F)) ** 2
    assert i[n // 2, n // 2] == pytest.approx(i0, rel=1e-9)
    xs = (np.arange(n) - n // 2) * g.spacing[1]
    ys = (np.arange(n) - n // 2) * g.spacing[0]
    selx = np.abs(xs) <= 4 * WL * F / wx
    sely = np.abs(ys) <= 4 * WL * F / wy
    assert np.max(np.abs(i[n // 2, selx] / i0 - np.sinc(wx * xs[selx] / (WL * F)) ** 2)) < 1e-3
    assert np.max(np.abs(i[sely, n // 2] / i0 - np.sinc(wy * ys[sely] / (WL * F)) ** 2)) < 2e-3
    # separable: I(x, y) = I0 sinc²(x) sinc²(y) off the axes too
    jx, jy = n // 2 + 5, n // 2 + 3
    expect = np.sinc(wx * xs[jx] / (WL * F)) ** 2 * np.sinc(wy * ys[jy] / (WL * F)) ** 2
    assert i[jy, jx] / i0 == pytest.approx(expect, abs=1e-3)


def test_gaussian_focuses_to_lambda_f_over_pi_w():
    n, dx, w = 256, 1.0, 20.0
    g = fourier_lens(gaussian_beam((n, n), dx, WL, w), F)
    i = np.abs(g.u) ** 2
    x = (np.arange(n) - n // 2) * g.spacing[1]
    prof = i.sum(axis=0)
    w_focus = 2 * np.sqrt((prof * x**2).sum() / prof.sum())  # 1/e² radius = 2σ of the intensity
    assert w_focus == pytest.approx(WL * F / (np.pi * w), rel=1e-6)


@pytest.mark.parametrize("n", [31, 32])
def test_two_lenses_invert_and_inverse_undoes(n):
    rng = np.random.default_rng(2)
    u = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    f = Field(u, 1.3, WL)
    twice = fourier_lens(fourier_lens(f, F), F)
    assert twice.spacing == pytest.approx(f.spacing)
    idx = (2 * (n // 2) - np.arange(n)) % n  # centred index of -x
    assert np.allclose(twice.u, -u[np.ix_(idx, idx)], atol=1e-12)
    back = fourier_lens(fourier_lens(f, F), F, inverse=True)
    assert np.allclose(back.u, u, atol=1e-12)


def test_bad_focal_length_and_polychromatic_field():
    f = plane_wave((8, 8), 1.0, WL)
    for bad in (0.0, -5.0, float("nan")):
        with pytest.raises(FieldError, match="focal length"):
            fourier_lens(f, bad)
    poly = Field(np.ones((2, 8, 8)), 1.0, [0.5, 0.6])
    with pytest.raises(FieldError, match="differs"):
        fourier_lens(poly, F)
