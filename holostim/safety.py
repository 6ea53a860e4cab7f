"""The one place that decides whether a pattern may go to the SLM and whether the laser may see it.

Every path that shows a stimulation pattern asks the same :class:`SafetyGate`, built from the session's
``safety`` section, in the same order:

1. :meth:`SafetyGate.check_targets` before anything is computed: the spot count, each weight, and each
   target's place (no calibration, outside the SLM's field, in the zero order — the geometry says why);
2. :meth:`SafetyGate.predicted_power` and :meth:`SafetyGate.check_power` once the engine has computed
   the pattern: the power per spot and in total that the pattern's efficiency and weights put on the
   sample, against the per-spot and total limits;
3. :meth:`SafetyGate.permit` when the frame is logged: the SLM's interlock, which permits light only
   while the display really shows our frames.

A refusal raises :class:`TargetRefused` or :class:`SafetyError` naming the value and the limit, before
anything is shown or logged, so a refused pattern leaves no trace. The gate holds no device and no state
of its own: it is a function of the limits, the targets, the computed metrics and the SLM's interlock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from holostim.errors import HolostimError

__all__ = ["Interlocked", "SafetyError", "SafetyGate", "SafetyLimits", "TargetRefused"]


class TargetRefused(HolostimError, ValueError):
    """A target that cannot be stimulated: outside the SLM's field, in the zero order, no calibration."""


class SafetyError(HolostimError, ValueError):
    """A pattern that would break a safety limit (spot count, power per spot, total power)."""


class SafetyLimits(Protocol):
    """The limits the gate reads (the session file's ``safety`` section)."""

    max_spots: int
    laser_power_mw: float
    max_power_per_spot_mw: float
    max_total_power_mw: float


class _Spot(Protocol):
    x: float
    y: float
    weight: float


class Interlocked(Protocol):
    """An SLM's interlock: ``(permitted, reason)``, the reason saying why light is not allowed."""

    def interlock_state(self) -> tuple[bool, str]: ...  # noqa: D102


class SafetyGate:
    """Today's limits: spot count, positive weights, reachable targets, predicted power, interlock.

    Parameters
    ----------
    limits : SafetyConfig
        ``max_spots``, ``laser_power_mw`` (0: power not modelled, no power check),
        ``max_power_per_spot_mw``, ``max_total_power_mw``.
    """

    def __init__(self, limits: SafetyLimits):
        self.limits = limits

    def check_targets(self, targets: Sequence[_Spot], refusal: Callable[[float, float], str | None]) -> None:
        """Raise unless every target may be stimulated; ``refusal(x, y)`` says why one may not.

        Raises
        ------
        SafetyError
            More spots than ``max_spots``.
        TargetRefused
            A weight that is not a positive number, or a target ``refusal`` objects to (1-based index).
        """
        limits = self.limits
        if len(targets) > limits.max_spots:
            raise SafetyError(
                f"{len(targets)} spots exceed safety.max_spots = {limits.max_spots}; remove spots or raise "
                "the limit in the session file"
            )
        for i, t in enumerate(targets):
            if not (np.isfinite(t.weight) and t.weight > 0):
                raise TargetRefused(f"target {i + 1} has weight {t.weight!r}; weights must be positive")
            reason = refusal(t.x, t.y)
            if reason is not None:
                raise TargetRefused(f"target {i + 1} refused: {reason}")

    def predicted_power(self, weights: Sequence[float], efficiency: float | None) -> np.ndarray | None:
        """Power per spot at the sample, mW: ``laser_power_mw × efficiency × weight share``.

        ``None`` when the laser power is not configured or there is no spot. An unknown or non-finite
        efficiency counts as 1 (all the light on the spots: the worst case); it is clipped to [0, 1].
        """
        if self.limits.laser_power_mw <= 0 or len(weights) == 0:
            return None
        eff = 1.0 if efficiency is None or not math.isfinite(efficiency) else min(max(efficiency, 0.0), 1.0)
        w = np.asarray(weights, dtype=np.float64)
        return self.limits.laser_power_mw * eff * w / w.sum()

    def check_power(self, predicted_power_mw: np.ndarray | None) -> None:
        """Raise :class:`SafetyError` when the predicted total or any spot's power is over its limit."""
        p = predicted_power_mw
        if p is None or len(p) == 0:
            return
        limits = self.limits
        total = float(p.sum())
        if total > limits.max_total_power_mw:
            raise SafetyError(
                f"predicted total power {total:.1f} mW exceeds safety.max_total_power_mw = "
                f"{limits.max_total_power_mw:g} mW; lower the laser power or stimulate fewer spots"
            )
        i = int(np.argmax(p))
        if p[i] > limits.max_power_per_spot_mw:
            raise SafetyError(
                f"predicted power {p[i]:.1f} mW on spot {i + 1} exceeds safety.max_power_per_spot_mw = "
                f"{limits.max_power_per_spot_mw:g} mW; spread the power over more spots or lower the laser"
            )

    @staticmethod
    def permit(slm: Interlocked) -> tuple[bool, str]:
        """``(laser_permitted, reason)`` from the SLM's interlock: light only while it shows our frames."""
        permitted, reason = slm.interlock_state()
        return bool(permitted), str(reason)
