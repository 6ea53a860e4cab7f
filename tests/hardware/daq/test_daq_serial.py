"""The serial DAQ against the pure-Python firmware emulator, through a real pty and pyserial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("serial")

from holostim.hardware.daq import DaqError, DaqNotFoundError, PowerCalibration  # noqa: E402
from holostim.hardware.daq.emulator import FirmwareEmulator  # noqa: E402
from holostim.hardware.daq.serial import SerialDAQ  # noqa: E402

SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.fixture
def fw():
    emulator = FirmwareEmulator()
    yield emulator
    emulator.close()


def test_version_gate_swap_and_power(fw):
    daq = SerialDAQ(fw.port, power_calibration=PowerCalibration([(0, 0.0), (40, 4.0)]), swap_pulse_ms=0.5)
    try:
        assert daq.firmware_version == 1 and daq.watchdog_ms == 100
        assert fw.lines["gate_out"] is False and not daq.gate_open
        daq.open_gate()
        assert fw.lines["gate_out"] is True and daq.gate_open
        daq.swap_out()
        swaps = fw.events("swap_out")
        assert [e.value for e in swaps] == [True, False]
        assert swaps[1].t - swaps[0].t == pytest.approx(0.0005)
        assert daq.set_power_mw(25) == pytest.approx(2.5)
        assert fw.lines["power_ao"] == pytest.approx(2.5)
        daq.close_gate()
        assert fw.lines["gate_out"] is False
    finally:
        daq.close()
    assert fw.lines["gate_out"] is False
    assert [e.value for e in fw.events("gate_out")] == [False, True, False]


def test_trigger_in_reported_by_the_board(fw):
    with SerialDAQ(fw.port) as daq:
        assert daq.trigger_in(0.01) is None
        timer = threading.Timer(0.05, fw.inject_edge)
        timer.start()
        t = daq.trigger_in(5.0)
        timer.join()
        assert t is not None
        # the board's time of the edge, mapped onto the host clock (the same clock here), is off by at
        # most half a heartbeat's round trip (plus the µs rounding)
        assert abs(t - fw.events("trigger_in")[0].t) <= daq.sync_error_s + 2e-6
        assert daq.trigger_in(0.0) is None  # reported once


def test_the_host_sees_the_watchdog_close_the_gate(fw):
    with SerialDAQ(fw.port, heartbeat_ms=5000) as daq:  # heartbeats far slower than the watchdog
        daq.open_gate()
        for _ in range(2000):  # a guard against hanging, not a time bound
            if daq.watchdog_tripped:
                break
            time.sleep(0.005)
        assert daq.watchdog_tripped and not daq.gate_open
        assert fw.lines["gate_out"] is False
        daq.open_gate()  # the host may open it again (and its heartbeats keep it open)
        assert fw.lines["gate_out"] is True and not daq.watchdog_tripped


def test_board_refusal_is_one_line_and_closes_the_gate(fw):
    with SerialDAQ(fw.port) as daq:
        daq.open_gate()
        with pytest.raises(DaqError, match="refused: ERR unknown command") as info:
            daq._call(daq._command, "X")
        assert "\n" not in str(info.value)
        assert not daq.gate_open and fw.lines["gate_out"] is False


def test_missing_port_says_which_and_how():
    with pytest.raises(DaqNotFoundError, match="cannot open '/dev/holostim-no-such-port'.*daq.port") as info:
        SerialDAQ("/dev/holostim-no-such-port")
    assert "\n" not in str(info.value)


def test_a_silent_port_is_not_the_firmware():
    master, slave = os.openpty()
    try:
        with pytest.raises(DaqNotFoundError, match="no holostim_daq firmware answers"):
            SerialDAQ(os.ttyname(slave), boot_s=0.0, reply_timeout_s=0.05)
    finally:
        os.close(master)
        os.close(slave)


HOST = textwrap.dedent("""
    import sys, time
    from holostim.hardware.daq.serial import SerialDAQ
    daq = SerialDAQ(sys.argv[1], heartbeat_ms=10)
    daq.open_gate()
    print("open", flush=True)
    time.sleep(600)
""")


def test_watchdog_closes_the_gate_after_the_host_is_killed(fw):
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    host = subprocess.Popen([sys.executable, "-c", HOST, fw.port], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert host.stdout.readline().strip() == "open"
        assert fw.lines["gate_out"] is True
        n = len(fw.commands)
        for _ in range(2000):  # the host is heartbeating (a guard against hanging, not a time bound)
            if sum(cmd == "H" for _, cmd in fw.commands[n:]) >= 3:
                break
            time.sleep(0.005)
        assert fw.lines["gate_out"] is True
        host.send_signal(signal.SIGKILL)
        host.wait()
        for _ in range(2000):
            if fw.lines["gate_out"] is False:
                break
            time.sleep(0.005)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    opened, closed = fw.events("gate_out")[-2:]
    assert opened.value is True and closed.value is False
    last = max(t for t, _ in fw.commands if t <= closed.t)
    tolerance = 0.02  # the emulator's poll period is 1 ms; allowance for a loaded machine's scheduler
    assert 0.1 < closed.t - last <= 0.1 + tolerance  # measured on the emulator's clock


def test_out_of_range_power_is_refused_before_the_board_and_closes_the_gate(fw):
    # the calibration reaches 6 V, the board only 5 V
    with SerialDAQ(fw.port, power_calibration=PowerCalibration([(0, 0.0), (60, 6.0)])) as daq:
        daq.open_gate()
        with pytest.raises(DaqError, match="outside the board's 0..5.0 V"):
            daq.set_power_mw(55)
        assert not daq.gate_open and fw.lines["gate_out"] is False
        assert fw.events("power_ao") == []
        assert daq.set_power_mw(10) == pytest.approx(1.0)
        assert fw.lines["power_ao"] == pytest.approx(1.0)


def test_emulator_refuses_out_of_range_numbers(fw):
    with SerialDAQ(fw.port) as daq:
        for cmd, reply in (("P 0", "ERR pulse"), ("A 6000", "ERR ao"), ("P x", "ERR bad number")):
            with pytest.raises(DaqError, match=reply):
                daq._command(cmd)
        assert fw.events("swap_out") == [] and fw.events("power_ao") == []
