"""The responding network: the opsin fires on delivered light only, the indicator has GCaMP6f's kinetics.

A 128² simulated SLM lights one neuron of a 128² camera through the world's hidden map; the laser is a
gate function of time, as the simulated DAQ's history gives it; time is a SimulatedClock-like list of
frame times, so every number is exact and no wall clock is involved.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import curve_fit

from holostim.config import parse_config
from holostim.config.messages import ConfigError
from holostim.hardware.slm import SimulatedSLM
from holostim.sim import Indicator, NetworkParams, Scene, SimulatedWorld, SimulationConfigError
from holostim.sim.indicator import kernel, peak_time

N = 128


def ramp_to(world: SimulatedWorld, xy_camera) -> np.ndarray:
    """A blazed grating whose single spot lands on camera pixel ``xy_camera``."""
    fx, fy = world.light.camera_to_slm @ np.array([*xy_camera, 1.0])
    dx, dy = round(fx) - N // 2, round(fy) - N // 2
    y, x = np.mgrid[:N, :N]
    return np.mod(2 * np.pi * (dx * x + dy * y) / N, 2 * np.pi).astype(np.float32)


def rig(gate, *, laser_mw=10.0, spontaneous_hz=0.0, **net):
    slm = SimulatedSLM((N, N), 9.2, 1.04, tau_ms=1.0, two_pi_gray=256)
    params = NetworkParams(spontaneous_hz=spontaneous_hz, **net)
    world = SimulatedWorld(slm, (N, N), scene=Scene(n_neurons=6), network=params, laser_on=gate,
                           laser_mw=laser_mw, seed=3)
    return slm, world


def run(world, t0, t1, fps=200.0):
    """Render frames from t0 to t1 (expected rates), return the times and each neuron's ΔF/F."""
    times = np.arange(t0, t1, 1.0 / fps)
    dff = []
    for t in times:
        world.expected_rate(float(t))
        dff.append(world.network.dff.copy())
    return times, np.array(dff)


def light_on(t_open: float, t_close: float):
    return lambda t: t_open <= t < t_close


def opsin_spikes(world):
    return [s for s in world.network.spikes if s.cause == "opsin"]


def lit_for(ms, **kw):
    """A rig whose gate opens 0.7 s after the swap of a spot on neuron 2, for ``ms``; run to 0.8 s."""
    box = {}
    slm, world = rig(lambda t: box["t"] + 0.7 <= t < box["t"] + 0.7 + ms / 1e3, **kw)
    slm.show_phase(ramp_to(world, world.sample.positions[2]))
    box["t"] = t = slm.frames[-1].t_swapped
    run(world, t + 0.5, t + 0.8)
    return world, t + 0.7


def test_the_lit_cell_fires_once_enough_energy_is_delivered_and_not_otherwise():
    world, t_open = lit_for(10.0, opsin_threshold_uj=20.0)
    per_ms = world._drive(t_open)[2] * 10.0  # µJ per ms on the target at 10 mW
    assert 10 * per_ms >= 20.0, f"the test pattern puts only {per_ms:.2f} µJ/ms on its cell"
    spikes = opsin_spikes(world)
    assert [s.neuron for s in spikes] == [2] * len(spikes) and spikes  # off-target cells stay silent
    t_cross = t_open + 20.0 / per_ms / 1e3
    assert spikes[0].t == pytest.approx(t_cross + 3e-3, abs=1.1e-3)  # the opsin's 3 ms latency
    # a tenth of the power: 10 ms give under the threshold, and the cell stays silent
    weak, _ = lit_for(10.0, opsin_threshold_uj=20.0, laser_mw=1.0)
    assert not opsin_spikes(weak) and weak.network.window_energy_uj().max() < 20.0
    # the same light for a shorter time than the threshold needs: silent too
    short, _ = lit_for(0.5 * 20.0 / per_ms, opsin_threshold_uj=20.0)
    assert not opsin_spikes(short)


def test_no_light_reaches_a_cell_while_the_gate_is_closed():
    slm, world = rig(lambda t: False, opsin_threshold_uj=0.01)
    slm.show_phase(ramp_to(world, world.sample.positions[1]))
    t = slm.frames[-1].t_swapped
    run(world, t, t + 0.5)
    assert not world.network.spikes and float(world.network.window_energy_uj().max()) == 0.0


