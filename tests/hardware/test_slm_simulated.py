"""The simulated panel: liquid-crystal settle model, round trip through LUT and flatness, interlock faults."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from slm_helpers import ASSETS, TWO_PI, FakeClock

from holostim.hardware.slm import SimulatedSLM


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_simulated_settle_model():
    tau_ms = 20.0
    slm = SimulatedSLM((8, 8), 8.0, 1.064, two_pi_gray=200, tau_ms=tau_ms)
    a = slm.show_gray(np.full((8, 8), 100, np.uint8))
    phase_a = TWO_PI * 100 / 200
    t = a.t_swapped
    # from gray 0 towards gray 100
    for dt in (0.0, 0.005, 0.02, 0.1):
        want = phase_a * (1 - math.exp(-dt / (tau_ms / 1e3)))
        assert slm.displayed_phase(t + dt) == pytest.approx(np.full((8, 8), want), abs=1e-5)
    # a second frame 10 ms later, from the partly settled state towards gray 40
    b = slm.show_gray(np.full((8, 8), 40, np.uint8))
    b.t_swapped = t + 0.010  # pin the time for an exact check
    s_b = phase_a * (1 - math.exp(-0.5))
    phase_b = TWO_PI * 40 / 200
    for dt in (0.0, 0.01, 0.05):
        want = phase_b + (s_b - phase_b) * math.exp(-dt / 0.02)
        assert slm.displayed_phase(b.t_swapped + dt)[3, 3] == pytest.approx(want, abs=1e-5)
    assert slm.displayed_phase(t - 1.0)[0, 0] == 0.0  # before the first frame: gray 0
    assert slm.displayed_phase().dtype == np.float32


def test_simulated_round_trip_through_lut_and_flatness(rng):
    """With tau 0, the displayed phase is the asked phase (mod 2π) to within LUT quantisation."""
    flat = ASSETS / "example-flatness-256x256-1064nm.bmp"
    slm = SimulatedSLM((256, 256), 9.2, 1.064, lut=ASSETS / "example-1064nm.lut", flatness=flat, tau_ms=0)
    phase = rng.uniform(0, TWO_PI, (256, 256)).astype(np.float32)
    slm.show_phase(phase)
    shown = slm.displayed_phase()
    err = np.angle(np.exp(1j * (shown.astype(np.float64) - phase)))
    # one LUT step (2π/256) plus the flatness file's own 8-bit steps; the correction is exactly undone
    assert np.abs(err).max() < 1.5 * TWO_PI / 256 + 1e-3
    assert np.sqrt(np.mean(err**2)) < TWO_PI / 256
    # a panel whose error is not corrected shows it
    bare = SimulatedSLM(
        (256, 256), 9.2, 1.064, lut=ASSETS / "example-1064nm.lut", tau_ms=0, panel_error=slm.panel_error
    )
    bare.show_phase(phase)
    err2 = np.angle(np.exp(1j * (bare.displayed_phase().astype(np.float64) - phase)))
    assert np.sqrt(np.mean(err2**2)) > 0.5


def test_simulated_interlock_listeners():
    clock = FakeClock()
    slm = SimulatedSLM((8, 8), 8.0, 1.064, stale_ms=60, clock=clock)
    events = []
    cond = threading.Condition()

    def listener(ok, reason):
        with cond:
            events.append((clock(), ok, reason))
            cond.notify_all()

    def wait_for(ok):
        with cond:  # the watchdog thread reports; the timeout only bounds a broken test
            assert cond.wait_for(lambda: events and events[-1][1] == ok, 10.0), events
        return events[-1]

    slm.add_interlock_listener(listener)
    assert events[0][1] is False and "no frame" in events[0][2]
    slm.show_phase(np.zeros((8, 8), np.float32))
    wait_for(True)
    assert slm.laser_permitted and slm.interlock_reason == ""
    slm.set_visible(False)
    assert "hidden" in wait_for(False)[2]
    slm.set_visible(True)
    wait_for(True)
    t_stall = clock()
    slm.set_stalled(True)
    # the stale deadline is exact: on up to 60 ms after the last swap, off after it
    assert slm.interlock_state(now=t_stall + 0.060) == (True, "")
    ok, reason = slm.interlock_state(now=t_stall + 0.0601)
    assert not ok and "stalled" in reason and "limit 60 ms" in reason
    clock.t = t_stall + 0.059
    assert slm.laser_permitted
    with cond:
        n = len(events)
    clock.t = t_stall + 0.061  # nothing else happens: the watchdog must notice the deadline by itself
    t_off, _, reason = wait_for(False)
    assert "stalled" in reason and t_off == t_stall + 0.061
    assert [e[1] for e in events[n - 1 :]] == [True, False]  # no spurious flip on the way
    slm.set_stalled(False)
    wait_for(True)
    slm.close()
    assert "closed" in wait_for(False)[2]
    assert not slm.laser_permitted
