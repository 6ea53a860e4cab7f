"""Composition helper, resizing, media, and the point source."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from holostim.optics import (
    Field,
    FieldError,
    OpticalSystem,
    SamplingWarning,
    circular_aperture,
    fourier_lens,
    free_space,
    gaussian_beam,
    objective,
    plane_wave,
    point_source,
    power,
    propagate,
    relay_4f,
    resize,
    step,
    thin_lens,
)

WL = 0.5


def test_system_runs_steps_in_order_and_traces_planes():
    src = gaussian_beam((64, 64), 1.0, WL, 8.0)
    rig = OpticalSystem([step(circular_aperture, 20.0, name="iris"), step(thin_lens, 400.0),
                         free_space(50.0)])
    assert rig.names == ["iris", "thin_lens", "propagate 50 µm"]
    out = rig(src)
    manual = propagate(thin_lens(circular_aperture(src, 20.0), 400.0), 50.0)
    assert np.allclose(out.u, manual.u)
    planes = rig.trace(src)
    assert [p[0] for p in planes] == ["input", "iris", "thin_lens", "propagate 50 µm"]
    assert np.allclose(planes[-1][1].u, out.u)
    assert "OpticalSystem(iris -> thin_lens" in repr(rig.then(lambda f: f))
    with pytest.raises(FieldError, match="not a step"):
        OpticalSystem([3])


def test_relay_4f_magnifies_and_inverts():
    u = np.zeros((64, 64), complex)
    u[32 + 5, 32 - 3] = 1.0  # a point at (x, y) = (-3, +5) samples
    out = relay_4f(100.0, 300.0)(Field(u, 1.0, WL))
    assert out.spacing == pytest.approx((3.0, 3.0))  # magnification f2/f1
    i = np.abs(out.u) ** 2
    iy, ix = np.unravel_index(np.argmax(i), i.shape)
    assert (ix - 32, iy - 32) == (3, -5)  # inverted
    assert float(power(out)) == pytest.approx(1.0)


def test_objective_focuses_pupil_to_airy_spot_in_medium():
    src = plane_wave((128, 128), 40.0, 1.04)
    obj = objective(3000.0, na=0.8, n_immersion=1.33, pad_to=(256, 256))
    focus = obj(src)
    assert focus.n == 1.33
    assert focus.spacing[0] == pytest.approx(1.04 * 3000.0 / (256 * 40.0))
    i = np.abs(focus.u) ** 2
    row = i[128, 128:]
    # first dark ring of the Airy spot at 0.61 λ / NA
    k = int(np.argmin(row[: int(1.2 / focus.spacing[1])]))
    assert k * focus.spacing[1] == pytest.approx(0.61 * 1.04 / 0.8, abs=focus.spacing[1])
    with pytest.raises(FieldError, match="NA=1.4"):
        objective(3000.0, na=1.4, n_immersion=1.33)


def test_resize_and_medium():
    f = gaussian_beam((32, 33), 1.0, WL, 4.0)
    big = resize(f, (64, 64))
    assert big.u.shape == (64, 64) and float(power(big)) == pytest.approx(float(power(f)))
    back = resize(big, (32, 33))
    assert np.array_equal(back.u, f.u)
    w = f.with_medium(1.33)
    assert w.n == 1.33 and w.medium_wavelength == pytest.approx(WL / 1.33)
    with pytest.raises(FieldError, match="n=-1"):
        f.with_medium(-1)
    # finer focal sampling by padding: pitch λ f / (N d)
    assert fourier_lens(big, 100.0).spacing[0] == pytest.approx(WL * 100.0 / 64)


def test_point_source_is_a_spherical_wave_that_refocuses():
    z = 200.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ps = point_source((128, 128), 0.5, WL, z)
    y, x = ps.grid()
    rho = np.sqrt(x**2 + y**2 + z**2)
    k = 2 * np.pi / WL
    assert np.allclose(ps.u, z / (1j * WL) * np.exp(1j * k * rho) / rho**2)
    # propagating back by z concentrates the light onto the source position (within the grid's NA;
    # the wave's truncation at the grid edge has frequencies the band limit drops, hence check=False)
    back = propagate(ps, -z, "asm", check=False)
    i = np.abs(back.u) ** 2
    assert np.unravel_index(np.argmax(i), i.shape) == (64, 64)
    # off-axis source position moves the focus
    ps2 = point_source((128, 128), 0.5, WL, z, position=(4.0, -2.0))
    i2 = np.abs(propagate(ps2, -z, check=False).u) ** 2
    assert np.unravel_index(np.argmax(i2), i2.shape) == (64 - 4, 64 + 8)


def test_point_source_and_tilt_aliasing_warnings():
    with pytest.warns(SamplingWarning, match=r"aliases beyond r = "):
        point_source((512, 512), 1.0, WL, 20.0)
    with pytest.warns(SamplingWarning, match="tilt"):
        plane_wave((16, 16), 1.0, WL, angle=(math.radians(30), 0.0))
    with pytest.raises(FieldError, match="z=0"):
        point_source((8, 8), 1.0, WL, 0)
