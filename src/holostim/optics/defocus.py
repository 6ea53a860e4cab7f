"""Axial spot placement: the SLM-plane defocus phase that moves a spot ``z`` µm along the sample axis.

The SLM is conjugate to the objective's back pupil: the Fourier lens (focal length ``f``) and the relay
(demagnification ``M``) map an SLM point at radius ``r`` (µm, from the optical axis, pixel ``N//2``)
to the transverse spatial frequency ``ν = r M / (λ f)`` of the light in the sample (vacuum wavelength
``λ``, medium index ``n``). A plane wave of that frequency gains the phase ``2π z sqrt((n/λ)² − ν²)``
over a distance ``z`` in the medium, so a spot focused ``z`` beyond the focal plane needs the opposite
phase on the SLM:

``high_na``  (exact for an aplanatic objective, ScanImage's form)
    ``φ(r) = −(2π n z / λ) · (sqrt(1 − (r M / (n f))²) − 1)``; with ``ρ = r / r_pupil`` and the pupil
    radius ``r_pupil = NA f / M`` the root is ``sqrt(1 − (ρ NA / n)²)``. Past the evanescent edge
    (``r M > n f``, outside any real pupil) the root is taken as 0.
``paraxial``  (the thin-lens / Fresnel term)
    ``φ(r) = π z M² r² / (n λ f²)``, the first term of the same expansion. It is separable,
    ``exp(i a x²) · exp(i a y²)``, which the direct-sum engine exploits; at NA 1.0 in water it misplaces
    the focus by about 10 % of ``z`` (spherical aberration of the missing higher terms), which is why
    both exist.

Both are ``z``-linear and 0 on the axis (the piston ``2π n z / λ`` is dropped: it does not move light).
``z > 0`` is deeper, away from the objective. Pure functions of a small frozen :class:`DefocusModel`,
built in float64 on the host like every optics kernel.

The reach of a pixelated SLM: the lens phase is sampled once per pixel, and where it changes by more
than π from one pixel to the next it aliases (the SLM then writes a different, folded lens whose light
goes to ghost foci, not to the spot). :meth:`DefocusModel.max_depth_um` is the depth at which the
steepest step reaches π over the SLM pixels inside the objective's back pupil (radius ``NA f / M``:
light from pixels outside it never enters the objective, so their aliasing reaches no sample); deeper
(or shallower) spots cannot be placed by this SLM.

It lives in the optics core (not in :mod:`holostim.holography`, which re-exports it unchanged) because
two rooms need the same formula side by side: the engines place spots with it, and the simulated rig
(:mod:`holostim.sim`, which may not import the holography) focuses its light with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.errors import HolostimError

__all__ = ["DEFOCUS_MODELS", "DefocusError", "DefocusModel", "axial_resolution_um", "high_na_phase",
           "paraxial_phase"]

DEFOCUS_MODELS = ("paraxial", "high_na")


class DefocusError(HolostimError, ValueError):
    """Optical numbers that cannot define a defocus (non-positive, NA not below the medium index)."""


def paraxial_phase(r2_um2: Any, z_um: float, wavelength_um: float, focal_length_um: float,
                   magnification: float, medium_index: float) -> Any:
    """Paraxial defocus ``π z M² r² / (n λ f²)`` (radians) at squared SLM radii ``r2_um2`` (µm²)."""
    a = math.pi * z_um * magnification**2 / (medium_index * wavelength_um * focal_length_um**2)
    return a * np.asarray(r2_um2, dtype=np.float64)


def high_na_phase(r2_um2: Any, z_um: float, wavelength_um: float, focal_length_um: float,
                  magnification: float, medium_index: float) -> Any:
    """Non-paraxial defocus ``−(2π n z/λ)(sqrt(1 − r² M²/(n f)²) − 1)`` (radians), root floored at 0."""
    s2 = np.asarray(r2_um2, dtype=np.float64) * (magnification / (medium_index * focal_length_um)) ** 2
    return -(2 * math.pi * medium_index * z_um / wavelength_um) * (np.sqrt(np.maximum(1.0 - s2, 0.0)) - 1.0)


def axial_resolution_um(wavelength_um: float, objective_na: float, medium_index: float) -> float:
    """The axial extent of a focus, ``λ / (n − sqrt(n² − NA²))`` (µm): the scale of axial errors."""
    return wavelength_um / (medium_index - math.sqrt(medium_index**2 - objective_na**2))


def _positive(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DefocusError(f"{name} {value!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise DefocusError(f"{name} {value!r} must be a finite number > 0")
    return v


@dataclass(frozen=True)
class DefocusModel:
    """The optical numbers that turn a sample-plane depth into an SLM phase (module docstring).

    Attributes
    ----------
    model : {"paraxial", "high_na"}
    wavelength_um, focal_length_um, magnification : float
        Vacuum wavelength, the Fourier lens after the SLM, Fourier plane → sample demagnification.
    pitch_um : float
        SLM pixel pitch (the phase is built on SLM pixels).
    objective_na, medium_index : float
        Objective NA (< medium index) and the refractive index of the medium the spots are in.
    """

    model: str
    wavelength_um: float
    focal_length_um: float
    magnification: float
    pitch_um: float
    objective_na: float = 0.8
    medium_index: float = 1.33

    def __post_init__(self) -> None:
        if self.model not in DEFOCUS_MODELS:
            raise DefocusError(f"defocus model {self.model!r} is unknown; use one of "
                               f"{', '.join(DEFOCUS_MODELS)}")
        for name in ("wavelength_um", "focal_length_um", "magnification", "pitch_um", "objective_na",
                     "medium_index"):
            object.__setattr__(self, name, _positive(getattr(self, name), name))
        if self.medium_index < 1.0:
            raise DefocusError(f"medium_index {self.medium_index:g} must be >= 1 (water 1.33, oil 1.518)")
        if self.objective_na >= self.medium_index:
            raise DefocusError(f"objective_na {self.objective_na:g} must be below the medium index "
                               f"{self.medium_index:g} (an objective cannot exceed its immersion's index)")

    @property
    def separable(self) -> bool:
        """True for the paraxial model: ``exp(i a (x² + y²)) = exp(i a x²) exp(i a y²)``."""
        return self.model == "paraxial"

    @property
    def axial_resolution_um(self) -> float:
        """``λ / (n − sqrt(n² − NA²))``, the axial size of a focus (the scale of the axial tests)."""
        return axial_resolution_um(self.wavelength_um, self.objective_na, self.medium_index)

    @property
    def pupil_radius_um(self) -> float:
        """Radius on the SLM of the objective's back pupil, ``NA f / M``."""
        return self.objective_na * self.focal_length_um / self.magnification

    def paraxial_coefficient(self, z_um: Any) -> np.ndarray:
        """``a`` of ``φ = a x²`` per axis, in radians per SLM pixel², for each depth in ``z_um``."""
        z = np.asarray(z_um, dtype=np.float64)
        return paraxial_phase(self.pitch_um**2, 1.0, self.wavelength_um, self.focal_length_um,
                              self.magnification, self.medium_index) * z

    def max_depth_um(self, shape: tuple[int, int]) -> float:
        """The largest ``|z|`` (sample µm) whose defocus phase steps by at most π between neighbouring pixels.

        The phase is linear in ``z``, so this is π over the steepest pixel-to-pixel step of the phase at
        ``z = 1 µm`` on the centred grid of ``shape``, between pixels both inside the back pupil (module
        docstring: past it the lens aliases where light reaches the sample). Paraxially, with the pupil
        covering the SLM, that is ``n λ f² / (M² p² (2 (N//2) − 1))`` for the longer side ``N``.
        """
        ny, nx = shape
        y = (np.arange(ny) - ny // 2) * self.pitch_um
        x = (np.arange(nx) - nx // 2) * self.pitch_um
        inside = (y[:, None] ** 2 + x[None, :] ** 2) <= self.pupil_radius_um**2
        unit = self.phase(1.0, shape)
        steepest = 0.0
        for axis in (0, 1):
            if unit.shape[axis] < 2:
                continue
            both = np.logical_and(np.delete(inside, 0, axis=axis), np.delete(inside, -1, axis=axis))
            step = np.abs(np.diff(unit, axis=axis))[both]
            steepest = max(steepest, float(step.max()) if step.size else 0.0)
        return math.inf if steepest == 0.0 else math.pi / steepest

    def phase(self, z_um: float, shape: tuple[int, int]) -> np.ndarray:
        """The defocus phase (radians, float64) for depth ``z_um`` on a centred SLM grid of ``shape``."""
        ny, nx = shape
        y = (np.arange(ny) - ny // 2) * self.pitch_um
        x = (np.arange(nx) - nx // 2) * self.pitch_um
        r2 = y[:, None] ** 2 + x[None, :] ** 2
        fn = paraxial_phase if self.model == "paraxial" else high_na_phase
        return fn(r2, float(z_um), self.wavelength_um, self.focal_length_um, self.magnification,
                  self.medium_index)
