"""A responding network: spontaneous spikes, synaptic coupling, an opsin that fires on delivered light.

Replaces the rate model of :mod:`holostim.sim.activity` when the session's ``simulation.activity_model``
is ``network`` (the rate model stays the default, so older sessions behave as before). Time is stepped
in fixed sub-steps of ``dt_ms`` between two camera frames, so what happens between frames (a 10 ms
pulse) counts, not only the state at the frame's instant:

* **spontaneous**: each neuron spikes as a Poisson process at ``spontaneous_hz``;
* **connectivity**: a spike of neuron *a* makes neuron *b* spike ``synaptic_delay_ms`` later with
  probability ``W[a, b]`` (a sparse matrix: explicit ``connections`` [pre, post, p] by neuron index,
  and/or seeded random links of density ``connection_density`` with probability ``connection_weight``);
* **opsin**: the light energy on the soma within the last ``opsin_window_ms`` (what the SLM shows, only
  while the laser gate is open, off-target light included) is summed; when it reaches
  ``opsin_threshold_uj`` the neuron spikes ``opsin_latency_ms`` later, and its window restarts;
* **refractory**: no spike within ``refractory_ms`` of the last one;
* the indicator (:mod:`holostim.sim.indicator`) turns spikes into ΔF/F.

Every spike is kept (time, neuron, cause) in :attr:`Network.spikes`: the ground truth tests and the
closed-loop benchmark compare the camera's readout with. Seeded by ``[seed, 3]`` (connectivity) and
``[seed, 4]`` (spikes): deterministic for a given seed and frame times.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy import sparse

from holostim.checks import non_negative, positive
from holostim.sim.errors import SimulationConfigError
from holostim.sim.indicator import Indicator, IndicatorState

CAUSES = ("spontaneous", "synaptic", "opsin", "injected")
MAX_SPIKES_KEPT = 200_000


class Spike(NamedTuple):
    """One spike of the simulated network: when (s, the SLM's clock), which neuron, why."""

    t: float
    neuron: int
    cause: str


@dataclass(frozen=True)
class NetworkParams:
    """The network's parameters (the ``simulation`` section's keys of the same names; see the module)."""

    spontaneous_hz: float = 0.2
    connection_density: float = 0.0
    connection_weight: float = 0.3
    connections: Sequence[Sequence[float]] = field(default_factory=tuple)
    synaptic_delay_ms: float = 5.0
    opsin_threshold_uj: float = 5.0
    opsin_window_ms: float = 10.0
    opsin_latency_ms: float = 3.0
    refractory_ms: float = 5.0
    indicator_peak_ms: float = 45.0
    indicator_half_decay_ms: float = 142.0
    spike_dff: float = 0.3
    dt_ms: float = 0.5

    def __post_init__(self) -> None:
        err = SimulationConfigError
        set_ = object.__setattr__
        for name in ("spontaneous_hz", "synaptic_delay_ms", "opsin_latency_ms", "refractory_ms", "spike_dff"):
            set_(self, name, non_negative(getattr(self, name), name, err))
        for name in ("opsin_threshold_uj", "opsin_window_ms", "dt_ms"):
            set_(self, name, positive(getattr(self, name), name, err))
        for name in ("connection_density", "connection_weight"):
            v = non_negative(getattr(self, name), name, err)
            if v > 1:
                raise err(f"{name}={v!r} is a probability: give a value from 0 to 1")
            set_(self, name, v)
        if self.dt_ms > 2.0:
            raise err(f"dt_ms={self.dt_ms!r}: sub-steps longer than 2 ms would blur a few-ms opsin latency")
        links = []
        for k, c in enumerate(self.connections):
            if len(c) != 3:
                raise err(f"connections[{k}]={list(c)!r}: give [pre, post, probability]")
            a, b, p = c
            if int(a) != a or int(b) != b or a < 0 or b < 0 or a == b:
                raise err(f"connections[{k}]={list(c)!r}: pre and post are two different neuron indices ≥ 0")
            if not 0 <= p <= 1:
                raise err(f"connections[{k}]={list(c)!r}: the probability must be from 0 to 1")
            links.append((int(a), int(b), float(p)))
        set_(self, "connections", tuple(links))
        ind = Indicator(self.indicator_peak_ms, self.indicator_half_decay_ms, self.spike_dff)
        set_(self, "indicator", ind)


def weights(params: NetworkParams, n: int, seed: int) -> sparse.csr_matrix:
    """The ``(n, n)`` spike-transfer probabilities ``W[pre, post]`` (random links, then explicit ones)."""
    w = sparse.lil_matrix((n, n))
    if params.connection_density > 0 and n > 1:
        rng = np.random.default_rng([int(seed), 3])
        mask = rng.random((n, n)) < params.connection_density
        np.fill_diagonal(mask, False)
        for a, b in zip(*np.nonzero(mask), strict=True):
            w[a, b] = params.connection_weight
    for a, b, p in params.connections:
        if a >= n or b >= n:
            raise SimulationConfigError(f"connection [{a}, {b}, {p}] names a neuron the sample does not have "
                                        f"(it has {n}, indices 0 to {n - 1})")
        w[a, b] = p
    return w.tocsr()


class Network:
    """The network's state, stepped between frames (see the module docstring). Not thread-safe.

    :meth:`advance` takes the light as two callables of time: ``gate(t)`` (is the laser on) and
    ``drive(t)`` (fraction of the laser power on each soma for the frame the SLM shows at ``t``), and the
    laser's power ``laser_mw(t)``.
    """

    def __init__(self, params: NetworkParams, n_neurons: int, seed: int) -> None:
        self.params = params
        self.n = int(n_neurons)
        self.w = weights(params, self.n, seed)
        self.indicator = IndicatorState(params.indicator, self.n)  # type: ignore[attr-defined]
        self._rng = np.random.default_rng([int(seed), 4])
        self._win = max(1, int(round(params.opsin_window_ms / params.dt_ms)))
        self._energy = np.zeros((self._win, self.n))  # µJ per sub-step, a ring over the window
        self._slot = 0
        self._last_spike = np.full(self.n, -np.inf)
        self._pending: list[tuple[float, int, str]] = []  # spikes due later (latency, synaptic delay)
        self._injected: deque[tuple[float, int, str]] = deque()  # from other threads (inject)
        self.spikes: deque[Spike] = deque(maxlen=MAX_SPIKES_KEPT)
        self.drive = np.zeros(self.n)
        self.t: float | None = None

    @property
    def dff(self) -> np.ndarray:
        """ΔF/F of every neuron now."""
        return self.indicator.dff

    @property
    def stimulated(self) -> np.ndarray:
        """Which somata had light on them at the last sub-step (bool, (N,))."""
        return self.drive > 0

    def inject(self, t: float, neuron: int) -> None:
        """Make ``neuron`` spike at time ``t`` (cause ``"injected"``): a known event for tests and benchmarks.

        Safe from another thread than the one that steps the network.
        """
        if not 0 <= int(neuron) < self.n:
            raise SimulationConfigError(f"neuron {neuron} is not in the sample (0 to {self.n - 1})")
        self._injected.append((float(t), int(neuron), "injected"))

    def window_energy_uj(self) -> np.ndarray:
        """Light energy on each soma within the opsin's window, µJ."""
        return self._energy.sum(axis=0)

    def advance(self, t1: float, gate: Callable[[float], bool], drive: Callable[[float], np.ndarray],
                laser_mw: Callable[[float], float]) -> None:
        """Step from the last time to ``t1`` in sub-steps of ``dt_ms`` (the first call only sets the time)."""
        if self.t is None:
            self.t = float(t1)
            return
        p = self.params
        h = p.dt_ms / 1e3
        span = t1 - self.t
        if span <= 0:
            return
        if span > 30.0:  # a long gap (a paused camera): nothing of it is left in the indicator or window
            self.indicator.step(span - 10.0)
            self._energy[:] = 0.0
            self._pending = [s for s in self._pending if s[0] > t1 - 10.0]
            self.t = t1 - 10.0
        m = int((t1 - self.t) // h)
        if m:
            self._block(m, h, gate, drive, laser_mw)
        rest = t1 - self.t
        if rest > 1e-12:
            self._block(1, rest, gate, drive, laser_mw)
        self.t = float(t1)

    def _block(self, m: int, h: float, gate: Callable[[float], bool], drive: Callable[[float], np.ndarray],
               laser_mw: Callable[[float], float]) -> None:
        """``m`` sub-steps of ``h`` from :attr:`t`; one vectorised step where nothing can happen in them.

        Nothing happens while the laser is off at every sub-step, no spike falls due and no spontaneous
        spike is drawn: then the indicator decays exactly over ``m h`` and the opsin's window empties.
        Otherwise the sub-steps run one by one, with the spontaneous draws already made.
        """
        p = self.params
        t0 = self.t
        mids = t0 + h * (np.arange(m) + 0.5)
        lit = np.fromiter((bool(gate(float(t))) for t in mids), bool, m)
        while self._injected:
            self._pending.append(self._injected.popleft())
        if p.spontaneous_hz > 0:
            spont = self._rng.random((m, self.n)) < -math.expm1(-p.spontaneous_hz * h)
        else:
            spont = None
        t_end = t0 + m * h
        quiet = (not lit.any() and (spont is None or not spont.any())
                 and not any(s[0] <= t_end for s in self._pending))
        if quiet:
            self.indicator.step(m * h)
            if m >= self._win:
                self._energy[:] = 0.0
            else:
                for _ in range(m):
                    self._slot = (self._slot + 1) % self._win
                    self._energy[self._slot] = 0.0
            self.drive = np.zeros(self.n)
            self.t = t_end
            return
        for k in range(m):
            row = None if spont is None else spont[k]
            self._substep(t0 + (k + 1) * h, h, bool(lit[k]), drive, laser_mw, row)
            self.t = t0 + (k + 1) * h

    def _substep(self, t: float, h: float, lit: bool, drive: Callable[[float], np.ndarray],
                 laser_mw: Callable[[float], float], spont: np.ndarray | None) -> None:
        """One sub-step ending at ``t``; ``lit``: the laser in its middle; ``spont``: spontaneous draws."""
        p = self.params
        n = self.n
        self.drive = drive(t - 0.5 * h) if lit else np.zeros(n)
        self._slot = (self._slot + 1) % self._win
        self._energy[self._slot] = self.drive * (float(laser_mw(t)) * 1e3 * h) if lit else 0.0  # mW·ms = µJ
        counts = np.zeros(n)
        # spikes: spontaneous now, and those falling due (opsin latency, synaptic delay)
        fired: list[tuple[int, str]] = []
        if spont is not None:
            fired.extend((int(i), "spontaneous") for i in np.nonzero(spont)[0])
        if self._pending:
            due = [s for s in self._pending if s[0] <= t]
            if due:
                self._pending = [s for s in self._pending if s[0] > t]
                fired.extend((i, cause) for _, i, cause in due)
        if lit:
            over = np.nonzero(self._energy.sum(axis=0) >= p.opsin_threshold_uj)[0]
            for i in over:
                self._energy[:, i] = 0.0  # the window restarts: the opsin's current has been spent
                self._pending.append((t + p.opsin_latency_ms / 1e3, int(i), "opsin"))
        refractory = p.refractory_ms / 1e3
        for i, cause in fired:
            if t - self._last_spike[i] < refractory or counts[i]:
                continue
            counts[i] = 1
            self._last_spike[i] = t
            self.spikes.append(Spike(t, i, cause))
            row = self.w.getrow(i)
            if row.nnz:
                hits = row.indices[self._rng.random(row.nnz) < row.data]
                self._pending.extend((t + p.synaptic_delay_ms / 1e3, int(j), "synaptic") for j in hits)
        self.indicator.step(h, counts if fired else None)
