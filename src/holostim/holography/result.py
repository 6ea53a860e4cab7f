"""What one hologram computation returns: the phase, its metrics and where the time went."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from holostim.holography.metrics import HologramMetrics

__all__ = ["HologramResult", "Timings"]


@dataclass(frozen=True)
class Timings:
    """Where the time of one compute went, in milliseconds.

    ``total_ms`` is the whole call (target upload, iterations, final metrics, phase download);
    ``per_iteration_ms`` the loop time divided by the iterations run (including the per-iteration metrics
    when a history or a tolerance stop asked for them; timed with CUDA events on the GPU);
    ``transfer_ms`` the host↔device copies (0 on the CPU backend, where nothing moves).
    """

    total_ms: float
    per_iteration_ms: float
    transfer_ms: float


@dataclass(frozen=True)
class HologramResult:
    """What :meth:`holostim.holography.HologramEngine.compute` returns."""

    phase: np.ndarray
    iterations: int
    metrics: HologramMetrics
    timings: Timings
    method: str
    stopped_by: str  # "iterations", "tolerance" or "budget"
