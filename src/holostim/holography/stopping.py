"""When a hologram computation stops: iterations, a tolerance, a time budget.

:class:`StopRule` holds the words of one compute call (``iterations``, ``tolerance``, ``budget_ms``,
``check_every``); :class:`Budget` is the clock-watching part, which takes its clock as an argument
(seconds, like :func:`time.perf_counter`) so that tests can drive it with a fake one and check the stop
logic exactly, while benchmarks measure the real thing.

On the CPU the budget compares the clock before each iteration: stop if the iteration, plus the
finishing FFT and phase read-out (about half an iteration), would end past the budget. On the GPU reading
the clock says nothing about queued work, and waiting for it would cost the latency the budget is for, so
the first :data:`GPU_PROBE` iterations are timed with CUDA events (the one host sync of a budgeted GPU
run) and then exactly as many iterations run as fit the rest of the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["GPU_PROBE", "Budget", "LoopTimer", "StopRule"]

GPU_PROBE = 2  # iterations timed on the GPU before the budget fixes the iteration count

Clock = Callable[[], float]


@dataclass(frozen=True)
class StopRule:
    """The stop conditions of one compute.

    ``iterations``: most iterations (``None``: no limit; then a budget must stop the run);
    ``tolerance``: stop once the tolerance error is <= this, tested every ``check_every`` iterations;
    ``budget_ms``: the time budget of the whole call (see :class:`Budget`).
    """

    iterations: int | None = 20
    tolerance: float | None = None
    budget_ms: float | None = None
    check_every: int = 1

    @property
    def max_iterations(self) -> int:
        """``iterations`` as a number (the largest int64 when there is no limit)."""
        return self.iterations if self.iterations is not None else int(np.iinfo(np.int64).max)

    def checks_tolerance(self, k: int) -> bool:
        """Whether the tolerance error of the hologram after ``k`` iterations is tested."""
        return self.tolerance is not None and k % self.check_every == 0

    def tolerance_met(self, tolerance_error: float) -> bool:
        """Whether ``tolerance_error`` is within the tolerance."""
        return self.tolerance is not None and tolerance_error <= self.tolerance


class LoopTimer:
    """Milliseconds since :meth:`start`: the clock on the CPU, CUDA events on the GPU.

    On the GPU :meth:`elapsed_ms` waits for the queued work (a host sync); the loop asks only at the end
    and at the budget's one probe.
    """

    def __init__(self, xp, gpu: bool, clock: Clock):
        self.clock = clock
        self.gpu = gpu
        if gpu:
            self._start_ev, self._end_ev = xp.cuda.Event(), xp.cuda.Event()
            self._elapsed = xp.cuda.get_elapsed_time
        self.t0 = 0.0

    def start(self) -> None:
        """Start timing now."""
        if self.gpu:
            self._start_ev.record()
        self.t0 = self.clock()

    def elapsed_ms(self) -> float:
        """Time since :meth:`start` (on the GPU: of the work queued since then)."""
        if self.gpu:
            self._end_ev.record()
            self._end_ev.synchronize()
            return float(self._elapsed(self._start_ev, self._end_ev))
        return (self.clock() - self.t0) * 1e3


class Budget:
    """Whether the next iteration still fits ``budget_ms``, counted from ``t_start`` (module docstring).

    ``est_ms`` is a per-iteration estimate from an earlier run (or ``None``): it stands in for the
    measured rate before the first iteration (CPU) and lets a GPU run fix its count without probing.
    """

    def __init__(self, budget_ms: float, t_start: float, timer: LoopTimer, est_ms: float | None = None):
        self.budget_ms = float(budget_ms)
        self.t_start = t_start
        self.timer = timer
        self.est_ms = est_ms
        self.limit: int | None = None  # the GPU's iteration count, once fixed

    def _elapsed_ms(self) -> float:
        return (self.timer.clock() - self.t_start) * 1e3

    def exhausted(self, k: int) -> bool:
        """True if iteration ``k`` (0-based) should not start."""
        if self.timer.gpu:
            return self._gpu_exhausted(k)
        elapsed = self._elapsed_ms()
        per = self.timer.elapsed_ms() / k if k else (self.est_ms or 0.0)
        # the finishing FFT + phase read-out costs about half an iteration
        return elapsed + 1.5 * per > self.budget_ms

    def _gpu_exhausted(self, k: int) -> bool:
        if self.limit is None and (k == GPU_PROBE or (k == 0 and self.est_ms)):
            if k == GPU_PROBE:  # the one sync of a budgeted GPU run
                self.est_ms = self.timer.elapsed_ms() / GPU_PROBE
            left = self.budget_ms - self._elapsed_ms() - 0.5 * self.est_ms
            self.limit = k + max(0, int(left // self.est_ms))
        return self.limit is not None and k >= self.limit
