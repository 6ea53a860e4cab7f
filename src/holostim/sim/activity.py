"""Calcium dynamics: neurons fire spontaneously, fire fast while lit, and each spike decays away.

Each neuron fires as a Poisson process, at ``spontaneous_hz`` or, while the fraction of the laser power
on its soma is above ``threshold``, at ``stim_hz``; every spike adds ``spike_dff`` to its ΔF/F, which
decays with ``tau_s`` (~0.5 s). Stimulated neurons therefore visibly brighten and relax when the light
moves on, as a GCaMP recording of an opsin-expressing neuron does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from holostim.checks import non_negative, positive
from holostim.sim.errors import SimulationConfigError


@dataclass(frozen=True)
class Activity:
    """How the neurons fire and how their calcium responds.

    Parameters
    ----------
    spontaneous_hz : float
        Mean spontaneous firing rate per neuron.
    stim_hz : float
        Firing rate while the light on a soma is above ``threshold``.
    threshold : float
        Fraction of the laser power on a soma needed to drive it.
    spike_dff : float
        Calcium transient per spike, in ΔF/F.
    tau_s : float
        Decay time constant of the transients.
    """

    spontaneous_hz: float = 0.2
    stim_hz: float = 25.0
    threshold: float = 0.002
    spike_dff: float = 0.3
    tau_s: float = 0.5

    def __post_init__(self) -> None:
        err = SimulationConfigError
        set_ = object.__setattr__  # frozen: store the checked values once
        set_(self, "spontaneous_hz", non_negative(self.spontaneous_hz, "spontaneous_hz", err))
        set_(self, "stim_hz", non_negative(self.stim_hz, "stim_hz", err))
        set_(self, "threshold", positive(self.threshold, "threshold", err))
        set_(self, "spike_dff", non_negative(self.spike_dff, "spike_dff", err))
        set_(self, "tau_s", positive(self.tau_s, "tau_s", err))


class Calcium:
    """The ΔF/F of every neuron, stepped forward in time; spikes seeded by ``[seed, 1]``."""

    def __init__(self, activity: Activity, n_neurons: int, seed: int) -> None:
        self.activity = activity
        self.dff = np.zeros(n_neurons)  # ΔF/F of each neuron
        self.drive = np.zeros(n_neurons)  # fraction of the laser power on each soma, last step
        self._rng = np.random.default_rng([int(seed), 1])

    @property
    def stimulated(self) -> np.ndarray:
        """Which neurons the light drove above threshold at the last step (bool, (N,))."""
        return self.drive > self.activity.threshold

    def step(self, dt: float, drive: np.ndarray) -> None:
        """Advance by ``dt`` seconds (> 0) with ``drive`` on each soma throughout."""
        a = self.activity
        self.drive = drive
        rate = a.spontaneous_hz + a.stim_hz * (drive > a.threshold)
        # Sub-steps of ≤ 50 ms; beyond 10 τ only the last 10 τ matter (transients have decayed by e⁻¹⁰).
        if dt > 10 * a.tau_s:
            self.dff[:] = 0.0
            dt = 10 * a.tau_s
        steps = max(1, int(math.ceil(dt / 0.05)))
        h = dt / steps
        decay = math.exp(-h / a.tau_s)
        for _ in range(steps):
            spikes = self._rng.poisson(rate * h)
            self.dff *= decay
            self.dff += a.spike_dff * spikes
