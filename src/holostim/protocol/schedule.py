"""The schedule expanded into the run's steps: which pattern, when, for how long, at what power.

:func:`expand` turns a :class:`~holostim.protocol.model.ScheduleSpec` into a :class:`Plan`, the list the
runner walks and logs. Planned onsets are milliseconds from the run's start (the end of waiting for the
start trigger with ``trigger: ttl_start``):

    baseline_pre | trial 0: step, ISI, step, ... | ITI | trial 1: ... | ... | baseline_post

so ``onset(step k of trial r) = baseline_pre + r × (trial + ITI) + Σ(durations before k in trial r) +
k × ISI`` and ``total_ms`` includes ``baseline_post``. With ``trigger: ttl_per_step`` each step starts at
its own TTL-in instead; the onsets are still laid out as above (what a timer would do), so a plan reads
the same in every mode, but the runner does not wait for them: it owns the timing and logs the real
times.

``order: random`` shuffles the steps of each trial with one ``np.random.default_rng(seed)``: one
permutation per trial, drawn in trial order. NumPy's ``Generator.permutation`` on PCG64 is the same on
every machine and NumPy version that keeps its stream-compatibility policy, so the seed in the log
reproduces the order. Without a seed one is drawn from the OS (``secrets``) and returned in
:attr:`Plan.seed`, so the runner can log it and the run can be repeated exactly.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from holostim.protocol.model import MAX_SEED, ScheduleSpec

__all__ = ["Plan", "Step", "expand"]


@dataclass(frozen=True)
class Step:
    """One step of the run.

    Attributes
    ----------
    index : int
        Position in the run, 0 … N−1 (the order steps are shown in).
    trial : int
        The repetition it belongs to, 0 … R−1.
    position : int
        Position within its trial (after shuffling, with random order).
    pattern : str
        The pattern's name in the protocol.
    onset_ms : float
        Planned onset in ms from the run's start (module docstring; with ``ttl_per_step`` only a plan).
    duration_ms : float
        How long the pattern is lit (gate open).
    power_mw_per_spot : float or None
        The step's own power per spot; ``None``: the pattern's (or the laser's) power.
    """

    index: int
    trial: int
    position: int
    pattern: str
    onset_ms: float
    duration_ms: float
    power_mw_per_spot: float | None


@dataclass(frozen=True)
class Plan:
    """The expanded schedule.

    Attributes
    ----------
    steps : tuple of Step
        In run order.
    seed : int or None
        The seed that drew the order (the given one or a drawn one); ``None`` with ``order: fixed``.
    total_ms : float
        Planned length of the run, baselines included.
    trigger : str
        The schedule's trigger mode (``timer``, ``ttl_start``, ``ttl_per_step``).
    """

    steps: tuple[Step, ...]
    seed: int | None
    total_ms: float
    trigger: str

    def __len__(self) -> int:
        return len(self.steps)

    def trial_order(self, trial: int) -> list[str]:
        """The pattern names of one trial, in the order shown."""
        return [s.pattern for s in self.steps if s.trial == trial]


def _draw_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


def expand(schedule: ScheduleSpec, *, draw_seed: Callable[[], int] = _draw_seed) -> Plan:
    """Lay out every step of the run: order, planned onset, duration, power.

    Parameters
    ----------
    schedule : ScheduleSpec
    draw_seed : callable, optional
        Where a seed comes from when ``order: random`` has none (default: the OS's randomness); tests
        pass their own.
    """
    specs = schedule.steps
    seed: int | None = None
    rng = None
    if schedule.order == "random":
        seed = schedule.seed if schedule.seed is not None else int(draw_seed())
        rng = np.random.default_rng(seed)
    steps: list[Step] = []
    t = float(schedule.baseline_pre_ms)
    for trial in range(schedule.repetitions):
        if trial:
            t += schedule.inter_trial_interval_ms
        order = [int(i) for i in rng.permutation(len(specs))] if rng is not None else range(len(specs))
        for position, k in enumerate(order):
            if position:
                t += schedule.inter_step_interval_ms
            spec = specs[k]
            steps.append(Step(index=len(steps), trial=trial, position=position, pattern=spec.pattern,
                              onset_ms=t, duration_ms=float(spec.duration_ms),
                              power_mw_per_spot=spec.power_mw_per_spot))
            t += spec.duration_ms
    t += schedule.baseline_post_ms
    return Plan(steps=tuple(steps), seed=seed, total_ms=t, trigger=schedule.trigger)
