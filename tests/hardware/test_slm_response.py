"""The LC response model (first order, τ(φ)), overdrive and phase-change reduction, in simulated time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from holostim.hardware.slm import LUT, SimulatedSLM
from holostim.hardware.slm.errors import SLMError
from holostim.hardware.slm.response import LCResponse, overdrive_command, reduce_phase_change, settle_time_s

TWO_PI = 2 * math.pi
TABLE = ((0.0, 30.0), (TWO_PI, 8.0))  # slow towards low retardance, fast towards high


class Clock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def test_relax_is_the_analytic_solution_and_solves_the_ode():
    r = LCResponse(10.0)
    s = r.relax(np.array([0.0, 5.0]), np.array([3.0, 1.0]), 0.017)
    w = math.exp(-1.7)
    assert s == pytest.approx([3.0 * (1 - w), 1.0 + 4.0 * w], rel=1e-12)
    # τ(T): an independent ODE solve of ds/dt = (T - s)/τ(T) per pixel
    rt = LCResponse(10.0, TABLE)
    s0, tgt = np.array([0.2, 6.0, 3.0]), np.array([5.5, 0.5, 3.3])
    for i in range(3):
        tau = float(np.interp(tgt[i], [0, TWO_PI], [0.030, 0.008]))
        sol = solve_ivp(lambda _t, y, i=i, tau=tau: (tgt[i] - y) / tau, (0, 0.02), [s0[i]],
                        rtol=1e-10, atol=1e-12)
        assert rt.relax(s0, tgt, 0.02)[i] == pytest.approx(sol.y[0, -1], abs=1e-8)


def test_bad_response_settings_are_refused():
    with pytest.raises(SLMError, match="tau_ms"):
        LCResponse(-1.0)
    with pytest.raises(SLMError, match="increase"):
        LCResponse(1.0, ((1.0, 5.0), (0.5, 5.0)))
    with pytest.raises(SLMError, match="> 0 ms"):
        LCResponse(1.0, ((0.0, 0.0),))


def test_simulated_panel_follows_tau_of_phase_per_pixel():
    clk = Clock()
    slm = SimulatedSLM((4, 4), 8.0, 1.064, two_pi_gray=200, tau_table=TABLE, clock=clk)
    frame = np.zeros((4, 4), np.uint8)
    frame[:, 2:] = 180
    rec = slm.show_gray(frame)
    phase = slm._phase_of_gray[frame]
    tau = np.interp(phase, [0, TWO_PI], [0.030, 0.008])
    for dt in (0.0, 0.004, 0.02):
        want = phase * (1 - np.exp(-dt / tau))  # from gray 0
        got = slm.displayed_phase(rec.t_swapped + dt)
        assert got == pytest.approx(want, abs=2e-6)


def test_overdrive_command_hits_the_target_in_one_frame_when_unclipped():
    r = LCResponse(10.0, TABLE)
    s0, tgt = np.array([1.0, 4.0]), np.array([3.0, 2.5])
    cmd = overdrive_command(r, s0, tgt, 1 / 60, -100.0, 100.0, iterations=30)
    assert np.all(np.abs(cmd - s0) > np.abs(tgt - s0))  # beyond the new phase
    assert r.relax(s0, cmd, 1 / 60) == pytest.approx(tgt, abs=1e-9)


def _time_within(slm, t0, target, tol, dt=0.0005, t_max=0.2):
    """First simulated time after t0 at which every pixel is within tol of target (and stays)."""
    ts = np.arange(0.0, t_max, dt)
    ok = [np.abs(slm.displayed_phase(t0 + t) - target).max() <= tol for t in ts]
    for k in range(len(ok)):
        if all(ok[k:]):
            return ts[k]
    return math.inf


def test_overdrive_settles_faster_in_simulated_time_and_ends_exactly_at_the_command():
    shape = (8, 8)
    rng = np.random.default_rng(3)
    old = rng.integers(0, 200, shape).astype(np.uint8)
    new = rng.integers(0, 200, shape).astype(np.uint8)
    times = {}
    for od in (False, True):
        clk = Clock()
        slm = SimulatedSLM(shape, 8.0, 1.064, two_pi_gray=200, tau_ms=10.0, overdrive=od, clock=clk)
        slm.show_gray(old)
        clk.t += 1.0  # settled
        rec = slm.show_gray(new)
        target = slm._phase_of_gray[new].astype(np.float32)
        times[od] = _time_within(slm, rec.t_swapped, target, 0.02)
        late = slm.displayed_phase(rec.t_swapped + 2.0)
        assert np.array_equal(late, target)  # exactly the commanded phase in the end
        assert np.array_equal(slm.drive[-1][2], new)  # the last command is the frame itself
    assert times[True] < times[False]
    assert times[False] == pytest.approx(0.010 * math.log(np.abs(
        SimulatedSLM(shape, 8.0, 1.064, two_pi_gray=200)._phase_of_gray[new].astype(np.float64)
        - SimulatedSLM(shape, 8.0, 1.064, two_pi_gray=200)._phase_of_gray[old]).max() / 0.02), abs=0.001)


def test_a_new_frame_during_the_overdrive_frame_voids_its_pending_command():
    clk = Clock()
    slm = SimulatedSLM((2, 2), 8.0, 1.064, two_pi_gray=200, tau_ms=10.0, overdrive=True, clock=clk)
    slm.show_gray(np.full((2, 2), 50, np.uint8))
    clk.t += 0.005  # within the first frame period
    slm.show_gray(np.full((2, 2), 120, np.uint8))
    starts = [r.t_swapped + d for r, d, _ in slm.drive]
    # od(50), od(120), 120: the pending 50 is gone
    assert starts == sorted(starts) and len(slm.drive) == 3
    assert int(slm.drive[-1][2][0, 0]) == 120


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 8.0), min_size=1, max_size=20),
       st.lists(st.floats(0, 6.28), min_size=1, max_size=20), st.floats(3.0, 6.3), st.floats(6.3, 12.0))
def test_phase_change_reduction_never_increases_the_change(state, target, period, hi):
    n = min(len(state), len(target))
    s, t = np.array(state[:n]), np.mod(np.array(target[:n]), period)
    out = reduce_phase_change(s, t, period, hi)
    assert np.all(np.abs(out - s) <= np.abs(t - s) + 1e-12)
    k = (out - t) / period
    assert np.allclose(k, np.round(k)) and np.all((out <= hi) | (out == t))  # 2π-equivalent, in range


def test_simulated_reduction_commands_the_nearer_equivalent_gray():
    clk = Clock()
    slm = SimulatedSLM((2, 2), 8.0, 1.064, two_pi_gray=128, tau_ms=1.0, phase_change_reduction=True,
                       clock=clk)
    slm.show_gray(np.array([[120, 10]] * 2, np.uint8))
    clk.t += 1.0
    slm.show_gray(np.array([[5, 20]] * 2, np.uint8))
    assert slm.drive[-1][2].tolist() == [[133, 20]] * 2  # 5 + 128 is nearer 120; 20 stays
    lut = SimulatedSLM((2, 2), 8.0, 1.064, lut=LUT(np.arange(256)), tau_ms=1.0, phase_change_reduction=True)
    assert lut._reduction_period() is None  # a LUT spans exactly 2π: no room beyond it


def test_settle_figure_comes_from_the_model():
    pog = np.arange(256) * TWO_PI / 200
    used = pog[:200]  # the levels frames use; 200..255 is the room beyond 2π
    assert settle_time_s(LCResponse(10.0), used, taus=3) == pytest.approx(0.030, rel=1e-12)
    # overdrive alone cannot speed up a fall to level 0 (nothing below it): no gain in the worst case
    od = settle_time_s(LCResponse(10.0), used, command_range=(0, pog[-1]), taus=3, overdrive=True,
                       frame_s=1 / 60)
    assert od == pytest.approx(0.030)
    both = settle_time_s(LCResponse(10.0), used, command_range=(0, pog[-1]), taus=3, overdrive=True,
                         frame_s=1 / 60, reduce=True)
    assert 1 / 60 <= both < 0.030
    clk = Clock()
    plain = SimulatedSLM((4, 4), 8.0, 1.064, two_pi_gray=200, tau_ms=10.0, clock=clk)
    fast = SimulatedSLM((4, 4), 8.0, 1.064, two_pi_gray=200, tau_ms=10.0, overdrive=True,
                        phase_change_reduction=True, clock=clk)
    assert plain.settle_time_s(3) == pytest.approx(0.030)
    assert fast.settle_time_s(3) == pytest.approx(both, rel=0.01)  # ties at π may fall either way
    # the model's figure is true of the simulated panel for every pair of levels it is asked about
    eps = math.exp(-3) * (used[-1] - used[0])
    for a, b in ((0, 199), (199, 0), (100, 0), (0, 100), (60, 170)):
        fast.show_gray(np.full((4, 4), a, np.uint8))
        clk.t += 1.0
        rec = fast.show_gray(np.full((4, 4), b, np.uint8))
        got = fast.displayed_phase(rec.t_swapped + fast.settle_time_s(3) + 1e-9)
        err = np.angle(np.exp(1j * (got.astype(np.float64) - pog[b])))  # 2π-equivalent is the same light
        assert np.abs(err).max() <= eps + 1e-4, (a, b)


def test_the_laser_gate_waits_the_slms_model_figure(tmp_path):
    from holostim.session.laser_gate import LaserGate

    fast = SimulatedSLM((4, 4), 8.0, 1.064, two_pi_gray=200, tau_ms=10.0, overdrive=True,
                        phase_change_reduction=True)
    gate = LaserGate(None, slm=lambda: fast, permit=lambda: (True, ""), event_log=lambda: None,
                     frame_lock=None, settle_taus=3.0)
    assert gate.settle_s() == pytest.approx(fast.settle_time_s(3.0)) and gate.settle_s() < 0.030
