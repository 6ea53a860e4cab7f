"""The sample in depth: which plane each neuron lies in, and how an out-of-focus plane looks on the camera.

**Planes.** Neurons lie in a few planes (µm from the nominal focal plane, positive deeper):
``planes_um`` names them, or ``depth_range_um`` spans ``n_planes`` evenly spaced ones; each neuron is put
in one of them by a seeded draw (``[seed, 5]``, a stream of its own, so the lateral layout of a seed is
the same whatever the depths). A handful of discrete planes, not a continuum, is what keeps the light
bounded: the rig computes the light once per shown frame and *distinct* depth (one FFT each), never per
neuron. Default: every neuron at 0, the single plane of a 2-D sample.

**Out-of-focus imaging.** The camera images one plane, ``focus_um``. A neuron ``Δz`` away from it is
blurred by the objective's geometric defocus: its light leaves the focal plane in a cone of half-angle
``θ = asin(NA / n)``, so it covers a disc of radius ``R = |Δz| tan θ`` on the camera, which the model
replaces by a Gaussian of the same second moment, ``σ = R / 2`` per axis (a uniform disc of radius ``R``
has ``⟨x²⟩ = R²/4``). The blur keeps the neuron's collected photons (widefield imaging loses no light
to defocus), so its peak falls as ``r² / (r² + σ²)`` for a soma of radius ``r``: out-of-focus neurons
appear both blurred and dimmer, and within about the depth of field ``λ n / NA²`` of the imaged plane
(where ``σ`` is under a pixel) they look sharp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from holostim.checks import finite, number_pair, positive
from holostim.sim.errors import SimulationConfigError

MAX_PLANES = 16
"""The most distinct depths a sample may have: each costs one FFT per shown frame."""


def depth_planes(planes_um: Sequence[float] | None, depth_range_um: Sequence[float] | None,
                 n_planes: int) -> tuple[float, ...]:
    """The sample's planes (µm, sorted, distinct) from ``planes_um`` or ``depth_range_um`` + ``n_planes``.

    Raises
    ------
    SimulationConfigError
        Both given, a bad number, more than :data:`MAX_PLANES` planes, or a range whose ends are swapped.
    """
    err = SimulationConfigError
    if planes_um is not None and depth_range_um is not None:
        raise err("give planes_um or depth_range_um, not both")
    if isinstance(n_planes, bool) or not isinstance(n_planes, int) or not 1 <= n_planes <= MAX_PLANES:
        raise err(f"n_planes={n_planes!r} must be an integer from 1 to {MAX_PLANES}")
    if planes_um is not None:
        planes = sorted({finite(v, "planes_um", err) for v in planes_um})
        if not planes:
            raise err("planes_um=[] names no plane; leave it out for a flat sample")
        if len(planes) > MAX_PLANES:
            raise err(f"planes_um has {len(planes)} planes; at most {MAX_PLANES} (each costs an FFT per "
                      "frame)")
        return tuple(planes)
    if depth_range_um is not None:
        lo, hi = number_pair(depth_range_um, "depth_range_um", err)
        if hi < lo:
            raise err(f"depth_range_um={list(depth_range_um)!r}: the shallowest end comes first")
        return tuple(sorted({float(v) for v in np.linspace(lo, hi, n_planes)}))
    return (0.0,)


def neuron_depths(planes: Sequence[float], n_neurons: int, seed: int) -> np.ndarray:
    """Each neuron's depth (µm), drawn evenly from ``planes`` by the ``[seed, 5]`` stream."""
    if len(planes) == 1:
        return np.full(n_neurons, float(planes[0]))
    rng = np.random.default_rng([int(seed), 5])
    return np.asarray(planes, dtype=np.float64)[rng.integers(0, len(planes), n_neurons)]


@dataclass(frozen=True)
class ImagingDefocus:
    """How much the camera blurs a plane ``Δz`` from its imaged plane (module docstring).

    Parameters
    ----------
    pixel_um : float
        A camera pixel's size in the sample, µm.
    objective_na, medium_index : float
        The imaging objective's NA and the medium's index (the cone ``asin(NA / n)``).
    """

    pixel_um: float
    objective_na: float
    medium_index: float

    def __post_init__(self) -> None:
        err = SimulationConfigError
        object.__setattr__(self, "pixel_um", positive(self.pixel_um, "camera pixel (µm)", err))
        object.__setattr__(self, "objective_na", positive(self.objective_na, "objective_na", err))
        object.__setattr__(self, "medium_index", positive(self.medium_index, "medium_index", err))

    @property
    def tan_theta(self) -> float:
        """``tan(asin(NA / n))``, the defocus cone's slope (NA at or above ``n`` is taken as 0.99 n)."""
        s = min(self.objective_na / self.medium_index, 0.99)
        return s / math.sqrt(1.0 - s * s)

    def sigma_px(self, dz_um: float) -> float:
        """Gaussian σ (camera px, per axis) of the defocus blur of a plane ``dz_um`` from the imaged one."""
        return abs(float(dz_um)) * self.tan_theta / (2.0 * self.pixel_um)
