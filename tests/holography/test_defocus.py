"""The defocus models against the optics core: spots built with them focus where asked.

The SLM field of spots at several (x, y, z) is built with the direct sum's spot waves, propagated through
the system with :mod:`holostim.optics` (Fourier lens into the medium, then ASM or Fresnel propagation:
see ``focus_helpers``) and each spot's focus is found. Lateral error < 0.1 Fourier pixel, axial error
< 10 % of the axial resolution ``λ / (n − sqrt(n² − NA²))``, for the high-NA model against exact (ASM)
propagation and the paraxial model against paraxial (Fresnel) propagation; and the paraxial model against
the exact propagation at NA 1.0 in water misses by far more: that is why both models exist.
"""

from __future__ import annotations

import numpy as np
import pytest
from focus_helpers import focus_of, sample_field

from holostim.backend import get_backend
from holostim.holography import SpotTarget
from holostim.holography.defocus import (
    DefocusError,
    DefocusModel,
    axial_resolution_um,
    high_na_phase,
    paraxial_phase,
)
from holostim.holography.spot_basis import SpotBasis

N = 128
SPOTS = np.array([[80.3, 50.7, -8.0], [50.0, 70.5, 0.0], [70.6, 82.2, 6.0]])


def model(kind: str, na: float = 1.0) -> DefocusModel:
    """A water-immersion rig whose pupil fills the 128-pixel SLM at NA 1.0 (f / M = N dx / (2 NA))."""
    return DefocusModel(kind, wavelength_um=1.04, focal_length_um=200_000.0, magnification=200_000.0 / 512,
                        pitch_um=8.0, objective_na=na, medium_index=1.33)


def foci(kind: str, method: str) -> np.ndarray:
    m = model(kind)
    target = SpotTarget.from_pixels(SPOTS, shape=(N, N))
    u = SpotBasis(target, get_backend("numpy", "double"), m).field(np.ones(len(SPOTS), complex))
    field = sample_field(np.asarray(u), m)
    return np.array([focus_of(field, s[:2], s[2], (N, N), method) for s in SPOTS])


@pytest.mark.parametrize("kind,method", [("high_na", "asm"), ("paraxial", "fresnel-tf")])
def test_spots_focus_where_asked(kind, method):
    err = foci(kind, method) - SPOTS
    axial_tol = 0.1 * model(kind).axial_resolution_um
    assert np.abs(err[:, :2]).max() < 0.1, err
    assert np.abs(err[:, 2]).max() < axial_tol, (err, axial_tol)


def test_paraxial_model_is_measurably_wrong_at_na_1_in_water():
    err = foci("paraxial", "asm") - SPOTS
    axial_tol = 0.1 * model("paraxial").axial_resolution_um
    assert np.abs(err[:, :2]).max() < 0.1  # lateral placement does not depend on the defocus model
    off_plane = SPOTS[:, 2] != 0
    assert (np.abs(err[off_plane, 2]) > 3 * axial_tol).all(), err  # about 1 µm off for 6-8 µm
    assert abs(err[~off_plane, 2]).max() < axial_tol


def test_models_agree_near_the_axis_and_part_at_high_na():
    r2 = np.array([0.0, 1.0, 100.0])
    args = (5.0, 1.04, 200_000.0, 390.625, 1.33)
    assert paraxial_phase(r2, *args)[0] == 0 == high_na_phase(r2, *args)[0]
    np.testing.assert_allclose(high_na_phase(r2[1:], *args), paraxial_phase(r2[1:], *args), rtol=1e-4)
    edge = (512.0**2)  # the pupil edge at NA 1.0
    ratio = high_na_phase(edge, *args) / paraxial_phase(edge, *args)
    assert 1.15 < ratio < 1.25  # 2 (1 - sqrt(1 - s²)) / s² at s = 1 / 1.33


def test_separable_coefficient_matches_the_phase_map():
    m = model("paraxial")
    ph = m.phase(3.0, (16, 16))
    a = float(m.paraxial_coefficient(3.0))
    x = np.arange(16) - 8
    np.testing.assert_allclose(ph, a * (x[:, None] ** 2 + x[None, :] ** 2), rtol=1e-12)
    assert m.separable and not model("high_na").separable


def test_axial_resolution():
    assert axial_resolution_um(1.04, 1.0, 1.33) == pytest.approx(1.04 / (1.33 - np.sqrt(1.33**2 - 1)))


@pytest.mark.parametrize("kw,match", [
    ({"model": "thin"}, "defocus model 'thin' is unknown"),
    ({"objective_na": 1.4}, "objective_na 1.4 must be below the medium index 1.33"),
    ({"medium_index": 0.9, "objective_na": 0.5}, "medium_index 0.9 must be >= 1"),
    ({"wavelength_um": -1.0}, "wavelength_um -1.0 must be a finite number > 0"),
    ({"pitch_um": float("nan")}, "pitch_um nan"),
    ({"magnification": "x"}, "magnification 'x' is not a number"),
])
def test_bad_model_numbers(kw, match):
    base = {"model": "high_na", "wavelength_um": 1.04, "focal_length_um": 2e5, "magnification": 50.0,
            "pitch_um": 8.0, "objective_na": 1.0, "medium_index": 1.33}
    with pytest.raises(DefocusError, match=match):
        DefocusModel(**{**base, **kw})
