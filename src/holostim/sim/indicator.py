"""A GCaMP-class calcium indicator: each spike adds a difference-of-exponentials transient to ΔF/F.

One spike gives ``ΔF/F(t) = A · k · (e^{-t/τ_decay} − e^{-t/τ_rise})`` for ``t ≥ 0``, with ``k`` chosen so
the peak is ``A`` (``spike_dff``). The two time constants are derived from the two numbers papers report
for one action potential, the time to peak and the half-decay time (from the peak), so a user can type
what a paper's table says. The defaults are GCaMP6f's: time to peak ≈ 45 ms and half decay ≈ 142 ms for
1 AP (Chen et al. 2013, *Nature* 499:295, GCaMP6f: rise ~45 ms, t½ ~142 ms), giving τ_rise ≈ 17.5 ms and
τ_decay ≈ 178 ms. Faster variants (jGCaMP8f, Zhang et al. 2023, *Nature* 615:884) are a matter of these
two numbers.

The state per neuron is two exponentials (the rise and the decay term), stepped exactly: stepping by
``h`` multiplies each by ``e^{-h/τ}``, so any step size gives the same trace at the shared instants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from holostim.checks import positive
from holostim.sim.errors import SimulationConfigError

GCAMP6F_PEAK_MS = 45.0
"""GCaMP6f, 1 AP: time from the spike to the peak of ΔF/F (Chen et al. 2013)."""
GCAMP6F_HALF_DECAY_MS = 142.0
"""GCaMP6f, 1 AP: time from the peak to half of it (Chen et al. 2013)."""


def kernel(t: np.ndarray, tau_rise: float, tau_decay: float) -> np.ndarray:
    """The unnormalised transient ``e^{-t/τd} − e^{-t/τr}`` (0 before the spike)."""
    t = np.asarray(t, dtype=float)
    out = np.exp(-np.clip(t, 0, None) / tau_decay) - np.exp(-np.clip(t, 0, None) / tau_rise)
    return np.where(t >= 0, out, 0.0)


def peak_time(tau_rise: float, tau_decay: float) -> float:
    """Time of the transient's peak, ``τr τd / (τd − τr) · ln(τd / τr)``."""
    return tau_rise * tau_decay / (tau_decay - tau_rise) * math.log(tau_decay / tau_rise)


def _half_decay(tau_rise: float, tau_decay: float) -> float:
    tp = peak_time(tau_rise, tau_decay)
    half = 0.5 * float(kernel(np.array(tp), tau_rise, tau_decay))
    def above(t: float) -> float:
        return float(kernel(np.array(t), tau_rise, tau_decay)) - half

    return brentq(above, tp, tp + 50 * tau_decay) - tp


def time_constants(peak_s: float, half_decay_s: float) -> tuple[float, float]:
    """``(τ_rise, τ_decay)`` in s whose transient peaks at ``peak_s`` and halves ``half_decay_s`` later."""
    from scipy.optimize import least_squares

    def miss(v: np.ndarray) -> np.ndarray:
        tr, td = math.exp(v[0]), math.exp(v[0]) + math.exp(v[1])  # τd > τr by construction
        return np.array([peak_time(tr, td) / peak_s - 1.0, _half_decay(tr, td) / half_decay_s - 1.0])

    guess_td = half_decay_s / math.log(2)
    guess_tr = peak_s / max(math.log(guess_td / (peak_s / 3)), 1.0)
    fit = least_squares(miss, [math.log(guess_tr), math.log(max(guess_td - guess_tr, 1e-6))],
                        xtol=1e-12, ftol=1e-12)
    if not fit.success or float(np.max(np.abs(fit.fun))) > 1e-6:
        raise SimulationConfigError(
            f"indicator: no transient peaks {1e3 * peak_s:g} ms after a spike and halves "
            f"{1e3 * half_decay_s:g} ms after its peak; the half decay must be longer (about 0.8 × the "
            "time to peak or more)")
    tr = math.exp(fit.x[0])
    return tr, tr + math.exp(fit.x[1])


@dataclass(frozen=True)
class Indicator:
    """The indicator's response to one spike.

    Parameters
    ----------
    peak_ms : float
        Spike → peak of ΔF/F (GCaMP6f: 45 ms).
    half_decay_ms : float
        Peak → half of it (GCaMP6f: 142 ms).
    spike_dff : float
        Peak ΔF/F of one spike.
    """

    peak_ms: float = GCAMP6F_PEAK_MS
    half_decay_ms: float = GCAMP6F_HALF_DECAY_MS
    spike_dff: float = 0.3

    def __post_init__(self) -> None:
        err = SimulationConfigError
        object.__setattr__(self, "peak_ms", positive(self.peak_ms, "indicator_peak_ms", err))
        half = positive(self.half_decay_ms, "indicator_half_decay_ms", err)
        object.__setattr__(self, "half_decay_ms", half)
        object.__setattr__(self, "_taus", time_constants(self.peak_ms / 1e3, self.half_decay_ms / 1e3))

    @property
    def tau_rise_s(self) -> float:
        """Rise time constant τ_rise (s)."""
        return self._taus[0]  # type: ignore[attr-defined]

    @property
    def tau_decay_s(self) -> float:
        """Decay time constant τ_decay (s)."""
        return self._taus[1]  # type: ignore[attr-defined]

    @property
    def scale(self) -> float:
        """``k``: the kernel's peak normalised to 1."""
        tr, td = self._taus  # type: ignore[attr-defined]
        return 1.0 / float(kernel(np.array(peak_time(tr, td)), tr, td))


class IndicatorState:
    """ΔF/F of every neuron: the rise and decay exponentials, stepped exactly."""

    def __init__(self, indicator: Indicator, n: int) -> None:
        self.indicator = indicator
        self.rise = np.zeros(n)
        self.decay = np.zeros(n)
        self._amp = indicator.spike_dff * indicator.scale

    @property
    def dff(self) -> np.ndarray:
        """ΔF/F now."""
        return self._amp * (self.decay - self.rise)

    def step(self, h: float, spikes: np.ndarray | None = None) -> None:
        """Decay by ``h`` seconds, then add ``spikes`` (counts per neuron) at the step's end."""
        ind = self.indicator
        self.rise *= math.exp(-h / ind.tau_rise_s)
        self.decay *= math.exp(-h / ind.tau_decay_s)
        if spikes is not None:
            self.rise += spikes
            self.decay += spikes
