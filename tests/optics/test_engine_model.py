"""The engine's fast Fourier model equals ``fourier_lens`` on the same grid.

``HologramEngine.far_field`` is the centred orthonormal FFT of ``source * exp(i phase)``;
``fourier_lens`` is the same centred FFT with the physical factor ``dy dx / (i λ f)``.  On the same
grid they must agree up to that known constant: ``F = i λ f / (sqrt(N) dy dx) · U``.
"""

from __future__ import annotations

import numpy as np
import pytest

import holostim.holography as holo
from holostim.optics import Field, fourier_lens, power

WL, F_LEN, PITCH = 1.04, 9000.0, 9.2


@pytest.mark.parametrize("shape", [(64, 48), (33, 40)])
@pytest.mark.parametrize("padding", [1, 2])
def test_engine_far_field_equals_fourier_lens(shape, padding):
    eng = holo.HologramEngine(shape, backend="numpy", precision="double", source=("gaussian", 15.0),
                              padding=padding)
    rng = np.random.default_rng(3)
    phase = rng.uniform(0, 2 * np.pi, shape)
    ff = eng.far_field(phase)
    ny, nx = shape
    gy, gx = ny * padding, nx * padding
    u = np.zeros((gy, gx), complex)
    oy, ox = gy // 2 - ny // 2, gx // 2 - nx // 2  # SLM centre on grid centre, as both define it
    u[oy:oy + ny, ox:ox + nx] = eng.source_amplitude * np.exp(1j * phase)
    field = Field(u, PITCH, WL)
    out = fourier_lens(field, F_LEN)
    assert ff.shape == out.u.shape
    const = 1j * WL * F_LEN / (np.sqrt(gy * gx) * PITCH * PITCH)
    assert np.max(np.abs(ff - const * out.u)) < 1e-12 * np.max(np.abs(ff))
    # both conserve power (engine: Σ|F|² = 1 for its unit-power source; optics: Σ|U|² dA)
    assert np.sum(np.abs(ff) ** 2) == pytest.approx(1.0, rel=1e-12)
    assert float(power(out)) == pytest.approx(PITCH**2, rel=1e-12)
    # zero order at (N//2, N//2) in both
    flat = Field(np.pad(eng.source_amplitude, ((oy, gy - ny - oy), (ox, gx - nx - ox))), PITCH, WL)
    ff0 = eng.far_field(np.zeros(shape))
    assert np.unravel_index(np.argmax(np.abs(ff0)), ff0.shape) == (gy // 2, gx // 2)
    assert np.unravel_index(np.argmax(np.abs(fourier_lens(flat, F_LEN).u)), ff0.shape) == (gy // 2, gx // 2)


def test_engine_single_precision_matches_fourier_lens():
    shape = (64, 64)
    eng = holo.HologramEngine(shape, backend="numpy", precision="single", source="uniform")
    phase = np.random.default_rng(4).uniform(0, 2 * np.pi, shape)
    ff = eng.far_field(phase)
    out = fourier_lens(Field(eng.source_amplitude * np.exp(1j * phase), PITCH, WL), F_LEN)
    const = 1j * WL * F_LEN / (64 * PITCH * PITCH)
    assert np.max(np.abs(ff - const * out.u)) < 1e-5 * np.max(np.abs(ff))


def test_engine_spot_lands_where_fourier_lens_puts_it():
    # a spot computed by the engine at Fourier pixel (x, y) appears in the optics model at
    # ((x - Nx//2) λ f / (Nx d), (y - Ny//2) λ f / (Ny d)) in the sample plane
    shape = (64, 64)
    eng = holo.HologramEngine(shape, backend="numpy", precision="double")
    target = holo.SpotTarget.from_pixels([[40, 20]], shape=shape)
    res = eng.compute(target, method="wgs", iterations=10)
    out = fourier_lens(Field(np.exp(1j * res.phase), PITCH, WL), F_LEN)
    i = np.abs(out.u) ** 2
    iy, ix = np.unravel_index(np.argmax(i), i.shape)
    assert (ix, iy) == (40, 20)
    y, x = out.grid()
    assert x[0, ix] == pytest.approx((40 - 32) * WL * F_LEN / (64 * PITCH))
    assert y[iy, 0] == pytest.approx((20 - 32) * WL * F_LEN / (64 * PITCH))
