"""Field record: validation, centred grids, intensity and power."""

from __future__ import annotations

import math

import numpy as np
import pytest

from holostim.errors import HolostimError
from holostim.optics import Field, FieldError, coordinates, frequencies, grid, intensity, phase_mask, power


def test_field_is_frozen_and_promotes_real_input():
    f = Field(np.ones((4, 5), dtype=np.float32), 0.5, 0.8)
    assert f.dtype == np.complex64
    assert f.spacing == (0.5, 0.5)
    assert f.wavelength == 0.8 and f.n == 1.0
    with pytest.raises(AttributeError):
        f.spacing = (1.0, 1.0)
    g = Field(np.ones((4, 5)), (0.25, 0.5), 0.8)
    assert g.dtype == np.complex128 and g.spacing == (0.25, 0.5)
    assert g.extent == (1.0, 2.5)
    assert repr(g).startswith("Field(shape=(4, 5), dtype=complex128, spacing=(0.25, 0.5) µm, "
                              "wavelength=0.8 µm")


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"spacing": 0.0}, "spacing"),
        ({"spacing": (-1.0, 1.0)}, "spacing dy=-1.0"),
        ({"wavelength": -0.5}, "wavelength=-0.5"),
        ({"wavelength": 0}, "wavelength=0"),
        ({"wavelength": float("nan")}, "wavelength"),
        ({"n": 0.0}, "n=0.0"),
    ],
)
def test_bad_parameters_name_the_value(kwargs, needle):
    args = {"u": np.ones((4, 4)), "spacing": 1.0, "wavelength": 0.5}
    args.update(kwargs)
    with pytest.raises(FieldError, match=needle.replace("(", r"\(")) as info:
        Field(**args)
    assert isinstance(info.value, HolostimError) and isinstance(info.value, ValueError)


def test_nan_in_field_is_rejected():
    u = np.ones((8, 8), complex)
    u[3, 4] = np.nan
    with pytest.raises(FieldError, match="NaN"):
        Field(u, 1.0, 0.5)


def test_field_needs_two_axes_and_matching_wavelength_array():
    with pytest.raises(FieldError, match="at least two axes"):
        Field(np.ones(8), 1.0, 0.5)
    with pytest.raises(FieldError, match="does not broadcast"):
        Field(np.ones((3, 8, 8)), 1.0, [0.5, 0.6])
    f = Field(np.ones((2, 8, 8)), 1.0, [0.5, 0.6], weights=[1.0, 3.0])
    assert not f.is_monochromatic
    assert np.allclose(f.medium_wavelength, [0.5, 0.6])
    with pytest.raises(FieldError, match="weights"):
        Field(np.ones((2, 8, 8)), 1.0, [0.5, 0.6], weights=[1.0])


@pytest.mark.parametrize("n", [7, 8])
def test_grids_are_centred_at_n_over_2(n):
    c = coordinates(n, 0.5)
    assert c[n // 2] == 0.0
    assert np.allclose(np.diff(c), 0.5)
    fr = frequencies(n, 0.5)
    assert fr[n // 2] == 0.0
    assert np.allclose(np.sort(np.fft.fftfreq(n, 0.5)), fr)
    y, x = grid((n, n + 1), (0.5, 0.25))
    assert y.shape == (n, 1) and x.shape == (1, n + 1)
    assert y[n // 2, 0] == 0 and x[0, (n + 1) // 2] == 0


def test_intensity_and_power():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(3, 6, 5)) + 1j * rng.normal(size=(3, 6, 5))
    f = Field(u, (0.5, 0.2), 0.6)
    assert np.allclose(intensity(f), np.abs(u) ** 2)
    p = power(f)
    assert p.shape == (3,)
    assert np.allclose(p, (np.abs(u) ** 2).sum(axis=(-2, -1)) * 0.1)
    assert np.allclose(power(u, spacing=(0.5, 0.2)), p)
    with pytest.raises(FieldError, match="spacing"):
        power(u)


def test_incoherent_intensity_uses_spectral_weights():
    u = np.stack([np.full((4, 4), 1.0 + 0j), np.full((4, 4), 2.0 + 0j)])
    f = Field(u, 1.0, [0.5, 0.6], weights=[0.25, 0.75])
    assert np.allclose(intensity(f, incoherent=True), 0.25 * 1 + 0.75 * 4)
    with pytest.raises(FieldError):
        intensity(Field(u, 1.0, 0.5), incoherent=True)


def test_phase_mask_multiplies_and_validates():
    f = Field(np.ones((4, 6)), 1.0, 0.5)
    ph = np.linspace(0, 2 * math.pi, 24).reshape(4, 6)
    g = phase_mask(f, ph)
    assert np.allclose(g.u, np.exp(1j * ph))
    assert g.spacing == f.spacing and g.wavelength == f.wavelength
    with pytest.raises(FieldError, match=r"shape \(6, 4\)"):
        phase_mask(f, ph.T)
    bad = ph.copy()
    bad[0, 0] = np.nan
    with pytest.raises(FieldError, match="NaN"):
        phase_mask(f, bad)
    # a mask applies to every pattern of a batch
    fb = Field(np.ones((3, 4, 6)), 1.0, 0.5)
    assert phase_mask(fb, ph).u.shape == (3, 4, 6)
