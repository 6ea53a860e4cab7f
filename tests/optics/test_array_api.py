"""The optics core on ``array_api_strict`` (a stand-in for CuPy: no silent numpy conversion) and the
numpy fast path checked against the generic array-API path."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.optics import (
    Field,
    circular_aperture,
    focal_stack,
    fourier_lens,
    gaussian_beam,
    intensity,
    phase_mask,
    plane_wave,
    point_source,
    power,
    propagate,
    rectangular_aperture,
    resample_to_camera,
    slm,
    thin_lens,
    zernike,
)
from holostim.optics import propagation as prop

xps = pytest.importorskip("array_api_strict")

WL = 0.8


def _np(a):
    return np.from_dlpack(a) if not isinstance(a, np.ndarray) else a


def _pair(dtype_np, dtype_s):
    g = gaussian_beam((64, 48), (0.5, 0.6), WL, 5.0, dtype=dtype_np)
    s = gaussian_beam((64, 48), (0.5, 0.6), WL, 5.0, xp=xps, dtype=dtype_s)
    return g, s


@pytest.mark.parametrize("precision", ["double", "single"])
def test_pipeline_on_array_api_strict_matches_numpy(precision):
    dn, ds = (np.complex128, xps.complex128) if precision == "double" else (np.complex64, xps.complex64)
    tol = 1e-12 if precision == "double" else 2e-5
    g, s = _pair(dn, ds)
    assert type(s.u).__module__.startswith("array_api_strict")
    assert np.allclose(_np(s.u), g.u, atol=tol)
    rng = np.random.default_rng(0)
    ph = rng.uniform(0, 2 * np.pi, (64, 48))

    def run(f, phase):
        f = phase_mask(f, phase)
        f = circular_aperture(f, 12.0)
        f = rectangular_aperture(f, 20.0, 18.0)
        f = zernike(f, {4: 0.3, 7: 0.2}, 10.0)
        f = thin_lens(f, 800.0)
        outs = [propagate(f, 3.0, "asm"), propagate(f, 3.0, "fresnel-tf"), propagate(f, 3000.0, "fresnel-ir"),
                fourier_lens(f, 1000.0), focal_stack(f, [-2.0, 2.0])]
        return outs

    a = run(g, ph)
    b = run(s, xps.asarray(ph))
    for fa, fb in zip(a, b, strict=True):
        assert type(fb.u).__module__.startswith("array_api_strict")
        assert fa.spacing == fb.spacing
        scale = np.max(np.abs(fa.u))
        assert np.max(np.abs(_np(fb.u) - fa.u)) < tol * 10 * scale
        assert np.allclose(_np(power(fb)), power(fa), rtol=tol * 10, atol=0)
    cam = resample_to_camera(intensity(b[3]), (16, 16), 3.0, spacing=b[3].spacing)
    assert type(cam).__module__.startswith("array_api_strict")
    assert np.allclose(_np(cam), resample_to_camera(intensity(a[3]), (16, 16), 3.0, spacing=a[3].spacing),
                       rtol=tol * 10)


def test_sources_and_slm_on_array_api_strict():
    p = plane_wave((32, 32), 1.0, WL, angle=(0.01, 0.0), xp=xps)
    assert np.allclose(_np(p.u), plane_wave((32, 32), 1.0, WL, angle=(0.01, 0.0)).u)
    ps = point_source((32, 32), 1.0, WL, 200.0, xp=xps)
    assert np.allclose(_np(ps.u), point_source((32, 32), 1.0, WL, 200.0).u)
    src = plane_wave((32, 32), 2.0, WL, xp=xps)
    ph = np.indices((16, 16))[1] * (2 * np.pi / 4)
    a = slm(src, xps.asarray(ph), pitch=4.0, fill_factor=0.8, supersample=2, levels=16)
    b = slm(plane_wave((32, 32), 2.0, WL), ph, pitch=4.0, fill_factor=0.8, supersample=2, levels=16)
    assert np.allclose(_np(a.u), b.u, atol=1e-12)
    f = Field(xps.ones((4, 4), dtype=xps.float32), 1.0, WL)
    assert f.dtype == xps.complex64


@pytest.mark.parametrize("method", ["asm", "fresnel-tf", "fresnel-ir"])
def test_numpy_fast_path_equals_generic_path(method, monkeypatch):
    f = gaussian_beam((64, 64), 0.5, WL, 4.0)
    z = 3000.0 if method == "fresnel-ir" else 20.0
    fast = propagate(f, z, method)
    fl_fast = fourier_lens(f, 500.0)
    monkeypatch.setattr(prop, "FAST_PATH", False)
    slow = propagate(f, z, method)
    fl_slow = fourier_lens(f, 500.0)
    assert np.allclose(fast.u, slow.u, atol=1e-14)
    assert np.allclose(fl_fast.u, fl_slow.u, atol=1e-14)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["single", "double"])
def test_core_on_cupy_matches_numpy(precision):
    cp = pytest.importorskip("cupy")
    dt = np.complex64 if precision == "single" else np.complex128
    tol = 2e-5 if precision == "single" else 1e-12
    host = gaussian_beam((128, 96), 0.5, WL, 6.0, dtype=dt)
    dev = Field(cp.asarray(host.u), host.spacing, WL)
    ph = np.random.default_rng(1).uniform(0, 2 * np.pi, (128, 96))

    def run(f, phase):
        f = thin_lens(circular_aperture(phase_mask(f, phase), 15.0), 900.0)
        return [propagate(f, 5.0), propagate(f, 5.0, "fresnel"), fourier_lens(f, 1000.0)]

    for a, b in zip(run(host, ph), run(dev, cp.asarray(ph)), strict=True):
        assert isinstance(b.u, cp.ndarray)
        assert np.max(np.abs(cp.asnumpy(b.u) - a.u)) < tol * 10 * np.max(np.abs(a.u))
    src = plane_wave((64, 64), 2.0, WL, like=cp.zeros((1, 1), dtype=dt), dtype=dt)
    out = slm(src, cp.asarray(ph[:32, :32]), pitch=4.0, fill_factor=0.9, supersample=2)
    ref = slm(plane_wave((64, 64), 2.0, WL, dtype=dt), ph[:32, :32], pitch=4.0, fill_factor=0.9,
              supersample=2)
    assert np.allclose(cp.asnumpy(out.u), ref.u, atol=tol * 10)
