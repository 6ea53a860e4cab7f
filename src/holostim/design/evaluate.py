"""Judge any mask (WGS or gradient) on the realistic model, in numpy and double precision.

This is the referee of the benchmark and of ``holostim design``: it runs the :class:`~.model.ForwardModel`
on numpy (the optics core's plain path, not the optimiser's JAX trace) at a finer focal sampling
(``padding`` 2 by default, against the optimiser's 1) and measures, with spot powers integrated over
discs (:mod:`.spots`):

efficiency
    ``Σ P_k / P_laser``: the fraction of the laser's power that reaches the spots (the engine's
    definition, power on target over power leaving the SLM, except that light the dead border absorbs
    or the higher orders carry away is counted as lost, because on a rig it is).
uniformity, std_error
    :mod:`holostim.holography.metrics`' definitions on ``r_k = P_k / w_k``:
    ``1 - (max r - min r) / (max r + min r)`` and ``std(r) / mean(r)``.
power_error
    ``max_k |s_k / w_k - 1|`` with ``s_k = P_k / Σ P``: the worst spot's relative miss of its target share
    (``w_k``, the weights, sum 1); the per-spot dose error a protocol sees.
stray
    ``P_stray / P_laser``: light in the first-order window outside every spot's disc.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from holostim.design.model import DesignModel, ForwardModel, focal_intensity
from holostim.design.spots import DesignTarget, SpotDiscs

__all__ = ["EVAL_PADDING", "DesignMetrics", "Evaluator", "evaluate_mask"]

EVAL_PADDING = 2
"""The evaluator's focal oversampling (samples per Fourier pixel), unless the model asks for more."""

METRICS = ("efficiency", "uniformity", "std_error", "power_error", "stray")


@dataclass(frozen=True)
class DesignMetrics:
    """A mask's quality on the realistic model (module docstring); ``spot_power`` per spot (of the laser)."""

    efficiency: float
    uniformity: float
    std_error: float
    power_error: float
    stray: float
    spot_power: np.ndarray = field(repr=False)

    def as_dict(self) -> dict[str, float]:
        """The five numbers by name (tables, JSON)."""
        return {n: float(getattr(self, n)) for n in METRICS}


def spot_metrics(spot_power: np.ndarray, weights: np.ndarray, stray_power: float) -> DesignMetrics:
    """The metrics from per-spot powers (fractions of the laser's) and the stray power."""
    p = np.asarray(spot_power, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    total = float(p.sum())
    r = p / w
    denom = r.max() + r.min()
    unif = float(1 - (r.max() - r.min()) / denom) if denom > 0 else 0.0
    std = float(r.std() / r.mean()) if r.mean() > 0 else 0.0
    err = float(np.max(np.abs(p / total / w - 1))) if total > 0 else float("inf")
    return DesignMetrics(efficiency=total, uniformity=unif, std_error=std, power_error=err,
                         stray=float(stray_power), spot_power=p)


class Evaluator:
    """The realistic model for one target on numpy, built once and applied to any number of masks."""

    def __init__(self, model: DesignModel, target: DesignTarget, padding: int | None = None):
        pad = max(EVAL_PADDING, model.far_field.padding) if padding is None else int(padding)
        self.model, self.target = model, target
        self.forward = ForwardModel(model, target.depths, xp=np, dtype="double", padding=pad)
        self.discs: SpotDiscs = target.discs(self.forward.grid_shape, pad, model.far_field.spot_radius_px)

    def __call__(self, phase: Any) -> DesignMetrics:
        """The metrics of ``phase`` (radians, SLM shape)."""
        ph = np.asarray(phase, dtype=np.float64)
        if ph.shape != self.model.shape:
            from holostim.design.errors import DesignError

            raise DesignError(f"mask has shape {ph.shape}; the model's SLM is {self.model.shape}")
        focal = self.forward(ph)
        da = float(focal.spacing[0] * focal.spacing[1])
        inten = np.asarray(focal_intensity(focal), dtype=np.float64)
        d = self.discs
        flat = inten.reshape(inten.shape[0], -1)
        p = np.bincount(d.spot, weights=flat[d.plane, d.flat], minlength=d.n_spots) * da
        stray = float(np.sum(inten * d.stray) * da)
        return spot_metrics(p, self.target.weights, stray)


def evaluate_mask(phase: Any, model: DesignModel, target: DesignTarget) -> DesignMetrics:
    """One mask's metrics on the realistic model (builds an :class:`Evaluator`; reuse one for many masks)."""
    return Evaluator(model, target)(phase)