def test_a_connection_passes_spikes_on_after_its_delay():
    gate = light_on(0.0, 0.0)
    slm, world = rig(gate, connections=[[0, 4, 1.0]], synaptic_delay_ms=5.0)
    world.network.inject(0.2, 0)  # a spike of neuron 0 at t = 0.2 s
    world.expected_rate(0.0)
    run(world, 0.0, 0.4)
    spikes = [(s.neuron, s.cause) for s in world.network.spikes]
    assert spikes == [(0, "injected"), (4, "synaptic")]
    t0, t4 = (s.t for s in world.network.spikes)
    assert t4 - t0 == pytest.approx(5e-3, abs=0.6e-3)


def test_gcamp6f_kinetics_are_fitted_back_from_the_simulated_trace():
    ind = Indicator()
    assert peak_time(ind.tau_rise_s, ind.tau_decay_s) == pytest.approx(0.045, rel=1e-6)
    slm, world = rig(lambda t: False)
    world.network.inject(0.1, 3)
    world.expected_rate(0.0)
    times, dff = run(world, 0.0, 1.5, fps=500.0)
    trace = dff[:, 3]
    t_spike = world.network.spikes[0].t
    assert trace.max() == pytest.approx(0.3, rel=0.01)  # spike_dff is the peak
    assert times[int(np.argmax(trace))] - t_spike == pytest.approx(0.045, abs=0.003)

    def model(t, a, tr, td):
        return a * kernel(t - t_spike, tr, td)

    (a, tr, td), _ = curve_fit(model, times, trace, p0=[0.5, 0.01, 0.3])
    assert tr == pytest.approx(ind.tau_rise_s, rel=0.02) and td == pytest.approx(ind.tau_decay_s, rel=0.02)
    half = t_spike + 0.045 + 0.142
    assert np.interp(half, times, trace) == pytest.approx(0.15, rel=0.03)  # half decay 142 ms after peak
    assert not world.network.dff[[0, 1, 2, 4, 5]].any()


def test_spontaneous_rate_and_determinism():
    _, a = rig(lambda t: False, spontaneous_hz=5.0)
    _, b = rig(lambda t: False, spontaneous_hz=5.0)
    for w in (a, b):
        w.expected_rate(0.0)
        run(w, 0.0, 20.0, fps=30.0)
    assert list(a.network.spikes) == list(b.network.spikes)
    n = len(a.network.spikes)  # 6 neurons × 5 Hz × 20 s = 600 expected
    assert abs(n - 600) < 5 * math.sqrt(600)


@pytest.mark.parametrize(("kw", "match"), [
    ({"indicator_peak_ms": 100, "indicator_half_decay_ms": 10}, "no transient peaks"),
    ({"connections": [[1, 1, 0.5]]}, "two different neuron"),
    ({"connection_density": 2.0}, "probability"),
    ({"dt_ms": 5.0}, "dt_ms"),
])
def test_bad_network_parameters_name_the_value(kw, match):
    with pytest.raises(SimulationConfigError, match=match):
        NetworkParams(**kw)


def test_the_session_section_builds_the_network_and_checks_it():
    cfg = parse_config("simulation:\n  activity_model: network\n  n_neurons: 10\n"
                       "  connections: [[0, 3, 0.5]]\n  indicator_peak_ms: 20\n")
    net = cfg.simulated_camera_kwargs()["network"]
    assert net.connections == ((0, 3, 0.5),) and net.indicator_peak_ms == 20
    assert "network" not in parse_config("simulation: {n_neurons: 10}\n").simulated_camera_kwargs()
    with pytest.raises(ConfigError, match=r"simulation\.connections\.0.*indices 0 to 9"):
        parse_config("simulation:\n  activity_model: network\n  n_neurons: 10\n"
                     "  connections: [[0, 12, 0.5]]\n")
    with pytest.raises(ConfigError, match=r"indicator_half_decay_ms.*no transient"):
        parse_config("simulation:\n  activity_model: network\n  indicator_peak_ms: 100\n"
                     "  indicator_half_decay_ms: 10\n")
