"""Angular-spectrum options (band limit on/off, evanescent waves dropped or decaying), propagate's
output owning its memory, and the row-block kernel builder against a whole-grid build."""

from __future__ import annotations

import math

import numpy as np
import pytest

from holostim.optics import (
    Field,
    FieldError,
    focal_stack,
    gaussian_beam,
    intensity,
    power,
    propagate,
    transfer,
    transfer_function,
)
from holostim.optics import propagation as prop
from holostim.optics.system import free_space

WL = 0.8


def _grating(n=64, period=2.0, m=0.5):
    dx = period / 8
    x = (np.arange(n) - n // 2) * dx
    u = np.tile(1 + m * np.cos(2 * np.pi * x / period), (n, 1))
    return Field(u, dx, WL), np.abs(u) ** 2


def test_periodic_grating_self_images_at_five_talbot_lengths_only_without_the_band_limit():
    f, i0 = _grating()
    z_t = WL / (1 - math.sqrt(1 - (WL / 2.0) ** 2))
    # the band limit is derived for a field that is zero outside the window; on pad=1 the window is
    # periodic and the limit cuts the grating's own harmonics (max |ΔI| = 1.25 of a peak 2.25)
    limited = intensity(propagate(f, 5 * z_t, "asm", pad=1, check=False))
    assert np.max(np.abs(limited - i0)) > 1.0
    exact = intensity(propagate(f, 5 * z_t, "asm", pad=1, band_limit=False))
    assert np.max(np.abs(exact - i0)) < 1e-6
    # half a Talbot length: the contrast-reversed image, shifted by half a period
    half = intensity(propagate(f, 0.5 * z_t, "asm", pad=1, band_limit=False))
    assert np.max(np.abs(half - np.roll(i0, 4, axis=1))) < 1e-6


def _fine_field():
    """Random samples on 0.2 µm (λ/4): most of its spectrum is evanescent."""
    rng = np.random.default_rng(0)
    return Field(rng.normal(size=(64, 64)) + 1j * rng.normal(size=(64, 64)), 0.2, WL)


def test_evanescent_decay_is_continuous_at_zero_and_drop_is_not():
    g = _fine_field()
    p0 = float(power(g))
    for ev in ("drop", "decay"):
        assert propagate(g, 0.0, evanescent=ev) is g  # z = 0 returns the input for both
    dropped = propagate(g, 1e-6, evanescent="drop")
    assert float(power(dropped)) / p0 < 0.3  # the evanescent part is gone after a picometre
    for z in (1e-8, -1e-8):
        near = propagate(g, z, evanescent="decay")
        assert abs(float(power(near)) / p0 - 1) < 1e-6
        assert np.max(np.abs(near.u - g.u)) < 1e-6 * np.max(np.abs(g.u))
    # decay by exp(-κ|z|): the power of the evanescent waves falls off smoothly, in both directions
    pw = [float(power(propagate(g, z, evanescent="decay"))) / p0 for z in (0.001, 0.01, 0.1, 1.0)]
    assert all(a > b for a, b in zip(pw, pw[1:], strict=False))
    # (on the periodic window, where the crop cannot treat the two directions differently)
    back, fwd = (float(power(propagate(g, z, evanescent="decay", pad=1))) for z in (-0.1, 0.1))
    assert back == pytest.approx(fwd, rel=1e-12) and fwd < p0
    # the two differ by evanescent waves only: no propagating frequency in the difference
    kw = dict(pad=1, band_limit=False)
    a, b = propagate(g, 0.5, evanescent="drop", **kw), propagate(g, 0.5, evanescent="decay", **kw)
    spec = np.fft.fft2(b.u - a.u)
    f2 = np.add.outer(np.fft.fftfreq(64, 0.2) ** 2, np.fft.fftfreq(64, 0.2) ** 2)
    assert np.max(np.abs(spec[f2 < 1 / WL**2 * (1 - 1e-9)])) < 1e-12 * np.max(np.abs(spec))
    assert np.max(np.abs(spec)) > 1.0


def test_power_is_conserved_near_zero_when_nothing_is_evanescent():
    f = gaussian_beam((64, 64), 0.5, WL, 4.0)  # its spectrum lies well inside 1/λ
    for ev in ("drop", "decay"):
        for z in (1e-6, 1e-3):
            g = propagate(f, z, evanescent=ev)
            assert abs(float(power(g) / power(f)) - 1) < 1e-6
        # (the carrier phase 2π z/λ alone moves the field by 8e-6 at z = 1e-6 µm: look closer)
        assert np.max(np.abs(propagate(f, 1e-8, evanescent=ev).u - f.u)) < 1e-6


def test_decay_kernel_values():
    h, _ = transfer_function((16, 16), (0.2, 0.2), WL, 0.3, evanescent="decay", band_limit=False)
    fy = np.fft.fftfreq(16, 0.2)[:, None]
    fx = np.fft.fftfreq(16, 0.2)[None, :]
    arg = (1 / WL) ** 2 - (fx**2 + fy**2)
    expect = np.where(arg > 0, np.exp(2j * np.pi * np.sqrt(np.abs(arg)) * 0.3),
                      np.exp(-2 * np.pi * np.sqrt(np.abs(arg)) * 0.3))
    assert np.max(np.abs(h - expect)) < 1e-14


def test_options_reach_focal_stack_and_free_space_and_are_checked():
    g = _fine_field()
    stack = focal_stack(g, [1e-3, 0.1], evanescent="decay")
    assert np.allclose(stack.u[1], propagate(g, 0.1, evanescent="decay").u, atol=1e-13)
    step = free_space(0.1, evanescent="decay", band_limit=False)
    assert np.allclose(step(g).u, propagate(g, 0.1, evanescent="decay", band_limit=False).u, atol=1e-13)
    with pytest.raises(FieldError, match="evanescent='keep'.*'drop'.*'decay'"):
        propagate(g, 1.0, evanescent="keep")
    with pytest.raises(FieldError, match="evanescent"):
        focal_stack(g, [1.0], evanescent="nope")


def test_the_options_are_part_of_the_kernel_cache_key():
    prop.clear_kernel_cache()
    g = _fine_field()
    a = propagate(g, 0.2)
    b = propagate(g, 0.2, evanescent="decay")
    c = propagate(g, 0.2, band_limit=False)
    assert len(prop.kernel_cache_info()) == 3
    assert not np.allclose(a.u, b.u) and np.allclose(a.u, c.u, atol=1e-12)  # short z: nothing cut
    prop.clear_kernel_cache()


@pytest.mark.parametrize("pad", [1, 2, 1.5])
def test_propagate_returns_an_array_of_its_own(pad):
    f = gaussian_beam((48, 40), 0.5, WL, 4.0)
    for method, z in (("asm", 5.0), ("fresnel", 5.0), ("fresnel-ir", 3000.0)):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = propagate(f, z, method, pad=pad)
        assert out.u.shape == (48, 40)
        assert out.u.base is None or out.u.base.size == out.u.size
        assert out.u.flags.c_contiguous
    stack = focal_stack(f, [1.0, 2.0], pad=pad)
    assert stack.u.flags.c_contiguous and stack.u.base is None


@pytest.mark.parametrize("method", ["asm", "fresnel-tf", "fresnel-ir"])
@pytest.mark.parametrize("single", [False, True])
def test_row_blocks_equal_one_whole_grid_build(method, single, monkeypatch):
    wl = np.array([0.6, 0.9])  # a wavelength axis too
    inv_wl = transfer.inv_wl(wl, 1.33)
    z = 3000.0 if method == "fresnel-ir" else 40.0
    monkeypatch.setattr(transfer, "BLOCK_BYTES", 1 << 30)  # one block
    whole, cut_w = transfer.build(method, (96, 80), (0.4, 0.5), inv_wl, z, np, single, True, "decay")
    monkeypatch.setattr(transfer, "BLOCK_BYTES", 80 * 2 * 16 * 7)  # blocks of 7 rows, the last one short
    rows, cut_r = transfer.build(method, (96, 80), (0.4, 0.5), inv_wl, z, np, single, True, "decay")
    assert rows.dtype == (np.complex64 if single else np.complex128)
    assert rows.shape == (2, 96, 80)
    assert np.array_equal(rows, whole)
    assert (cut_w is None and cut_r is None) or np.array_equal(cut_w, cut_r)


def test_options_on_array_api_strict_match_numpy():
    xps = pytest.importorskip("array_api_strict")
    g = _fine_field()
    s = Field(xps.asarray(g.u), g.spacing, WL)
    for kw in (dict(evanescent="decay"), dict(band_limit=False), dict(band_limit=False, pad=1)):
        a = propagate(g, 0.3, **kw)
        b = propagate(s, 0.3, **kw)
        assert type(b.u).__module__.startswith("array_api_strict")
        assert np.max(np.abs(np.from_dlpack(b.u) - a.u)) < 1e-12 * np.max(np.abs(a.u))
