"""Multislice through a refractive-index volume, against physics it must reproduce.

* a homogeneous slab: the exact phase delay ``k0 (n1 - n0) L`` at normal incidence, for any slicing;
  tilted, the exact angular spectrum in the slab's own index (the method's known first-order
  obliquity and walk-off errors bounded, and shrinking with ``Δn``);
* a weak phase object: the scattered field ``u - u0`` against the first Born approximation, written
  here from the analytic 3-D Fourier transforms of a Gaussian blob and a sphere (not from multislice);
* energy: conserved in a lossless volume, ``exp(-2 k0 κ L)`` in an absorbing one;
* slice convergence (first order), the random medium's statistics and its ballistic decay;
* the API's options and errors; JAX (jit, grad in Δn and input phase, vmap over wavelengths) and
  ``array_api_strict`` (the CuPy stand-in).

Grids are small (64², tens of slices); every test runs in well under a second on numpy.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from holostim.optics import (
    Field,
    FieldError,
    gaussian_beam,
    intensity,
    multislice,
    phase_mask,
    plane_wave,
    power,
    propagate,
    random_volume,
    scattering_length,
    slab_volume,
    sphere_volume,
    split_step,
)

N, D, WL, N0 = 64, 0.5, 0.8, 1.33  # d = 0.5 µm > λ/(√2 n0): every grid frequency propagates
K0 = 2 * math.pi / WL
PERIODIC = {"pad": 1, "band_limit": False}  # a laterally periodic sample (plane waves, tiling media)


def grid_x(n=N, d=D):
    return (np.arange(n) - n // 2) * d


def periodic_tilt(m, n=N):
    """The angle whose plane wave has exactly ``m`` periods across the window (periodic in x)."""
    return math.asin(m * WL / (N0 * n * D))


# --- homogeneous slab -----------------------------------------------------------------------------------
@pytest.mark.parametrize("nz", [1, 3, 10, 37])
def test_slab_at_normal_incidence_delays_by_exactly_k0_dn_L_for_any_slicing(nz):
    n1, start, thickness, depth = 1.41, 1.2, 7.3, 10.0  # faces fall inside slices
    dz = depth / nz
    f = plane_wave((N, N), D, WL, n=N0)
    slab = slab_volume((nz, 1, 1), dz, n1 - N0, thickness=thickness, start=start)
    out = multislice(f, slab, dz, **PERIODIC)
    expected = np.exp(1j * K0 * (N0 * depth + (n1 - N0) * thickness))
    assert out.n == N0
    assert np.max(np.abs(out.u - expected)) < 1e-12
    # the same slab given as absolute indices n(x, y, z)
    absolute = slab_volume((nz, N, N), dz, n1 - N0, thickness=thickness, start=start) + N0
    out_abs = multislice(f, absolute, dz, absolute=True, **PERIODIC)
    assert np.max(np.abs(out_abs.u - expected)) < 1e-12


def test_tilted_plane_wave_phase_delay_against_the_exact_slab():
    """The exact delay in a slab is (kz1 - kz0) L; the split-step screen gives k0 Δn L at every angle.

    Their ratio is the screen's missing obliquity 1/cos θ: the deviation is about θ²/2 (a known
    first-order limitation, bounded here), and it vanishes at normal incidence.
    """
    dn, length, nz = 0.03, 12.0, 12
    vol = slab_volume((nz, 1, 1), length / nz, dn)
    deviations = []
    for m in (0, 4, 10):
        th = periodic_tilt(m)
        f = plane_wave((N, N), D, WL, angle=(th, 0.0), n=N0)
        out = multislice(f, vol, length / nz, **PERIODIC)
        bg = propagate(f, length, **PERIODIC)
        delay = np.angle(np.vdot(bg.u, out.u))
        assert np.max(np.abs(out.u - bg.u * np.exp(1j * delay))) < 1e-12  # still one plane wave
        assert delay == pytest.approx(K0 * dn * length, abs=1e-10)
        kx = K0 * N0 * math.sin(th)
        exact = (math.sqrt((K0 * (N0 + dn)) ** 2 - kx**2) - math.sqrt((K0 * N0) ** 2 - kx**2)) * length
        deviations.append(abs(delay / exact - 1))
        assert deviations[-1] <= 0.6 * th**2 + 1e-12
    assert deviations[0] < 1e-3 * deviations[1] and deviations[1] < deviations[2]


def test_tilted_beam_walk_off_against_snell():
    """A tilted Gaussian through a slab vs the exact angular spectrum in the slab's index n1.

    The exact beam walks off by L tan θ1 (Snell: n1 sin θ1 = n0 sin θ0). The split-step carries the
    beam at the background's angle θ0; the difference is of order (Δn / n0) tan θ and halves with Δn,
    which is why the docstring says to choose n0 as the sample's mean index.
    """
    n, w0, th, length, nz = 128, 4.0, 0.15, 40.0, 40
    x = grid_x(n)
    g = gaussian_beam((n, n), D, WL, w0, n=N0)
    g = g.with_u(g.u * np.exp(1j * K0 * N0 * math.sin(th) * x)[None, :])

    def centroid(u):
        i = np.abs(u) ** 2
        return float((i.sum(axis=0) * x).sum() / i.sum())

    assert centroid(propagate(g, length).u) == pytest.approx(length * math.tan(th), rel=3e-3)
    errors = []
    for dn in (0.04, 0.02):
        n1 = N0 + dn
        ms = multislice(g, slab_volume((nz, 1, 1), length / nz, dn), length / nz)
        exact = propagate(g.with_medium(n1), length)
        th1 = math.asin(N0 * math.sin(th) / n1)
        assert centroid(exact.u) == pytest.approx(length * math.tan(th1), rel=3e-3)  # the reference is right
        snell_gap = length * (math.tan(th) - math.tan(th1))
        errors.append(abs(centroid(ms.u) - centroid(exact.u)))
        assert errors[-1] <= 1.1 * snell_gap
        # the same beam, the same power, and the exact delay on the axis up to the obliquity
        assert power(ms) == pytest.approx(power(exact), rel=1e-6)
    assert errors[1] == pytest.approx(errors[0] / 2, rel=0.1)


# --- weak objects against the first Born approximation --------------------------------------------------
def born_field(ft3, nz, dz, n=N, d=D):
    """First Born scattered field at z = nz dz behind a volume with 3-D Fourier transform ``ft3(kx, ky, qz)``.

    For a plane wave exp(i k z), k = k0 n0, in a medium of index n0 + Δn, the scattered angular
    spectrum after the object is  U_s(kx, ky) = (i k0² n0 / kz) exp(i kz z) · Δñ(kx, ky, kz - k),
    with kz = sqrt(k² - kx² - ky²) and Δñ(q) = ∫ Δn(r) exp(-i q·r) d³r (the Weyl expansion of the
    Green's function; the potential k0² (n² - n0²) ≈ 2 k0² n0 Δn to first order). Returned on the
    centred grid: u(x) = (1/(dx dy)) IDFT[U_s exp(-i k·x_0)], x_0 the grid's first sample.
    """
    k = K0 * N0
    kx = 2 * np.pi * np.fft.fftfreq(n, d)
    kxx, kyy = np.meshgrid(kx, kx)
    kz = np.sqrt(k**2 - kxx**2 - kyy**2)
    us = 1j * K0**2 * N0 / kz * np.exp(1j * kz * nz * dz) * ft3(kxx, kyy, kz - k)
    return np.fft.ifft2(us * np.exp(-1j * (kxx + kyy) * (n // 2) * d)) / d**2


def scattered(volume, dz):
    f = plane_wave((N, N), D, WL, n=N0)
    u = multislice(f, volume, dz, **PERIODIC).u
    u0 = multislice(f, np.zeros((volume.shape[0], 1, 1)), dz, **PERIODIC).u
    return u - u0


def test_weak_gaussian_blob_matches_first_born_and_the_error_is_second_order():
    """A Gaussian blob (σ 2.5 µm) of peak contrast δ, centred 10 µm deep in a 20 µm volume.

    Relative error 1.7 % at δ = 1e-3 (its phase through the centre, 0.05 rad, over 2 — the first
    neglected term), halving with δ: the absolute error falls as δ² (ratio 4 within 10 %).
    """
    nz, dz, sig, zc = 40, 0.5, 2.5, 10.0
    x, z = grid_x(), np.arange(nz) * dz  # the blob sampled on each slice's screen plane

    def blob(delta):
        return delta * np.exp(-((z[:, None, None] - zc) ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2)
                              / (2 * sig**2))

    def blob_ft(delta):
        return lambda kx, ky, qz: (delta * (2 * np.pi) ** 1.5 * sig**3
                                   * np.exp(-sig**2 * (kx**2 + ky**2 + qz**2) / 2) * np.exp(-1j * qz * zc))

    err = {}
    for delta in (1e-3, 5e-4):
        ref = born_field(blob_ft(delta), nz, dz)
        err[delta] = np.linalg.norm(scattered(blob(delta), dz) - ref), np.linalg.norm(ref)
    rel = {k: e / r for k, (e, r) in err.items()}
    assert rel[1e-3] < 0.025 and rel[5e-4] < 0.0125
    assert err[1e-3][0] / err[5e-4][0] == pytest.approx(4.0, rel=0.1)


def test_weak_sphere_from_sphere_volume_matches_first_born():
    """A cell-sized sphere (r 4 µm, δ 5e-4) built by sphere_volume, against the analytic sphere.

    Δñ(q) = δ 4π r³ (sin qr - qr cos qr)/(qr)³. The voxel-averaged sphere agrees within 4 % (the rest
    is the hard edge's wide-angle light: obliquity and the grid's Nyquist); a binary voxelisation
    (supersample=1) moves the edge by up to half a voxel and does worse.
    """
    nz, dz, r, zc, delta = 40, 0.5, 4.0, 10.0, 5e-4

    def sphere_ft(kx, ky, qz):
        q = np.sqrt(kx**2 + ky**2 + qz**2)
        qr = np.maximum(q * r, 1e-3)
        shape = np.where(q * r < 1e-3, 1 / 3, (np.sin(qr) - qr * np.cos(qr)) / qr**3)
        return delta * 4 * np.pi * r**3 * shape * np.exp(-1j * qz * zc)

    ref = born_field(sphere_ft, nz, dz)
    rel = {}
    for ss in (1, 4):
        vol = sphere_volume((nz, N, N), D, dz, [(0.0, 0.0, zc)], r, delta, supersample=ss)
        rel[ss] = np.linalg.norm(scattered(vol, dz) - ref) / np.linalg.norm(ref)
    assert rel[4] < 0.04
    assert rel[4] < 0.7 * rel[1]


# --- energy ---------------------------------------------------------------------------------------------
def test_lossless_volume_conserves_power():
    vol = random_volume((30, N, N), D, 0.5, 0.02, 1.0, seed=4)
    f = gaussian_beam((N, N), D, WL, 6.0, n=N0)
    out = multislice(f, vol, 0.5, **PERIODIC)  # no band limit, no evanescent wave on this grid: unitary
    assert power(out) == pytest.approx(power(f), rel=1e-12)
    assert np.max(np.abs(out.u - f.u)) > 0.1  # it did scatter
    # the defaults (padded, band-limited) on a beam well inside the window: nothing gained, ~nothing lost
    out2 = multislice(f, vol, 0.5)
    assert power(f) * (1 - 1e-4) < power(out2) <= power(f) * (1 + 1e-12)


def test_absorbing_slab_attenuates_by_beer_lambert():
    kappa, length, nz = 0.002, 15.0, 9
    f = plane_wave((N, N), D, WL, n=N0)
    out = multislice(f, slab_volume((nz, 1, 1), length / nz, 0.01 + 1j * kappa), length / nz, **PERIODIC)
    assert power(out) / power(f) == pytest.approx(math.exp(-2 * K0 * kappa * length), rel=1e-12)


# --- slicing, planes ------------------------------------------------------------------------------------
def test_halving_dz_converges_at_first_order():
    cells = [(-3.0, 2.0, 4.0), (4.0, -3.0, 9.0), (0.0, 5.0, 14.0), (-5.0, -5.0, 11.0)]
    f = gaussian_beam((N, N), D, WL, 8.0, n=N0)
    outs = []
    for nz in (10, 20, 40):
        dz = 20.0 / nz
        outs.append(multislice(f, sphere_volume((nz, N, N), D, dz, cells, 2.5, 0.03), dz).u)
    d1 = np.linalg.norm(outs[0] - outs[1]) / np.linalg.norm(outs[1])
    d2 = np.linalg.norm(outs[1] - outs[2]) / np.linalg.norm(outs[2])
    assert d1 < 0.06 and d2 < 0.03
    assert 0.3 < d2 / d1 < 0.7


def test_planes_are_the_fields_inside_the_volume():
    vol = sphere_volume((12, N, N), D, 1.0, [(1.0, -2.0, 5.0)], 3.0, 0.02)
    f = gaussian_beam((N, N), D, WL, 6.0, n=N0)
    stack = multislice(f, vol, 1.0, planes="all")
    assert stack.shape == (13, N, N) and stack.n == N0
    assert np.array_equal(stack.u[0], f.u)
    assert np.allclose(stack.u[-1], multislice(f, vol, 1.0).u, rtol=0, atol=1e-14)
    chosen = multislice(f, vol, 1.0, planes=[7, 3])
    assert np.allclose(chosen.u[0], multislice(f, vol[:7], 1.0).u, rtol=0, atol=1e-14)
    assert np.allclose(chosen.u[1], stack.u[3], rtol=0, atol=1e-14)


def test_split_step_is_one_slice_and_background_index_defaults_to_the_field():
    vol = random_volume((3, N, N), D, 1.0, 0.01, 1.5, seed=1)
    f = gaussian_beam((N, N), D, WL, 6.0, n=N0)
    g = f
    for j in range(3):
        g = split_step(g, vol[j], 1.0)
    assert np.allclose(g.u, multislice(f, vol, 1.0).u, rtol=0, atol=1e-14)
    # a field arriving in water (n 1.33) into a sample whose mean index is 1.36
    moved = multislice(f, vol, 1.0, n0=1.36)
    assert moved.n == 1.36
    assert np.allclose(moved.u, multislice(f.with_medium(1.36), vol, 1.0).u, rtol=0, atol=1e-14)


def test_wavelength_batch_equals_one_wavelength_at_a_time():
    wls = np.array([0.8, 1.04])
    vol = sphere_volume((8, N, N), D, 1.0, [(0.0, 0.0, 4.0)], 3.0, 0.03)
    g = gaussian_beam((N, N), D, 0.8, 6.0, n=N0)
    batch = multislice(Field(np.stack([g.u, g.u]), D, wls, n=N0), vol, 1.0)
    for i, wl in enumerate(wls):
        one = multislice(Field(g.u, D, float(wl), n=N0), vol, 1.0)
        assert np.allclose(batch.u[i], one.u, rtol=0, atol=1e-13)


# --- the volumes ----------------------------------------------------------------------------------------
def test_sphere_volume_keeps_each_cell_volume_and_position():
    cells = [(-4.0, 3.0, 5.2), (6.3, -2.1, 9.7)]
    radii, dns = [2.0, 3.1], [0.02, 0.01 + 0.001j]
    vol = sphere_volume((30, N, N), D, 0.5, cells, radii, dns)
    assert vol.dtype == np.complex128 and np.all(vol.imag >= 0)
    left, right = vol[:, :, : N // 2 + 2].real, vol[:, :, N // 2 + 2:].real  # the cells lie on either side
    for part, (cx, cy, cz), r, dn, x0 in ((left, cells[0], 2.0, 0.02, 0),
                                          (right, cells[1], 3.1, 0.01, N // 2 + 2)):
        w = part * D * D * 0.5
        assert w.sum() == pytest.approx(dn * 4 / 3 * math.pi * r**3, rel=2e-3)
        zz, yy, xx = np.meshgrid((np.arange(30) + 0.5) * 0.5, grid_x(), grid_x()[x0:x0 + part.shape[2]],
                                 indexing="ij")
        for coord, c in ((xx, cx), (yy, cy), (zz, cz)):
            assert (w * coord).sum() / w.sum() == pytest.approx(c, abs=0.02)
    assert np.max(vol.real) == pytest.approx(0.02)


def test_slab_volume_fills_partial_slices_by_their_fraction():
    vol = slab_volume((5, 2, 3), 2.0, 0.05, thickness=5.0, start=1.0)
    assert vol.shape == (5, 2, 3)
    assert vol[:, 0, 0].tolist() == pytest.approx([0.025, 0.05, 0.05, 0.0, 0.0])
    assert vol.sum() * 2.0 / 6 == pytest.approx(0.05 * 5.0)


def test_random_volume_statistics_and_seed():
    ell = 1.5
    vol = random_volume((40, 96, 96), 0.5, 0.5, 0.012, ell, seed=9)
    assert vol.shape == (40, 96, 96) and vol.dtype == np.float64
    assert float(np.sqrt(np.mean(vol**2))) == pytest.approx(0.012, rel=1e-12)
    assert abs(float(vol.mean())) < 1e-15
    assert np.array_equal(vol, random_volume((40, 96, 96), 0.5, 0.5, 0.012, ell, seed=9))
    assert not np.array_equal(vol, random_volume((40, 96, 96), 0.5, 0.5, 0.012, ell, seed=10))
    # correlation at lags 0, ℓ, 2ℓ along each axis: exp(-s²/(2ℓ²)) (periodic, so np.roll is exact)
    var = np.mean(vol**2)
    for axis in range(3):
        for lag_um, expected in ((ell, math.exp(-0.5)), (2 * ell, math.exp(-2))):
            c = np.mean(vol * np.roll(vol, int(round(lag_um / 0.5)), axis=axis)) / var
            assert c == pytest.approx(expected, abs=0.06)
    assert random_volume((4, 8, 8), 0.5, 0.5, 0.01, 1.0, dtype=np.float32).dtype == np.float32


def test_random_medium_ballistic_light_decays_over_the_scattering_length():
    """The power of the mean (ballistic) field of a plane wave falls as exp(-z/ls).

    Reference: the straight-path phase variance k0² σ² ∫∫ C (finite-z exact form), ensemble result;
    the estimate is the window's mean field over two seeds (a few % statistical scatter).
    """
    n, dz, sigma, ell, nz = 128, 0.5, 0.012, 1.5, 60
    depth = nz * dz
    f = plane_wave((n, n), D, WL, n=N0)
    ballistic = []
    for seed in (1, 2):
        vol = random_volume((nz, n, n), D, dz, sigma, ell, seed=seed)
        out = multislice(f, vol, dz, **PERIODIC)
        ballistic.append(abs(np.mean(out.u)) ** 2)
    a = math.sqrt(2) * ell
    var = K0**2 * sigma**2 * (depth * math.sqrt(math.pi) * a * math.erf(depth / a)
                              - a**2 * (1 - math.exp(-((depth / a) ** 2))))
    assert -math.log(np.mean(ballistic)) == pytest.approx(var, rel=0.12)
    ls = scattering_length(sigma, ell, WL)
    assert depth / ls == pytest.approx(var, rel=0.06)  # the long-path formula the helper gives


# --- bad input ------------------------------------------------------------------------------------------
def test_bad_input_names_what_is_wrong():
    f = plane_wave((8, 8), D, WL)
    ok = np.zeros((2, 8, 8))
    with pytest.raises(FieldError, match=r"shape \(2, 8, 7\).*\(slices, 8, 8\)"):
        multislice(f, np.zeros((2, 8, 7)), 1.0)
    with pytest.raises(FieldError, match="shape"):
        multislice(f, np.zeros((8, 8)), 1.0)
    with pytest.raises(FieldError, match="NaN"):
        multislice(f, np.full((2, 8, 8), np.nan), 1.0)
    with pytest.raises(FieldError, match="negative imaginary"):
        multislice(f, ok - 0.01j, 1.0)
    with pytest.raises(FieldError, match="dz"):
        multislice(f, ok, 0.0)
    with pytest.raises(FieldError, match="n0"):
        multislice(f, ok, 1.0, n0=-1.0)
    with pytest.raises(FieldError, match="planes"):
        multislice(f, ok, 1.0, planes=[3])
    with pytest.raises(FieldError, match="planes"):
        multislice(f, ok, 1.0, planes="every")
    with pytest.raises(FieldError, match="planes"):
        multislice(f, ok, 1.0, planes=[0.5])
    with pytest.raises(FieldError, match="dtype"):
        multislice(f, np.zeros((2, 8, 8), dtype=int), 1.0)
    with pytest.raises(FieldError, match="Field"):
        multislice(f.u, ok, 1.0)
    with pytest.raises(FieldError, match="evanescent"):
        multislice(f, ok, 1.0, evanescent="keep")
    with pytest.raises(FieldError, match="three positive integers"):
        slab_volume((2, 8), 1.0, 0.1)
    with pytest.raises(FieldError, match="start"):
        slab_volume((2, 8, 8), 1.0, 0.1, start=5.0)
    with pytest.raises(FieldError, match="radii"):
        sphere_volume((2, 8, 8), D, 1.0, [(0, 0, 1)], -1.0, 0.1)
    with pytest.raises(FieldError, match="centers"):
        sphere_volume((2, 8, 8), D, 1.0, [(0, 0)], 1.0, 0.1)
    with pytest.raises(FieldError, match="amplify"):
        sphere_volume((2, 8, 8), D, 1.0, [(0, 0, 1)], 1.0, 0.1 - 0.1j)
    with pytest.raises(FieldError, match="correlation_length"):
        random_volume((2, 8, 8), D, 1.0, 0.01, 0.0)
    with pytest.raises(FieldError, match="no fluctuation"):
        random_volume((2, 4, 4), D, 1.0, 0.01, 1e4)


def test_band_limit_warning_is_checked_once():
    """A narrow beam on a small, unpadded window with long slices: the band limit warns, once."""
    f = gaussian_beam((16, 16), 2.0, WL, 2.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        multislice(f, np.zeros((3, 16, 16)), 200.0, pad=1)
    assert sum("band limit" in str(w.message) for w in caught) == 1


@pytest.mark.parametrize("dtype,tol", [(np.complex128, 1e-13), (np.complex64, 2e-6)])
@pytest.mark.parametrize("absorbing", [False, True])
def test_numpy_fast_screen_equals_the_generic_path(monkeypatch, dtype, tol, absorbing):
    from holostim.optics import propagation as prop

    vol = random_volume((4, 32, 32), D, 1.0, 0.05, 1.0, seed=2)
    if absorbing:
        vol = vol + 1j * np.abs(vol)
    f = Field(np.stack([gaussian_beam((32, 32), D, WL, 4.0, n=N0, dtype=dtype).u] * 2), D,
              np.array([0.8, 1.04]), n=N0)
    fast = multislice(f, vol, 1.0)
    monkeypatch.setattr(prop, "FAST_PATH", False)
    plain = multislice(f, vol, 1.0)
    assert fast.dtype == plain.dtype == dtype
    assert np.max(np.abs(fast.u - plain.u)) < tol * np.max(np.abs(plain.u))


# --- other namespaces -----------------------------------------------------------------------------------
def test_array_api_strict_matches_numpy():
    xps = pytest.importorskip("array_api_strict")
    vol = sphere_volume((6, 32, 32), D, 1.0, [(0.0, 0.0, 3.0)], 2.5, 0.02 + 0.001j)
    g = gaussian_beam((32, 32), D, WL, 4.0, n=N0)
    ref = multislice(g, vol, 1.0, planes=[2, 6])
    s = gaussian_beam((32, 32), D, WL, 4.0, n=N0, xp=xps)
    out = multislice(s, xps.asarray(vol), 1.0, planes=[2, 6])
    assert type(out.u).__module__.startswith("array_api_strict")
    assert np.max(np.abs(np.from_dlpack(out.u) - ref.u)) < 1e-12
    out_np_volume = multislice(s, vol, 1.0)  # a numpy volume moves to the field's namespace
    assert np.max(np.abs(np.from_dlpack(out_np_volume.u) - ref.u[1])) < 1e-12


@pytest.fixture
def jax_x64():
    jax = pytest.importorskip("jax")
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", before)


JN, JZ = 32, 4  # JAX tests: 32² (padded to 64²), 4 slices (jit unrolls them: compile time)


def _jax_case():
    vol = random_volume((JZ, JN, JN), D, 1.0, 0.02, 1.0, seed=3)
    g = gaussian_beam((JN, JN), D, WL, 4.0, n=N0)
    w = np.random.default_rng(5).uniform(0.2, 1.0, (JN, JN))
    return vol, g, w


def test_jax_jit_equals_eager_numpy(jax_x64):
    jnp = jax_x64.numpy
    vol, g, _ = _jax_case()
    ref = multislice(g, vol, 1.0)
    jitted = jax_x64.jit(lambda v, u: multislice(Field(u, D, WL, n=N0), v, 1.0).u)(jnp.asarray(vol),
                                                                                     jnp.asarray(g.u))
    eager = multislice(Field(jnp.asarray(g.u), D, WL, n=N0), vol, 1.0)
    assert np.max(np.abs(np.asarray(jitted) - ref.u)) < 1e-12
    assert np.max(np.abs(np.asarray(eager.u) - ref.u)) < 1e-12
    stack = jax_x64.jit(lambda v: multislice(g, v, 1.0, planes=[0, 4, JZ]).u)(jnp.asarray(vol))
    assert np.max(np.abs(np.asarray(stack[2]) - ref.u)) < 1e-12


def _directional_check(jax, loss, a0, h=1e-6, rtol=1e-6):
    jnp = jax.numpy
    a0 = jnp.asarray(a0)
    v = jnp.asarray(np.random.default_rng(11).normal(size=a0.shape))
    g = jax.jit(jax.grad(loss))(a0)
    assert g.shape == a0.shape and bool(jnp.all(jnp.isfinite(g)))
    along = float(jnp.sum(g * v))
    lj = jax.jit(loss)
    fd = float((lj(a0 + h * v) - lj(a0 - h * v)) / (2 * h))
    assert along != 0.0 and abs(along - fd) <= rtol * abs(fd) + 1e-10, (along, fd)


def test_jax_grad_in_the_volume_and_the_input_phase(jax_x64):
    jnp = jax_x64.numpy
    vol, g, w = _jax_case()

    def loss_volume(v):  # a numpy input beam; the traced volume takes it along
        return jnp.sum(w * intensity(multislice(g, v, 1.0)))

    def loss_phase(ph):
        f = phase_mask(Field(jnp.asarray(g.u), D, WL, n=N0), ph)
        return jnp.sum(w * intensity(multislice(f, vol, 1.0)))

    _directional_check(jax_x64, loss_volume, vol, h=1e-5)
    _directional_check(jax_x64, loss_phase, np.zeros((JN, JN)))
    # and a complex (absorbing) volume's imaginary part: d(power)/dκ = -2 k0 dz · local intensity, < 0
    gk = jax_x64.jit(jax_x64.grad(lambda k: power(multislice(g, vol + 1j * k, 1.0))))(jnp.zeros((JZ, JN, JN)))
    assert float(jnp.max(gk)) <= 0.0 and float(jnp.min(gk)) < 0.0


def test_jax_grad_in_slice_thickness_and_wavelength(jax_x64):
    jnp = jax_x64.numpy
    vol, g, w = _jax_case()

    def loss(dz, wl):
        return jnp.sum(w * intensity(multislice(Field(jnp.asarray(g.u), D, wl, n=N0), vol, dz)))

    p0 = (1.0, 0.83)
    grads = jax_x64.jit(jax_x64.grad(loss, argnums=(0, 1)))(*p0)
    lj = jax_x64.jit(loss)
    for grad, fd in ((grads[0], (lj(1.0 + 1e-5, 0.83) - lj(1.0 - 1e-5, 0.83)) / 2e-5),
                     (grads[1], (lj(1.0, 0.83 + 1e-6) - lj(1.0, 0.83 - 1e-6)) / 2e-6)):
        assert float(grad) != 0.0 and abs(float(grad) - float(fd)) <= 1e-6 * abs(float(fd)), (grad, fd)


def test_jax_vmap_over_wavelengths_equals_loop(jax_x64):
    jnp = jax_x64.numpy
    vol, g, _ = _jax_case()
    wls = np.array([0.64, 0.8, 1.04])
    mapped = jax_x64.jit(jax_x64.vmap(
        lambda wl: intensity(multislice(Field(jnp.asarray(g.u), D, wl, n=N0), vol, 1.0))))(jnp.asarray(wls))
    loop = np.stack([intensity(multislice(Field(g.u, D, float(wl), n=N0), vol, 1.0)) for wl in wls])
    assert np.max(np.abs(np.asarray(mapped) - loop)) < 1e-12 * loop.max()


def test_jax_scan_over_split_step_equals_multislice(jax_x64):
    """The documented route for many slices under JAX: lax.scan compiles one slice, whatever nz."""
    jnp = jax_x64.numpy
    vol, g, _ = _jax_case()

    def body(u, dn):
        return split_step(Field(u, D, WL, n=N0), dn, 1.0).u, None

    out, _ = jax_x64.jit(lambda v: jax_x64.lax.scan(body, jnp.asarray(g.u), v))(jnp.asarray(vol))
    assert np.max(np.abs(np.asarray(out) - multislice(g, vol, 1.0).u)) < 1e-12
