"""Propagators against analytic optics: Parseval, reversibility, Gaussian beams, Fresnel integrals,
Talbot self-imaging, the lens/Fourier-transform identity, and the on-axis Fresnel-zone oscillation.

Grids are modest (<= 512², padded to 1024²) so the file runs in a few seconds; each tolerance is set
by the physics or numerics named next to it, not fitted to the result.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import fresnel

from holostim.optics import (
    Field,
    FieldError,
    SamplingWarning,
    circular_aperture,
    focal_stack,
    fourier_lens,
    fresnel_critical_distance,
    gaussian_beam,
    gaussian_beam_parameters,
    plane_wave,
    power,
    propagate,
    rectangular_aperture,
    thin_lens,
)
from holostim.optics import propagation as prop

WL = 0.5


def _rel_power(a, b):
    return abs(float(power(a)) / float(power(b)) - 1)


@pytest.mark.parametrize("dtype, tol", [(np.complex128, 1e-12), (np.complex64, 1e-5)])
@pytest.mark.parametrize("method, z", [("asm", 150.0), ("fresnel-tf", 40.0), ("asm", -80.0)])
def test_parseval_and_reversibility(dtype, tol, method, z):
    # a Gaussian (w0 = 6 µm on 0.5 µm samples, 128 µm window) is band-limited far inside the ASM band
    # limit and stays far inside the window (tails < 1e-30 at the edge), so the propagators are unitary
    # on it: power and the +z/-z round trip are exact to rounding.
    f = gaussian_beam((256, 256), 0.5, WL, 6.0, dtype=dtype)
    g = propagate(f, z, method)
    assert g.dtype == dtype
    assert _rel_power(g, f) < tol
    back = propagate(g, -z, method)
    err = np.max(np.abs(back.u - f.u)) / np.max(np.abs(f.u))
    assert err < (1e-12 if dtype == np.complex128 else 2e-6)


def test_parseval_fourier_lens_and_fresnel_tf_on_random_fields():
    # fourier_lens and the unpadded Fresnel transfer function are unitary on *any* field
    rng = np.random.default_rng(5)
    u = rng.normal(size=(2, 64, 64)) + 1j * rng.normal(size=(2, 64, 64))
    f = Field(u, 0.5, WL)
    assert np.allclose(power(fourier_lens(f, 500.0)), power(f), rtol=1e-12, atol=0)
    g = propagate(f, 10.0, "fresnel-tf", pad=1)
    assert np.allclose(power(g), power(f), rtol=1e-12, atol=0)
    assert np.allclose(propagate(g, -10.0, "fresnel-tf", pad=1).u, u, atol=1e-12)


@pytest.mark.parametrize("method, tol, n",
                         [("fresnel", 1e-6, 1.0), ("fresnel", 1e-6, 1.33), ("asm", 2e-3, 1.0)])
def test_gaussian_beam_width_on_axis_intensity_and_gouy_phase(method, tol, n):
    # Fresnel propagation solves the paraxial equation the Gaussian beam solves: agreement to rounding
    # (1e-6 leaves room for the e^-2(L/2w)² truncation). The exact angular spectrum differs from the
    # paraxial beam by O((λ / π w0)²) = 2.5e-4 here, hence 2e-3 for the ASM. n = 1.33: in water,
    # z_R = π w0² n / λ grows by n.
    w0 = 10.0
    f = gaussian_beam((256, 256), 0.5, WL, w0, n=n)
    zr = math.pi * w0**2 * n / WL
    k = 2 * math.pi * n / WL
    y, x = f.grid()
    for frac in (0.5, 1.0, 2.0):
        z = frac * zr
        g = propagate(f, z, method)
        i = np.abs(g.u) ** 2
        w_expect = w0 * math.sqrt(1 + frac**2)
        w_meas = 2 * math.sqrt(float((i * x**2).sum() / i.sum()))
        assert w_meas == pytest.approx(w_expect, rel=tol)
        c = (128, 128)
        assert i[c] == pytest.approx((w0 / w_expect) ** 2, rel=tol)
        gouy = -np.angle(g.u[c] * np.exp(-1j * k * z))
        assert gouy == pytest.approx(math.atan(frac), abs=tol)
        p = gaussian_beam_parameters(w0, WL, z, n)
        assert p["w"] == pytest.approx(w_expect) and p["gouy"] == pytest.approx(math.atan(frac))
        # the source built at distance z agrees with the propagated beam
        src = gaussian_beam((256, 256), 0.5, WL, w0, z=z, n=n).u * np.exp(1j * k * z)
        assert np.max(np.abs(g.u - src)) < tol


def _fresnel_square(x, y, a, z):
    """Fresnel-integral field of a unit plane wave behind the square |x|, |y| < a (carrier omitted)."""
    s = math.sqrt(2 / (WL * z))

    def one(t):
        s2, c2 = fresnel(s * (a - t))
        s1, c1 = fresnel(s * (-a - t))
        return (c2 - c1) + 1j * (s2 - s1)

    return one(x) * one(y) / 2j


@pytest.mark.parametrize("nf", [0.5, 2.0])
def test_square_aperture_matches_fresnel_integrals(nf):
    a = 16.0  # half-width, 128 samples across on 0.25 µm
    z = a**2 / (WL * nf)
    f = rectangular_aperture(plane_wave((256, 256), 0.25, WL), 2 * a)
    g = propagate(f, z, "fresnel")
    y, x = f.grid()
    expect = _fresnel_square(x, y, a, z) * np.exp(1j * 2 * math.pi * z / WL)
    sel = (np.abs(x) <= 1.25 * a) & (np.abs(y) <= 1.25 * a)
    err = np.max(np.abs(g.u - expect)[sel])
    # the discretised hard edge limits agreement to ~1e-3 of the unit incident amplitude
    assert err < 5e-3
    # (the exact angular spectrum is not compared: on this 64 µm grid its band limit must drop the
    # aperture's high frequencies at these distances, and it says so)
    with pytest.warns(SamplingWarning, match="drops"):
        propagate(f, z, "asm")


def test_talbot_self_imaging_distinguishes_exact_from_paraxial():
    d, m = 2.0, 0.5  # period comparable to λ: exact and paraxial Talbot distances differ by 1.6 %
    n = 64
    dx = d / 8
    x = (np.arange(n) - n // 2) * dx
    u = np.tile(1 + m * np.cos(2 * np.pi * x / d), (4, 1))
    f = Field(u, dx, WL)
    i0 = np.abs(u) ** 2
    z_t = WL / (1 - math.sqrt(1 - (WL / d) ** 2))
    z_par = 2 * d**2 / WL
    # periodic field: no padding (it would break the periodicity)
    exact = np.abs(propagate(f, z_t, "asm", pad=1).u) ** 2
    assert np.max(np.abs(exact - i0)) < 1e-10
    wrong = np.abs(propagate(f, z_par, "asm", pad=1).u) ** 2
    assert np.max(np.abs(wrong - i0)) > 3e-3
    # the paraxial propagator self-images at the paraxial distance instead. (Its transfer function is
    # sampled exactly on a periodic field's harmonics, so the general chirp-sampling warning, which
    # cannot know the field is periodic, is expected here.)
    with pytest.warns(SamplingWarning, match="z_c"):
        par = np.abs(propagate(f, z_par, "fresnel-tf", pad=1).u) ** 2
    assert np.max(np.abs(par - i0)) < 1e-10


def test_thin_lens_then_propagation_over_f_equals_fourier_lens():
    n, f_len = 256, 2000.0
    dx = math.sqrt(WL * f_len / n)  # so both give the same output pitch λ f / (N dx) = dx
    g = gaussian_beam((n, n), dx, WL, 0.2 * n * dx)
    a = propagate(thin_lens(g, f_len), f_len, "fresnel", pad=1)
    b = fourier_lens(g, f_len)
    assert a.spacing == pytest.approx(b.spacing)
    ia, ib = np.abs(a.u) ** 2, np.abs(b.u) ** 2
    assert np.max(np.abs(ia - ib)) < 1e-10 * ib.max()
    # the complex fields differ only by the output-plane quadratic phase exp(i k r²/(2f)) and e^{ikf}
    y, x = b.grid()
    k = 2 * np.pi / WL
    expected = b.u * np.exp(1j * k * (x**2 + y**2) / (2 * f_len)) * np.exp(1j * k * f_len)
    assert np.max(np.abs(a.u - expected)) < 1e-9 * np.max(np.abs(b.u))


@pytest.mark.parametrize("nf", [0.5, 1.0, 1.5, 2.0])
def test_on_axis_intensity_behind_circular_aperture(nf):
    a = 20.0
    z = a**2 / (WL * nf)
    f = circular_aperture(plane_wave((256, 256), 0.25, WL), a)
    g = propagate(f, z, "fresnel")
    # exact in the Fresnel limit: |1 - exp(iπ N_F)|² = 4 sin²(π N_F / 2); the anti-aliased edge gives
    # the area to ~1e-4, so 2e-3 of the peak value 4.
    assert abs(g.u[128, 128]) ** 2 == pytest.approx(4 * math.sin(math.pi * nf / 2) ** 2, abs=2e-3)


def test_single_precision_tracks_double_after_20_rayleigh_ranges():
    w0 = 4.0
    zr = math.pi * w0**2 / WL
    f64 = gaussian_beam((512, 512), 1.0, WL, w0)
    f32 = gaussian_beam((512, 512), 1.0, WL, w0, dtype=np.complex64)
    g64 = propagate(f64, 20 * zr)
    g32 = propagate(f32, 20 * zr)
    assert g32.dtype == np.complex64
    scale = np.max(np.abs(g64.u))
    assert np.max(np.abs(g32.u - g64.u)) / scale < 1e-5


def test_fresnel_picks_tf_or_ir_by_critical_distance_and_warns_when_forced():
    f = gaussian_beam((64, 64), 0.5, WL, 3.0)
    zc = fresnel_critical_distance((128, 128), f.spacing, WL)  # padded grid, pad=2
    assert zc == pytest.approx(128 * 0.25 / WL)
    assert prop._resolve_method(f, 0.5 * zc, "fresnel", (128, 128)) == "fresnel-tf"
    assert prop._resolve_method(f, 2 * zc, "fresnel", (128, 128)) == "fresnel-ir"
    with pytest.warns(SamplingWarning, match=r"z_c = N d² n/λ = 64"):
        propagate(f, 2 * zc, "fresnel-tf")
    with pytest.warns(SamplingWarning, match="impulse response"):
        propagate(f, 0.5 * zc, "fresnel-ir")
    # TF and IR agree where both are near their limit
    a = propagate(f, zc, "fresnel-tf").u
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = propagate(f, zc, "fresnel-ir").u
    assert np.max(np.abs(a - b)) < 1e-3 * np.max(np.abs(a))


def test_asm_band_limit_warning_names_the_limit():
    # a fine-featured field propagated far on a small grid: the band limit must cut it, and say so
    f = rectangular_aperture(plane_wave((64, 64), 0.5, WL), 2.0)
    with pytest.warns(SamplingWarning, match=r"band limit \(Matsushima\).*cycles/µm.*pad more"):
        propagate(f, 2000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        propagate(f, 2000.0, check=False)  # the check can be switched off once verified


def test_kernel_cache_keys_and_reuse():
    prop.clear_kernel_cache()
    f = gaussian_beam((32, 32), 0.5, WL, 3.0)
    propagate(f, 10.0)
    propagate(f, 10.0)
    assert len(prop.kernel_cache_info()) == 1
    propagate(Field(f.u.astype(np.complex64), f.spacing, WL), 10.0)
    propagate(f, 11.0)
    keys = prop.kernel_cache_info()
    assert len(keys) == 3
    assert {k[7] for k in keys} == {"complex128", "complex64"}
    h64, _ = prop.transfer_function((32, 32), (0.5, 0.5), WL, 10.0, like=f.u)
    h32, _ = prop.transfer_function((32, 32), (0.5, 0.5), WL, 10.0, like=f.u.astype(np.complex64))
    # built in float64 and cast: the single kernel is the rounded double one
    assert np.array_equal(h32, h64.astype(np.complex64))


def test_focal_stack_matches_individual_propagations():
    f = gaussian_beam((64, 64), 0.5, WL, 3.0)
    zs = [-20.0, 0.0, 15.0]
    stack = focal_stack(f, zs)
    assert stack.u.shape == (3, 64, 64)
    for i, z in enumerate(zs):
        assert np.allclose(stack.u[i], propagate(f, z).u, atol=1e-13)


def test_polychromatic_field_propagates_each_wavelength():
    wls = np.array([0.5, 0.8])
    u = np.stack([gaussian_beam((64, 64), 0.5, w, 3.0).u for w in wls])
    f = Field(u, 0.5, wls)
    g = propagate(f, 30.0)
    for i, w in enumerate(wls):
        assert np.allclose(g.u[i], propagate(Field(u[i], 0.5, w), 30.0).u, atol=1e-13)


def test_bad_propagation_input():
    f = plane_wave((8, 8), 1.0, WL)
    with pytest.raises(FieldError, match="method 'rs'"):
        propagate(f, 1.0, "rs")
    with pytest.raises(FieldError, match="z=nan"):
        propagate(f, float("nan"))
    with pytest.raises(FieldError, match="pad=0.5"):
        propagate(f, 1.0, pad=0.5)
    with pytest.raises(FieldError, match="Field"):
        propagate(f.u, 1.0)


def test_kernel_cache_respects_its_memory_budget(monkeypatch):
    prop.clear_kernel_cache()
    f = gaussian_beam((64, 64), 0.5, WL, 3.0)
    one = 128 * 128 * 16  # one padded complex128 kernel
    monkeypatch.setattr(prop, "CACHE_MB", 2.5 * one / 2**20)
    for z in (1.0, 2.0, 3.0, 4.0):
        propagate(f, z, "fresnel-tf")
    keys = prop.kernel_cache_info()
    assert len(keys) == 2 and [k[5] for k in keys] == [3.0, 4.0]  # the least recently used went first
    prop.clear_kernel_cache()
