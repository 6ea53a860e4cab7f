"""The model rig the offline-design examples share: laser -> SLM -> 4f relay -> objective -> sample.

Numbers are a scaled-down two-photon holography rig: a 1040 nm laser with a Gaussian beam on a
phase-only SLM (9.2 µm pixels, 95 % fill factor, 8 bit), a 4x relay onto the back aperture of a
water-immersion objective (f = 3 mm, NA 0.8).  The SLM is 128 x 128 pixels here (real ones have
~1000) so the examples run in seconds; the pupil is padded so the focal plane is sampled at
~0.33 µm.  The relay images the SLM inverted, so a spot the engine places at Fourier pixel offset
``(+k, +l)`` from the zero order appears at ``-(k, l) · FOCAL_UM_PER_PX`` µm in the sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from holostim.optics import (
    Field,
    OpticalSystem,
    focal_stack,
    gaussian_beam,
    objective,
    relay_4f,
    resize,
    slm,
    step,
    zernike,
)

WAVELENGTH = 1.04  # µm
SLM_SHAPE = (128, 128)
PITCH = 9.2  # µm
FILL = 0.95
LEVELS = 256
SUPERSAMPLE = 2
WAIST_PX = 48.0  # Gaussian 1/e² radius on the SLM, in pixels
RELAY = (50_000.0, 200_000.0)  # f1, f2 in µm: magnification 4, image inverted
F_OBJ = 3000.0  # µm
NA = 0.8
N_WATER = 1.33
PUPIL_PAD = 2  # zero-padding of the back aperture -> finer focal sampling
PUPIL_RADIUS = NA * F_OBJ  # µm, at the back aperture
MAGNIFICATION = RELAY[1] / RELAY[0]
# focal-plane distance per engine Fourier pixel: λ f_obj / (N_slm · pitch · M)
FOCAL_UM_PER_PX = WAVELENGTH * F_OBJ / (SLM_SHAPE[1] * PITCH * MAGNIFICATION)


@dataclass
class FocalVolume:
    """Intensity in planes around focus: ``stack[z, y, x]``, coordinates in µm."""

    stack: np.ndarray
    z: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def at_focus(self) -> np.ndarray:
        """The xy intensity in the z = 0 plane."""
        return self.stack[int(np.argmin(np.abs(self.z)))]


def spot_phase(offsets_px: np.ndarray, iterations: int = 30) -> np.ndarray:
    """WGS phase from the engine for spots at Fourier-pixel offsets ``(dx, dy)`` from the zero order."""
    from holostim.holography import HologramEngine, SpotTarget

    ny, nx = SLM_SHAPE
    xy = np.asarray(offsets_px, dtype=float) + np.array([nx // 2, ny // 2])
    eng = HologramEngine(SLM_SHAPE, backend="numpy", precision="single", source=("gaussian", WAIST_PX))
    res = eng.compute(SpotTarget.from_pixels(xy, shape=SLM_SHAPE), method="wgs", iterations=iterations)
    return res.phase


def source() -> Field:
    """The laser on the SLM, sampled SUPERSAMPLE times per pixel (same beam as the engine's source)."""
    ny, nx = SLM_SHAPE
    return gaussian_beam((ny * SUPERSAMPLE, nx * SUPERSAMPLE), PITCH / SUPERSAMPLE, WAVELENGTH,
                         WAIST_PX * PITCH, power=1.0, dtype=np.complex64)


def rig(phase: np.ndarray, aberration: Mapping[int, float] | None = None) -> OpticalSystem:
    """The optical system for one SLM phase; ``aberration`` = Zernike {ANSI j: rad} at the back aperture."""
    steps = [
        step(slm, phase, pitch=PITCH, fill_factor=FILL, levels=LEVELS, supersample=SUPERSAMPLE, name="SLM"),
        relay_4f(*RELAY),
    ]
    if aberration:
        steps.append(step(zernike, dict(aberration), PUPIL_RADIUS, name="aberration"))
    ny, nx = SLM_SHAPE
    pad = (ny * SUPERSAMPLE * PUPIL_PAD, nx * SUPERSAMPLE * PUPIL_PAD)
    steps.append(objective(F_OBJ, NA, n_immersion=N_WATER, pad_to=pad))
    return OpticalSystem(steps)


def focal_volume(phase: np.ndarray, zs: np.ndarray, *, aberration: Mapping[int, float] | None = None,
                 crop: int = 256) -> FocalVolume:
    """Intensity in the planes ``zs`` (µm, in water) around the focus of the rig for ``phase``."""
    focus = rig(phase, aberration)(source())
    focus = resize(focus, (crop, crop))  # all spots lie well inside; keeps the stack cheap
    stack = focal_stack(focus, zs, "asm")
    inten = np.abs(stack.u) ** 2
    y, x = focus.grid()
    return FocalVolume(inten, np.asarray(zs, dtype=float), np.asarray(x).ravel(), np.asarray(y).ravel())


def pupil_correction(aberration: Mapping[int, float]) -> np.ndarray:
    """SLM phase that cancels a back-aperture aberration, per SLM pixel.

    The relay maps SLM point ``r`` to pupil point ``-M r``; ``Z_j(-ρ) = (-1)^n Z_j(ρ)``, so the
    correction on the SLM is ``-Σ (-1)^n c_j Z_j(M r / R)``.
    """
    from holostim.optics import ansi_to_nm, zernike_phase

    coeffs = {j: -((-1) ** ansi_to_nm(j)[0]) * c for j, c in aberration.items()}
    return np.asarray(zernike_phase(coeffs, SLM_SHAPE, PITCH, PUPIL_RADIUS / MAGNIFICATION))
