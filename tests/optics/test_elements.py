"""Elements: SLM pixel envelope, Zernike orthonormality, aperture coverage, lens and mask validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from holostim.optics import (
    Field,
    FieldError,
    SamplingWarning,
    ansi_to_nm,
    circular_aperture,
    fourier_lens,
    nm_to_ansi,
    plane_wave,
    power,
    quantize_phase,
    rectangular_aperture,
    slm,
    thin_lens,
    zernike,
    zernike_phase,
    zernike_polynomial,
)

WL = 1.04


def _first_order_efficiency(p, fill, s, m=48, levels=None):
    pitch = 8.0
    src = plane_wave((m * s, m * s), pitch / s, WL)
    jj, ii = np.indices((m, m))
    phase = 2 * np.pi * ii / p  # blazed grating along x, p pixels per period
    f = slm(src, phase, pitch=pitch, fill_factor=fill, levels=levels, supersample=s)
    g = fourier_lens(f, 1e4)
    n = m * s
    i = np.abs(g.u) ** 2
    # the first order lies m/p pixels from the zero order (a period of p pixels of pitch 8 µm)
    return i[n // 2, n // 2 + m // p] * g.spacing[0] * g.spacing[1] / float(power(src))


@pytest.mark.parametrize("p", [3, 4, 6])
def test_slm_blazed_grating_efficiency_is_sinc2_of_one_over_p(p):
    # full fill factor: only the pixel envelope sinc(f a) matters: sinc²(1/p) per grating axis. The
    # supersampled pixel (16 samples) has a Dirichlet rather than sinc envelope; the difference is
    # (π/(p s))²/3 ≈ 1e-3 relative for p=3, s=16, hence rel=2e-3.
    eta = _first_order_efficiency(p, 1.0, 16)
    assert eta == pytest.approx(np.sinc(1 / p) ** 2, rel=2e-3)


@pytest.mark.parametrize("fill", [0.75, 0.5])
def test_slm_fill_factor_envelope(fill):
    # fill factor F per axis (dead space absorbs): F² sinc²(F/p) along the grating axis, times F² for
    # the other axis' zero order (F sinc(0) squared)
    p = 4
    eta = _first_order_efficiency(p, fill, 16)
    assert eta == pytest.approx(fill**2 * np.sinc(fill / p) ** 2 * fill**2, rel=2e-3)


def test_slm_quantisation_and_levels():
    ph = np.array([[0.0, 0.1, np.pi, 2 * np.pi - 0.001, -0.5, 7.0]])
    q = quantize_phase(ph, 8)
    step = 2 * np.pi / 8
    assert np.allclose(q / step, np.round(q / step))
    assert np.all((q >= 0) & (q < 2 * np.pi))
    assert np.allclose(q, [[0, 0, np.pi, 0, 2 * np.pi - step, 7.0 - 2 * np.pi + (step - (7 - 2 * np.pi))]])
    # 2-level quantisation of a blazed grating: symmetric ±1 orders, each (2/π)² of the power
    # (binary grating theory), with pixel envelope sinc²(1/p) for p=4 at fill 1
    m, s = 32, 4
    src = plane_wave((m * s, m * s), 2.0, WL)
    ii = np.indices((m, m))[1]
    f = slm(src, 2 * np.pi * ii / 4 + np.pi / 4, pitch=8.0, levels=2, supersample=s)
    i = np.abs(fourier_lens(f, 1e4).u) ** 2
    n = m * s
    assert i[n // 2, n // 2 + 8] == pytest.approx(i[n // 2, n // 2 - 8], rel=1e-9)


def test_slm_validates_grid_and_values():
    src = plane_wave((32, 32), 2.0, WL)
    with pytest.raises(FieldError, match=r"needs an illumination field of shape \(64, 64\)"):
        slm(src, np.zeros((16, 16)), pitch=4.0, supersample=4)
    with pytest.raises(FieldError, match="pitch/supersample"):
        slm(src, np.zeros((8, 8)), pitch=6.0, supersample=4)
    with pytest.raises(FieldError, match="fill_factor"):
        slm(src, np.zeros((16, 16)), pitch=4.0, supersample=2, fill_factor=1.5)
    with pytest.raises(FieldError, match="NaN"):
        slm(src, np.full((16, 16), np.nan), pitch=4.0, supersample=2)


def test_zernike_indices_and_orthonormality():
    assert [ansi_to_nm(j) for j in range(6)] == [(0, 0), (1, -1), (1, 1), (2, -2), (2, 0), (2, 2)]
    assert ansi_to_nm(12) == (4, 0) and nm_to_ansi(3, 1) == 8
    # exact quadrature over the unit disc: Gauss–Legendre in r (polynomial degree <= 2 n_max + 1) and
    # a uniform rule in θ (exact for trigonometric degree < number of nodes)
    jmax = 21
    xr, wr = np.polynomial.legendre.leggauss(24)
    r = (xr + 1) / 2
    wr = wr / 2
    nt = 64
    th = np.arange(nt) * 2 * np.pi / nt
    rho, theta = np.meshgrid(r, th, indexing="ij")
    w = (wr * r)[:, None] * np.full(nt, 2 * np.pi / nt)[None, :] / np.pi  # (1/π) ∫∫ r dr dθ
    z = np.stack([zernike_polynomial(j, rho, theta) for j in range(jmax)])
    gram = np.einsum("iab,jab,ab->ij", z, z, w)
    assert np.allclose(gram, np.eye(jmax), atol=1e-12)


def test_zernike_element_rms_and_pupil():
    n, d, radius = 256, 0.1, 10.0
    c = {7: 0.3, 12: 0.5}
    ph = zernike_phase(c, (n, n), d, radius)
    y, x = np.indices((n, n))
    inside = np.hypot((y - n // 2) * d, (x - n // 2) * d) <= radius
    # orthonormal coefficients add in quadrature: RMS phase = sqrt(Σ c²) (sampling error ~1 %)
    assert np.sqrt(np.mean(ph[inside] ** 2)) == pytest.approx(math.hypot(0.3, 0.5), rel=0.01)
    outside = np.hypot((y - n // 2) * d, (x - n // 2) * d) > radius * (1 + 1e-9)
    assert np.all(ph[outside] == 0)
    f = zernike(plane_wave((n, n), d, WL), c, radius)
    assert np.allclose(np.angle(f.u[inside]), np.angle(np.exp(1j * ph[inside])))
    with pytest.raises(FieldError, match="j=4"):
        zernike_phase({4: np.nan}, (8, 8), 1.0, 2.0)
    with pytest.raises(FieldError, match="ANSI index -1"):
        zernike_phase({-1: 0.1}, (8, 8), 1.0, 2.0)


def test_apertures_have_exact_anti_aliased_area():
    f = plane_wave((128, 128), 0.5, WL)
    # rectangle: exact pixel coverage, so Σ t dA is the exact area even for edges inside pixels
    r = rectangular_aperture(f, 13.3, 7.1, center=(1.1, -0.4))
    assert np.sum(r.u.real) * 0.25 == pytest.approx(13.3 * 7.1, rel=1e-12)
    c = circular_aperture(f, 9.3, center=(0.3, 0.2))
    assert np.sum(c.u.real) * 0.25 == pytest.approx(np.pi * 9.3**2, rel=1e-4)
    hard = circular_aperture(f, 9.3, antialias=False)
    assert set(np.unique(hard.u.real)) <= {0.0, 1.0}
    for bad in (0.0, -1.0):
        with pytest.raises(FieldError, match="radius"):
            circular_aperture(f, bad)
        with pytest.raises(FieldError, match="wx"):
            rectangular_aperture(f, bad)


def test_thin_lens_phase_and_errors():
    f = plane_wave((65, 65), 0.5, WL)
    g = thin_lens(f, 500.0)
    y, x = f.grid()
    expect = np.exp(-1j * np.pi * (x**2 + y**2) / (WL * 500.0))
    assert np.allclose(g.u, expect, atol=1e-12)
    assert np.allclose(thin_lens(g, -500.0).u, f.u, atol=1e-12)  # diverging lens cancels it
    for bad in (0.0, float("inf"), "x"):
        with pytest.raises(FieldError, match="focal length"):
            thin_lens(f, bad)
    # in a medium the lens phase uses λ/n
    fm = Field(np.ones((65, 65)), 0.5, WL, n=1.33)
    assert np.allclose(thin_lens(fm, 500.0).u, np.exp(-1j * np.pi * 1.33 * (x**2 + y**2) / (WL * 500.0)))


def test_thin_lens_warns_when_its_chirp_aliases():
    f = plane_wave((256, 256), 1.0, WL)
    # Nyquist reached at r = λ f / (2 d) = 1.04 * 100 / 2 = 52 µm, inside the 128 µm half-width
    with pytest.warns(SamplingWarning, match=r"aliases beyond \|x\| = λ\|f\|/\(2 dx\) = 52 µm"):
        thin_lens(f, 100.0)
