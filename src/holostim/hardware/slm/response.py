"""The liquid crystal's response: first-order relaxation, overdrive and phase-change reduction.

A nematic LC pixel does not jump to a new retardance; it relaxes towards the commanded one,

    ds/dt = (T - s) / τ(T)      →      s(t) = T + (s0 - T) · exp(-t / τ(T))

with the time constant τ optionally a function of the *commanded* retardance T (a panel is often
slower towards low retardance, where the field is released, than towards high). Because τ depends on
the command, not on the state, every pixel's solution stays an exact exponential (:meth:`LCResponse.relax`).

*Overdrive* (Thalhammer, Bowman, Love, Padgett and Ritsch-Marte, "Speeding up liquid crystal SLMs using
overdrive with phase change reduction", Opt. Express 21:1779, 2013): for one frame period ``T_f`` the
panel is commanded *beyond* the new phase, at the value whose exponential passes exactly through the
target at ``T_f``; then the target itself is commanded and the pixel is already there
(:func:`overdrive_command`). The command cannot leave the panel's range, so a clipped pixel keeps part
of its slow tail.

*Phase-change reduction*: a retardance and the same plus 2π give the same light, so where the panel
reaches beyond 2π the target is taken as the 2π-equivalent nearest the present state
(:func:`reduce_phase_change`) — smaller swings settle sooner and leave more room for overdrive.

:func:`settle_time_s` turns a model into the one number the laser gate waits for: the worst case, over
all pairs of levels, of the time until the residual is below ``exp(-taus)`` of a full-range swing
(exactly ``taus · τ`` for a constant τ without overdrive).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from holostim.hardware.slm.errors import SLMError

__all__ = ["LCResponse", "overdrive_command", "reduce_phase_change", "settle_time_s"]

TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class LCResponse:
    """A first-order LC response with time constant ``tau_ms``, or ``τ(T)`` from a table.

    Parameters
    ----------
    tau_ms : the time constant (ms) when no table is given; ``0`` is an instantaneous panel.
    tau_table : optional ``((retardance_rad, tau_ms), ...)`` samples of τ as a function of the commanded
        retardance, linearly interpolated (held constant beyond the first and last sample).
    """

    tau_ms: float
    tau_table: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self):
        if not (math.isfinite(self.tau_ms) and self.tau_ms >= 0):
            raise SLMError(f"tau_ms={self.tau_ms!r} must be a finite number >= 0")
        if self.tau_table is not None:
            table = tuple((float(p), float(t)) for p, t in self.tau_table)
            if len(table) < 1:
                raise SLMError("tau_table needs at least one (retardance_rad, tau_ms) pair")
            ph = [p for p, _ in table]
            if any(b <= a for a, b in zip(ph, ph[1:], strict=False)):
                raise SLMError(f"tau_table retardances {ph} must increase strictly")
            if any(not (math.isfinite(t) and t > 0) for _, t in table):
                raise SLMError("tau_table time constants must be finite and > 0 ms")
            object.__setattr__(self, "tau_table", table)

    @classmethod
    def of(cls, tau_ms: float, tau_table: Sequence[Sequence[float]] | None = None) -> LCResponse:
        """Build from config-like values (lists accepted)."""
        return cls(float(tau_ms), None if tau_table is None else tuple(tuple(r) for r in tau_table))

    @property
    def instantaneous(self) -> bool:
        """True for a panel that follows its command at once (τ = 0, no table)."""
        return self.tau_table is None and self.tau_ms == 0

    def tau_s(self, target: np.ndarray | float) -> np.ndarray:
        """τ in seconds for each commanded retardance (float64 array of the target's shape)."""
        t = np.asarray(target, dtype=np.float64)
        if self.tau_table is None:
            return np.full(t.shape, self.tau_ms / 1e3)
        ph = np.array([p for p, _ in self.tau_table])
        tau = np.array([x for _, x in self.tau_table])
        return np.interp(t, ph, tau) / 1e3

    def relax(self, state: np.ndarray, target: np.ndarray, dt: float) -> np.ndarray:
        """The exact state ``dt`` seconds after commanding ``target`` from ``state`` (float64)."""
        s = np.asarray(state, dtype=np.float64)
        tgt = np.asarray(target, dtype=np.float64)
        if dt <= 0:
            return s.copy()
        if self.instantaneous:
            return np.broadcast_to(tgt, np.broadcast_shapes(s.shape, tgt.shape)).copy()
        w = np.exp(-dt / self.tau_s(tgt))
        return tgt + (s - tgt) * w


def overdrive_command(
    response: LCResponse, state: np.ndarray, target: np.ndarray, frame_s: float, lo: float, hi: float,
    iterations: int = 4,
) -> np.ndarray:
    """The one-frame command (retardance, float64) that brings ``state`` exactly to ``target`` at ``frame_s``.

    From ``s(T_f) = c + (s0 - c) w = T`` with ``w = exp(-T_f / τ(c))``: ``c = (T - s0 w) / (1 - w)``,
    clipped to the panel's range ``[lo, hi]``. With τ depending on the command the equation is solved by
    a few fixed-point passes (τ evaluated at the previous ``c``); any remaining error, like the clipping,
    only leaves a residual that the following plain frame removes.
    """
    s0 = np.asarray(state, dtype=np.float64)
    tgt = np.asarray(target, dtype=np.float64)
    if response.instantaneous or frame_s <= 0:
        return np.clip(tgt, lo, hi)
    c = tgt.copy()
    for _ in range(max(1, iterations if response.tau_table is not None else 1)):
        w = np.exp(-frame_s / response.tau_s(c))
        c = np.clip((tgt - s0 * w) / (1.0 - w), lo, hi)
    return c


def reduce_phase_change(state: np.ndarray, target: np.ndarray, period: float, hi: float) -> np.ndarray:
    """The 2π-equivalent of ``target`` (``target + k·period``, within ``[0, hi]``) nearest ``state``.

    ``target`` is taken in ``[0, period)``; the result never swings further than the target itself
    (``k = 0`` is always a candidate), so ``|result - state| <= |target - state|`` pixel by pixel.
    Works in any unit (radians with ``period = 2π``, gray levels with ``period = two_pi_gray``).
    """
    s = np.asarray(state, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    best = t.copy()
    kmax = int(math.floor(hi / period)) + 1
    for k in range(1, kmax + 1):
        cand = t + k * period
        better = (cand <= hi) & (np.abs(cand - s) < np.abs(best - s))
        best = np.where(better, cand, best)
    return best


def _cross_time(s0, c, tgt, tau, eps):
    """When ``|s(t) - tgt| <= eps`` first holds while ``s`` relaxes from ``s0`` towards ``c``.

    ``inf`` where it never does: ``c`` short of the window on the same side as ``s0``.
    """
    d0 = s0 - tgt
    dc = c - tgt
    out = np.full(np.broadcast(s0, c, tgt).shape, np.inf)
    done = np.abs(d0) <= eps
    out[done] = 0.0
    # s - tgt = dc + (d0 - dc) e^{-t/τ} runs monotonically from d0 to dc: it enters the window at the
    # edge facing d0 when dc lies inside the window or beyond the target (overdrive).
    edge = np.sign(d0) * eps
    ok = ~done & ((np.abs(dc) < eps) | (np.sign(dc) != np.sign(d0))) & ((d0 - dc) != 0)
    ratio = np.where(ok, (edge - dc) / np.where(ok, d0 - dc, 1.0), 1.0)
    ok &= ratio > 0
    out[ok] = -tau[ok] * np.log(ratio[ok])
    return out


def settle_time_s(
    response: LCResponse,
    levels: np.ndarray,
    *,
    command_range: tuple[float, float] | None = None,
    taus: float = 3.0,
    overdrive: bool = False,
    frame_s: float = 0.0,
    reduce: bool = False,
    period: float = TWO_PI,
) -> float:
    """Worst-case time (s) for any pixel to come within ``exp(-taus) · span`` of its new target.

    ``levels`` are the retardances frames use (the phases of the gray levels the gray scale can
    produce), ``span`` their range; ``command_range`` is what the panel can be driven to (default the
    levels' range) — the room overdrive and phase-change reduction have. Every pair (old settled level →
    new level) is evaluated in closed form. Without overdrive and with a constant τ this is exactly
    ``taus · τ``. With overdrive the first frame commands :func:`overdrive_command` and the result is at
    least one frame period (the overdrive frame must be over before light is allowed: it shows another
    pattern). ``reduce`` applies :func:`reduce_phase_change` to the new level first.
    """
    lv = np.asarray(levels, dtype=np.float64).ravel()
    span = float(lv.max() - lv.min())
    lo, hi = (float(lv.min()), float(lv.max())) if command_range is None else map(float, command_range)
    if span <= 0 or response.instantaneous:
        return frame_s if overdrive else 0.0
    eps = math.exp(-taus) * span
    old = lv[:, None]
    new = np.broadcast_to(lv[None, :], (lv.size, lv.size))
    if reduce:
        new = reduce_phase_change(old, np.mod(new, period), period, hi)
    if not overdrive:
        tau = response.tau_s(new)
        d = np.abs(new - old)
        t = np.where(d > eps, tau * np.log(np.maximum(d, eps) / eps), 0.0)
        return float(t.max())
    cmd = overdrive_command(response, old, new, frame_s, lo, hi)
    t_first = _cross_time(old, cmd, new, response.tau_s(cmd), eps)
    s1 = response.relax(old, cmd, frame_s)
    r1 = np.abs(s1 - new)
    tau = response.tau_s(new)
    t_after = frame_s + np.where(r1 > eps, tau * np.log(np.maximum(r1, eps) / eps), 0.0)
    t = np.where((t_first <= frame_s) & (r1 <= eps), t_first, t_after)
    return float(max(frame_s, t.max()))
