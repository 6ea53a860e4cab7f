"""The DAQ base's rules and the simulated DAQ's observable lines; the power calibration."""

from __future__ import annotations

import threading

import pytest

from holostim.errors import HolostimError
from holostim.hardware.daq import (
    DAQ,
    DaqError,
    PowerCalibration,
    PowerCalibrationError,
    SimulatedDAQ,
    open_daq,
)


class FakeClock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_gate_closed_at_start_and_on_close():
    clock = FakeClock()
    daq = SimulatedDAQ(clock=clock)
    assert not daq.gate_open
    assert daq.events("gate_out")[0].value is False
    clock.t = 101.0
    daq.open_gate()
    assert daq.gate_open and daq.lines["gate_out"] is True
    clock.t = 102.0
    daq.close()
    assert not daq.gate_open and daq.lines["gate_out"] is False
    assert [(e.t, e.value) for e in daq.events("gate_out")] == [(100.0, False), (101.0, True), (102.0, False)]
    daq.close()  # twice is fine
    with pytest.raises(DaqError, match="closed"):
        daq.open_gate()


def test_swap_pulse_is_in_the_history():
    clock = FakeClock(5.0)
    daq = SimulatedDAQ(clock=clock, swap_pulse_ms=2.0)
    daq.swap_out()
    clock.t = 6.0
    daq.swap_out()
    assert [(e.t, e.value) for e in daq.events("swap_out")] == [
        (5.0, True), (pytest.approx(5.002), False), (6.0, True), (pytest.approx(6.002), False)]
    assert daq.swap_count == 2


def test_trigger_in_times_out_and_sees_injected_and_scheduled_edges():
    daq = SimulatedDAQ()
    assert daq.trigger_in(0.0) is None
    assert daq.trigger_in(0.005) is None
    # an edge from another thread while waiting
    timer = threading.Timer(0.02, daq.inject_edge)
    timer.start()
    t = daq.trigger_in(5.0)
    timer.join()
    assert t is not None and t == daq.events("trigger_in")[0].t
    # scheduled edges: delivered once the clock passes them, in order
    now = daq.clock()
    daq.schedule_edges([now + 0.01, now + 0.02])
    assert daq.trigger_in(5.0) == now + 0.01
    assert daq.trigger_in(5.0) == now + 0.02
    assert [e.t for e in daq.events("trigger_in") if e.value] == [t, now + 0.01, now + 0.02]


def test_trigger_in_ignores_edges_before_since():
    clock = FakeClock(10.0)
    daq = SimulatedDAQ(clock=clock)
    daq.inject_edge()  # at 10.0
    clock.t = 11.0
    assert daq.trigger_in(0.0) is None  # since = now: the old edge is not reported
    daq.inject_edge()
    assert daq.trigger_in(0.0, since=11.0) == 11.0


def test_power_through_the_calibration():
    cal = PowerCalibration([(0, 0.0), (10, 1.0), (30, 2.0)])
    daq = SimulatedDAQ(power_calibration=cal)
    assert daq.set_power_mw(20) == pytest.approx(1.5)
    assert daq.lines["power_ao"] == pytest.approx(1.5)
    with pytest.raises(PowerCalibrationError, match="outside the power calibration's range 0.0..30.0 mW"):
        daq.set_power_mw(31)
    assert daq.lines["power_ao"] == pytest.approx(1.5)  # a refusal writes nothing
    assert SimulatedDAQ().power_calibration is None
    with pytest.raises(DaqError, match="power_calibration"):
        SimulatedDAQ().set_power_mw(1)


def test_a_failing_device_call_closes_the_gate():
    class Broken(SimulatedDAQ):
        def _pulse_swap(self, ms):
            raise OSError("cable pulled")

    daq = Broken()
    daq.open_gate()
    with pytest.raises(OSError):
        daq.swap_out()
    assert not daq.gate_open and daq.lines["gate_out"] is False


def test_open_daq_from_the_registry():
    daq = open_daq("simulated", swap_pulse_ms=0.5)
    assert isinstance(daq, DAQ) and daq.swap_pulse_ms == 0.5
    daq.close()


@pytest.mark.parametrize("table, polynomial, max_mw, match", [
    (None, None, None, "either a table"),
    ([(0, 0)], None, None, "at least two"),
    ([(0, 0), (0, 1)], None, None, "strictly increasing"),
    ([(-1, 0), (1, 1)], None, None, "≥ 0"),
    ([(0, 0), (1, 1), (2, 0.5)], None, None, "strictly monotonic"),
    (None, [0, 1], None, "max_mw"),
    (None, [1, -1, 0.01], 100, "not monotonic"),
    ([(0, 0), (1, 1)], [0, 1], 1, "not both"),
])
def test_power_calibration_refusals(table, polynomial, max_mw, match):
    with pytest.raises(PowerCalibrationError, match=match) as info:
        PowerCalibration(table, polynomial=polynomial, max_mw=max_mw)
    assert isinstance(info.value, HolostimError) and "\n" not in str(info.value)


def test_power_calibration_interpolation_is_monotonic():
    cal = PowerCalibration([(0, 0.2), (5, 0.8), (20, 1.1), (50, 3.0)])
    mws = [i * 0.5 for i in range(101)]
    volts = [cal.volts(m) for m in mws]
    assert all(b > a for a, b in zip(volts, volts[1:], strict=False))
    assert cal.volts(5) == pytest.approx(0.8) and cal.volts(12.5) == pytest.approx(0.95)
    falling = PowerCalibration([(0, 2.0), (10, 1.0)])  # a Pockels cell biased the other way
    assert falling.volts(5) == pytest.approx(1.5)
    poly = PowerCalibration(polynomial=[0.1, 0.05, 0.001], max_mw=40)
    assert poly.volts(10) == pytest.approx(0.1 + 0.5 + 0.1)
    for bad in (-0.1, 40.01, float("nan")):
        with pytest.raises(PowerCalibrationError):
            poly.volts(bad)
