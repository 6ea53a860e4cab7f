"""Hologram quality metrics (the names used everywhere: engine, CLI, GUI, event log).

All metrics are functions of the far-field intensity ``I`` (orthonormal scaling, so ``sum(I)`` is the
power leaving the SLM) and the target's lit pixels with weights ``w`` (normalised to sum 1):

efficiency
    ``sum(I[lit]) / sum(I)``: the fraction of the power that reaches the target.
uniformity
    ``1 - (max r - min r) / (max r + min r)`` with ``r = I[lit] / w``.
std_error
    ``std(r) / mean(r)``: the relative spread of the weighted spot intensities.
tolerance_error
    The photostimulation error: intensities are rescaled so that the lit pixels carry exactly their
    target share of the *delivered* power (laser power sets the absolute dose; efficiency is reported
    separately), in units where the mean target pixel is 1. A lit pixel whose intensity ``I'`` misses
    its target ``T'`` by more than ``eps_r * T'`` adds ``(|I' - T'| - eps_r T') / (eps_r T')``; a dark
    pixel brighter than ``eps_a`` adds ``(I' - eps_a) / eps_a``. The sum is divided by the number of
    lit pixels, so 0 means every pixel is within tolerance and 1 means "on average one tolerance
    unit out per target pixel", comparable across targets. Defaults ``eps_r = 0.1`` (±10 % dose per
    spot) and ``eps_a = 0.05`` (no stray spot above 5 % of a mean target spot).
gap
    ``||F - P_T F|| / ||F||``: the distance from the far field ``F`` of the (SLM-constrained) hologram to
    its projection onto the set of fields with the target amplitude ``sqrt(w sum(I))`` (zero on dark
    pixels). 0 means the hologram is consistent with the target; GS never increases it.

``lit_metrics`` computes all of them from the lit-pixel values alone (plus the dark-pixel excess sum for
the tolerance error), in plain ``xp`` code, so the engine can evaluate them on the GPU without a host
sync; the full-array functions below are the slow, obvious versions used by tests and users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

from holostim.backend import array_module
from holostim.holography.targets import ImageTarget, SpotTarget, TargetError

__all__ = [
    "DEFAULT_EPS_A",
    "DEFAULT_EPS_R",
    "METRIC_NAMES",
    "HologramMetrics",
    "Metric",
    "MetricsHistory",
    "efficiency",
    "evaluate",
    "gap",
    "lit_metrics",
    "std_error",
    "tolerance_error",
    "uniformity",
]

METRIC_NAMES = ("efficiency", "uniformity", "std_error", "tolerance_error", "gap")
# Positions in METRIC_NAMES, i.e. in the vector lit_metrics returns: ``vec[Metric.tolerance_error]``.
Metric = IntEnum("Metric", [(name, i) for i, name in enumerate(METRIC_NAMES)])
DEFAULT_EPS_R = 0.1
DEFAULT_EPS_A = 0.05


@dataclass(frozen=True)
class MetricsHistory:
    """Per-iteration metrics: entry ``k`` is the hologram after ``k`` iterations (entry 0: the start)."""

    efficiency: np.ndarray
    uniformity: np.ndarray
    std_error: np.ndarray
    tolerance_error: np.ndarray
    gap: np.ndarray

    def __len__(self) -> int:
        return int(self.efficiency.shape[0])


@dataclass(frozen=True)
class HologramMetrics:
    """Quality of one hologram (see the module docstring); ``history`` when it was asked for."""

    efficiency: float
    uniformity: float
    std_error: float
    tolerance_error: float
    gap: float
    history: MetricsHistory | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, float]:
        """The five numbers by name (for logs and tables)."""
        return {n: float(getattr(self, n)) for n in METRIC_NAMES}


def lit_metrics(lit_intensity, weights, total_power, dark_excess=None, eps_r: float = DEFAULT_EPS_R,
                eps_a: float = DEFAULT_EPS_A):
    """All five metrics from the lit-pixel intensities, as a stacked ``xp`` array (efficiency, ...).

    Parameters
    ----------
    lit_intensity : array, (n,)
        Far-field intensity on the lit pixels, in the same units as ``total_power``.
    weights : array, (n,)
        Target weights of those pixels, summing to 1.
    total_power : float or 0-d array
        ``sum(I)`` over the whole far field.
    dark_excess : float or 0-d array, optional
        ``sum(max(0, I' - eps_a)) / eps_a`` over *all* pixels in tolerance units (see module docstring;
        :func:`tolerance_scale` gives the factor from ``I`` to ``I'``). The lit pixels' own share is
        removed here. Without it the dark-pixel part of the tolerance error counts as 0.

    Returns
    -------
    array, (5,)
        In the order of :data:`METRIC_NAMES`; stays on the device of the inputs (no host sync).
    """
    xp = array_module(lit_intensity)
    inten = lit_intensity.astype(xp.float64)
    w = weights
    n = inten.shape[0]
    lit_power = xp.sum(inten)
    eff = lit_power / total_power
    r = inten / w
    rmax, rmin = xp.max(r), xp.min(r)
    denom = rmax + rmin
    unif = xp.where(denom > 0, 1 - (rmax - rmin) / xp.where(denom > 0, denom, 1.0), 0.0)
    rmean = xp.mean(r)
    stderr = xp.where(rmean > 0, xp.std(r) / xp.where(rmean > 0, rmean, 1.0), 0.0)
    t = xp.sqrt(w * total_power)
    dist2 = xp.sum((xp.sqrt(inten) - t) ** 2) + xp.maximum(total_power - lit_power, 0.0)
    gap_v = xp.sqrt(dist2 / total_power)
    # tolerance error: I' = I * n / lit_power, T' = n * w
    scale = n / xp.where(lit_power > 0, lit_power, 1.0)
    ip = inten * scale
    tp = n * w
    lit_viol = xp.sum(xp.maximum(xp.abs(ip - tp) - eps_r * tp, 0.0) / (eps_r * tp))
    if dark_excess is None:
        dark = 0.0
    else:
        own = xp.sum(xp.maximum(ip - eps_a, 0.0)) / eps_a
        dark = xp.maximum(dark_excess - own, 0.0)
    tol = xp.where(lit_power > 0, (lit_viol + dark) / n, float("inf"))
    return xp.stack([xp.asarray(v, dtype=xp.float64) for v in (eff, unif, stderr, tol, gap_v)])


def tolerance_scale(lit_intensity) -> Any:
    """Factor from far-field intensity ``I`` to tolerance units ``I'`` (mean target pixel = 1)."""
    xp = array_module(lit_intensity)
    lit_power = xp.sum(lit_intensity)
    return lit_intensity.shape[0] / xp.where(lit_power > 0, lit_power, 1.0)


# ---------------------------------------------------------------------------------------------------------
# Full-array versions: take the centred far-field intensity (any scale) and a target.


def _lit(intensity: np.ndarray, target: SpotTarget | ImageTarget) -> tuple[np.ndarray, np.ndarray]:
    grid = tuple(intensity.shape)
    if isinstance(target, SpotTarget):
        iy, ix = target.lit_pixels(grid)
        w = target.weights
    elif isinstance(target, ImageTarget):
        iy, ix, w = target.lit_pixels(grid)
    else:
        raise TargetError(f"target {target!r} is neither a SpotTarget nor an ImageTarget")
    return np.ravel_multi_index((iy, ix), grid), w


def evaluate(field_or_intensity: Any, target: SpotTarget | ImageTarget, eps_r: float = DEFAULT_EPS_R,
             eps_a: float = DEFAULT_EPS_A) -> HologramMetrics:
    """All five metrics of a centred far field (complex) or far-field intensity (real) on a host array."""
    a = np.asarray(field_or_intensity)
    inten = (np.abs(a) ** 2 if np.iscomplexobj(a) else a).astype(np.float64)
    flat, w = _lit(inten, target)
    lit_i = inten.reshape(-1)[flat]
    total = inten.sum()
    scale = tolerance_scale(lit_i)
    dark = np.sum(np.maximum(inten * scale - eps_a, 0.0)) / eps_a
    vals = lit_metrics(lit_i, w, total, dark, eps_r, eps_a)
    return HologramMetrics(*(float(v) for v in vals))


def efficiency(intensity: Any, target: SpotTarget | ImageTarget) -> float:
    """Fraction of the far-field power on the target's lit pixels."""
    return evaluate(intensity, target).efficiency


def uniformity(intensity: Any, target: SpotTarget | ImageTarget) -> float:
    """``1 - (max - min) / (max + min)`` of lit-pixel intensity / weight."""
    return evaluate(intensity, target).uniformity


def std_error(intensity: Any, target: SpotTarget | ImageTarget) -> float:
    """Relative standard deviation of lit-pixel intensity / weight."""
    return evaluate(intensity, target).std_error


def tolerance_error(intensity: Any, target: SpotTarget | ImageTarget, eps_r: float = DEFAULT_EPS_R,
                    eps_a: float = DEFAULT_EPS_A) -> float:
    """Summed tolerance violations per lit pixel (module docstring)."""
    return evaluate(intensity, target, eps_r, eps_a).tolerance_error


def gap(field: Any, target: SpotTarget | ImageTarget) -> float:
    """Relative distance of a far field to the target's amplitude set (module docstring)."""
    return evaluate(field, target).gap
