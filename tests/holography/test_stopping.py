"""The stop rules with fake clocks: the budget logic checked exactly, no wall-clock bounds."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.holography.stopping import GPU_PROBE, Budget, LoopTimer, StopRule


class _Clock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


class _GpuTimer:
    """Stands in for the CUDA-event timer: counts the syncs and reports what the test says."""

    gpu = True

    def __init__(self, clock, loop_ms):
        self.clock, self.loop_ms, self.syncs = clock, loop_ms, 0

    def elapsed_ms(self):
        self.syncs += 1
        return self.loop_ms


def test_stop_rule_words():
    rule = StopRule(iterations=None, tolerance=0.1, budget_ms=5, check_every=3)
    assert rule.max_iterations == np.iinfo(np.int64).max
    assert [rule.checks_tolerance(k) for k in range(7)] == [True, False, False, True, False, False, True]
    assert rule.tolerance_met(0.1) and not rule.tolerance_met(0.1001)
    plain = StopRule(iterations=7)
    assert plain.max_iterations == 7 and not plain.checks_tolerance(0) and not plain.tolerance_met(0.0)


def test_cpu_budget_stops_before_an_iteration_that_would_not_fit():
    # call started at t = 0, loop started at 1 ms; stop when elapsed + 1.5 x (ms per iteration) > budget
    # (the 0.5 is the finishing FFT and read-out)
    clock = _Clock(0.001)
    timer = LoopTimer(np, False, clock)
    timer.start()
    budget = Budget(40.0, 0.0, timer)
    assert not budget.exhausted(0)  # 1 ms spent, no rate known yet
    clock.t = 0.025  # 3 iterations in 24 ms: 8 ms each; 25 + 12 = 37 <= 40
    assert not budget.exhausted(3)
    clock.t = 0.0281  # 27.1 ms / 3 = 9.03 ms each; 28.1 + 13.55 > 40
    assert budget.exhausted(3)
    # a rate from an earlier run stands in before the first iteration: 1 + 1.5 x 30 > 40
    clock.t = 0.001
    assert Budget(40.0, 0.0, timer, est_ms=30.0).exhausted(0)
    assert not Budget(40.0, 0.0, timer, est_ms=20.0).exhausted(0)


def test_gpu_budget_probes_once_then_counts_iterations():
    clock = _Clock(0.0)
    timer = _GpuTimer(clock, loop_ms=GPU_PROBE * 5.0)  # 5 ms per iteration on the device
    budget = Budget(40.0, 0.0, timer)
    assert not any(budget.exhausted(k) for k in range(GPU_PROBE))
    assert timer.syncs == 0  # nothing waits for the device before the probe
    clock.t = 0.012  # the host is 12 ms into the call when it waits for the probe
    # left = 40 - 12 - half an iteration = 25.5 ms: 5 more iterations after the probe's 2
    assert [budget.exhausted(k) for k in range(GPU_PROBE, 9)] == [False] * 5 + [True, True]
    assert timer.syncs == 1 and budget.limit == GPU_PROBE + 5


def test_gpu_budget_with_a_known_rate_never_syncs():
    clock = _Clock(0.001)
    timer = _GpuTimer(clock, loop_ms=None)
    budget = Budget(40.0, 0.0, timer, est_ms=4.0)
    # left = 40 - 1 - 2 = 37 ms: 9 iterations of 4 ms
    assert [budget.exhausted(k) for k in range(11)] == [False] * 9 + [True, True]
    assert timer.syncs == 0


@pytest.mark.parametrize("t_loop_ms", [0.0, 7.5])
def test_cpu_loop_timer_reads_the_clock(t_loop_ms):
    clock = _Clock(2.0)
    timer = LoopTimer(np, False, clock)
    timer.start()
    clock.t += t_loop_ms / 1e3
    assert timer.elapsed_ms() == pytest.approx(t_loop_ms, abs=1e-9)
