"""The DAQ in the session and the laser gate: when it opens, every way it closes, TTL in, swap out, light.

Each test drives a small simulated rig (tests/gate_rig.py) and reads what really happened from the
simulated DAQ's line history, the SLM's frame records and the log; no test depends on how fast the
machine is (times are only compared with each other).
"""

from __future__ import annotations

import threading
import time

import pytest
from gate_rig import N, OpenSpy, gate_intervals, gray, open_rig, records, write_rig

from holostim.eventlog import EventLogError, read
from holostim.hardware.daq import DaqError, SimulatedDAQ
from holostim.session import GateError, Session, SessionError


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def show(s: Session, level: int = 10):
    return s.show_test_pattern(gray(level), f"gray {level}")


# ------------------------------------------------------------------------------------------- the DAQ
def test_without_a_daq_section_the_gate_cannot_open_and_triggers_are_refused(tmp_path):
    with open_rig(tmp_path, daq=None) as s:
        assert s.daq is None and s.laser_gate.daq is None
        rec = show(s)
        with pytest.raises(GateError, match=r"no daq section: the laser gate needs one \(daq: \{backend: "
                                             r"simulated\} on the simulated rig\)"):
            s.laser_gate.open_when_ready(rec, power_mw=None, deadline=None)
        with pytest.raises(GateError, match="no daq section"):
            s.wait_trigger(0.0)
        assert s.laser_gate.close("nothing") is None
        assert read(s.log.path).header["daq"] is None


def test_the_session_opens_its_daq_pulses_every_swap_and_closes_it_first(tmp_path):
    s = open_rig(tmp_path)
    assert isinstance(s.daq, SimulatedDAQ) and not s.daq.gate_open
    header = read(s.log.path).header
    assert header["daq"]["backend"] == "SimulatedDAQ" and header["daq"]["power_range_mw"] == [0.0, 15.0]
    for level in (10, 20, 30):
        show(s, level)
    assert s.daq.swap_count == 3  # one swap_out pulse per real swap
    assert s.laser_gate.is_open  # interactive mode: the last frame opened the gate
    order = []
    for name in ("daq", "log", "camera", "slm"):
        obj = getattr(s, name)
        if obj is not None:
            real = obj.close
            obj.close = lambda real=real, name=name: (order.append(name), real())[-1]
    s.close()
    assert order == ["daq", "log", "slm"]  # the DAQ first (no camera in this session)
    assert s.daq.events("gate_out")[-1].value is False and not s.daq.gate_open
    recs = records(tmp_path / "logs" / s.log.path.name)
    gates = [r for r in recs if r["type"] == "gate"]
    assert gates[-1]["reason"] == "the session is closed" and gates[-1]["open"] is False
    assert [r["type"] for r in recs].index("session_end") > recs.index(gates[-1])


def test_a_daq_that_cannot_open_is_one_line_and_nothing_stays_open(tmp_path):
    path = write_rig(tmp_path, daq={"backend": "serial", "port": str(tmp_path / "no-such-port"), "boot_s": 0})
    with pytest.raises(DaqError, match="no-such-port") as err:
        Session.open(path, load_calibration=False, camera=False)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------------------- opening
def test_the_gate_opens_after_swap_and_settle_with_power_set_and_logged_first(tmp_path):
    with open_rig(tmp_path, slm={"settle_tau_ms": 4, "settle_taus": 3}) as s:
        spy = OpenSpy(s)
        with s.laser_gate.manual():
            rec = show(s)
            assert not s.laser_gate.is_open  # manual: nothing opens by itself
            t = s.laser_gate.open_when_ready(rec, power_mw=7.5, deadline=time.monotonic() + 5,
                                             context={"step": 3})
        assert t is not None and s.laser_gate.is_open and spy.problems == [] and spy.opened == 1
        assert s.laser_gate.settle_s() == pytest.approx(0.012)
        (opened, _), = gate_intervals(s.daq, end=t)
        assert opened >= rec.t_swapped + 0.012 and opened <= t
        power = s.daq.events("power_ao")[-1]
        assert power.value == pytest.approx(7.5 * 2.0 / 15) and power.t <= opened  # set while closed
        gate = records(s, "gate")[-1]
        assert gate["action"] == "open" and gate["power_mw"] == 7.5 and gate["step"] == 3
        assert gate["t"] <= opened


def test_a_power_without_a_power_line_is_one_line(tmp_path):
    with open_rig(tmp_path, daq={"backend": "simulated"}) as s, s.laser_gate.manual():
        rec = show(s)
        with pytest.raises(GateError, match="power_mw=5 needs the DAQ's power_ao line"):
            s.laser_gate.open_when_ready(rec, power_mw=5, deadline=None)
        assert not s.daq.gate_open


def test_a_deadline_or_a_blocked_permit_leaves_it_closed_and_says_why(tmp_path):
    with open_rig(tmp_path, slm={"settle_tau_ms": 1000}) as s, s.laser_gate.manual():
        rec = show(s)
        assert s.laser_gate.open_when_ready(rec, power_mw=None, deadline=time.monotonic() + 0.02) is None
        assert records(s, "gate")[-1]["reason"] == "deadline passed while waiting for the SLM to settle"
        s.slm.set_visible(False)
        s.slm.check_interlock()
        assert s.laser_gate.open_when_ready(rec, power_mw=None, deadline=None) is None
        why = records(s, "gate")[-1]
        assert why["action"] == "not_opened" and why["reason"].startswith("laser not permitted: ")
        old = rec
        s.slm.set_visible(True)
        show(s, 20)  # another frame: the old one never opens the gate again
        assert s.laser_gate.open_when_ready(old, power_mw=None, deadline=None) is None
        assert records(s, "gate")[-1]["reason"] == "the SLM shows another frame"
        assert not any(e.value for e in s.daq.events("gate_out"))


def test_a_blocked_gate_closes_and_nothing_opens_it_until_unblocked(tmp_path):
    """An abort blocks the gate: an opening that was already waiting, or starts after, does not open."""
    with open_rig(tmp_path) as s, s.laser_gate.manual():
        rec = show(s)
        assert s.laser_gate.open_when_ready(rec, power_mw=None, deadline=None) is not None
        waiting = {}
        s.laser_gate.block("abort: test")
        assert not s.daq.gate_open and not s.laser_gate.is_open
        th = threading.Thread(target=lambda: waiting.update(
            t=s.laser_gate.open_when_ready(rec, power_mw=None, deadline=None)))
        th.start()
        th.join(10)
        assert waiting == {"t": None} and not s.daq.gate_open
        assert records(s, "gate")[-1]["reason"] == "blocked: abort: test"
        s.laser_gate.unblock()
        assert s.laser_gate.open_when_ready(rec, power_mw=None, deadline=None) is not None


# ------------------------------------------------------------------------------------------- closing
def opened(s: Session, level: int = 10):
    rec = show(s, level)
    assert s.laser_gate.is_open and s.daq.gate_open
    return rec


def heard_gate(s: Session) -> list:
    heard: list = []
    s.add_listener("gate", lambda is_open, why, t: heard.append((is_open, why, t)))
    return heard


@pytest.mark.parametrize("fault", ["hidden", "stalled"])
def test_interlock_loss_closes_the_gate_from_the_watchdog(tmp_path, fault):
    with open_rig(tmp_path) as s:
        opened(s)
        heard = heard_gate(s)
        done = threading.Event()
        s.add_listener("gate", lambda is_open, why, t: done.set())
        t_loss = time.monotonic()
        if fault == "hidden":
            s.slm.set_visible(False)  # the watchdog thread hears it, not this one
        else:
            s.slm.set_stalled(True)  # no swap any more: the watchdog goes off at the staleness deadline
        assert done.wait(10)
        assert not s.daq.gate_open and not s.laser_gate.is_open
        closed_at = s.daq.events("gate_out")[-1].t
        assert closed_at >= t_loss and heard[0][0] is False and "laser permit lost" in heard[0][1]
        if fault == "stalled":  # closed at the watchdog's deadline, not a frame period later
            deadline = s.slm._t_last_swap + s.slm.stale_s
            assert closed_at >= min(deadline, s.slm._stalled_at + s.slm.stale_s)
        assert records(s, "gate")[-1]["reason"].startswith("laser permit lost")


def test_a_log_failure_closes_the_gate(tmp_path, monkeypatch):
    with open_rig(tmp_path) as s:
        opened(s)
        real = s.log.append

        def full(record, frame=None):
            raise EventLogError("cannot write the log: No space left on device")

        monkeypatch.setattr(s.log, "append", full)
        assert s.log_refusal(1, 2, "a click") is False  # a bookkeeping record fails ...
        assert not s.daq.gate_open and not s.laser_gate.is_open  # ... the line is off at once
        assert "log write failed" in s.permit_reason
        monkeypatch.setattr(s.log, "append", real)
        with s.laser_gate.manual():
            rec = show(s, 20)
            monkeypatch.setattr(s.log, "append", full)  # the gate-open record itself cannot be written
            assert s.laser_gate.open_when_ready(rec, power_mw=None, deadline=None) is None
            assert not s.daq.gate_open and "log write failed" in s.permit_reason
            monkeypatch.setattr(s.log, "append", real)


def test_every_new_frame_closes_the_gate_before_it_is_loaded(tmp_path):
    with open_rig(tmp_path) as s:
        first = opened(s)
        second = show(s, 20)  # interactive: closes for the new frame, then opens for it
        (o1, c1), (o2, _) = gate_intervals(s.daq, end=time.monotonic())
        assert first.t_swapped < o1 < c1 <= second.t_request < second.t_swapped < o2
        assert [r["reason"] for r in records(s, "gate") if not r["open"]] == [
            "a new test_pattern frame is coming"]


def test_an_exception_inside_the_daq_closes_the_gate(tmp_path, monkeypatch):
    with open_rig(tmp_path) as s, s.laser_gate.manual():
        rec = show(s)
        real = s.daq._write_gate

        def broken(is_open):
            if is_open:
                real(True)  # the line went up, then the board failed
                raise OSError("USB cable pulled")
            real(is_open)

        monkeypatch.setattr(s.daq, "_write_gate", broken)
        with pytest.raises(OSError, match="USB cable pulled"):
            s.laser_gate.open_when_ready(rec, power_mw=None, deadline=None)
        assert s.daq.lines["gate_out"] is False and not s.laser_gate.is_open
        assert records(s, "gate")[-1]["reason"].startswith("error while opening: USB cable pulled")


def test_a_swap_out_failure_never_reaches_the_display_and_closes_the_gate(tmp_path, monkeypatch):
    with open_rig(tmp_path) as s:
        opened(s)

        def broken(ms):
            raise OSError("swap line shorted")

        monkeypatch.setattr(s.daq, "_pulse_swap", broken)
        with s.laser_gate.manual():
            rec = show(s, 20)  # shown and logged; the DAQ error stays on the display's side
        assert s.slm.last_record is rec and rec.t_swapped is not None
        assert not s.daq.gate_open and not s.laser_gate.is_open


def test_session_close_closes_the_gate_first(tmp_path):
    s = open_rig(tmp_path)
    opened(s)
    heard = heard_gate(s)
    s.close()
    assert heard[0][:2] == (False, "the session is closed")
    assert s.daq.events("gate_out")[-1].value is False
    with pytest.raises(SessionError, match="closed"):
        s.wait_trigger(0.0)


# ------------------------------------------------------------------------------------------- TTL in
def test_wait_trigger_with_the_simulated_daq(tmp_path):
    with open_rig(tmp_path) as s:
        assert s.wait_trigger(0.0) is None and records(s, "trigger") == []
        timer = threading.Timer(0.02, s.daq.inject_edge)
        timer.start()
        t = s.wait_trigger(10.0)
        timer.join()
        assert t == s.daq.events("trigger_in")[0].t
        assert [r["t"] for r in records(s, "trigger")] == [t]
        assert s.wait_trigger(0.0) is None  # reported once


def test_wait_trigger_with_the_serial_board_emulator(tmp_path):
    pytest.importorskip("serial")
    from holostim.hardware.daq.emulator import FirmwareEmulator

    with FirmwareEmulator() as fw:
        path = write_rig(tmp_path, daq={"backend": "serial", "port": fw.port, "boot_s": 2})
        with Session.open(path, load_calibration=False, camera=False) as s:
            s.show_test_pattern(gray(10), "gray")
            assert fw.lines["gate_out"] is True  # the board's own line, opened by the gate
            assert fw.events("swap_out")  # and the swap pulse reached it
            timer = threading.Timer(0.05, fw.inject_edge)
            timer.start()
            t = s.wait_trigger(10.0)
            timer.join()
            assert t is not None and abs(t - fw.events("trigger_in")[0].t) <= s.daq.sync_error_s + 2e-6
            assert [r["t"] for r in records(s, "trigger")] == [t]
        assert fw.lines["gate_out"] is False  # closed with the session


# ------------------------------------------------------------------------------------------- the laser
def test_the_simulated_camera_sees_light_only_while_the_gate_is_open(tmp_path):
    with open_rig(tmp_path, camera=True) as s, s.laser_gate.manual():
        rec = show(s)
        assert s.slm.laser_permitted and s.laser_permitted  # permitted, but the gate is still closed
        t_closed = time.monotonic()
        t_open = s.laser_gate.open_when_ready(rec, power_mw=None, deadline=None)
        assert t_open is not None
        t_lit = time.monotonic()
        t_shut = s.laser_gate.close("done")
        after = time.monotonic()
        # render at those times (in any order: the gate's history decides, not its state now)
        assert s.camera.light_image(t_lit).sum() > 0.5
        assert s.camera.light_image(after).sum() == 0
        assert s.camera.light_image(t_closed).sum() == 0
        assert s.camera.light_image(t_lit).sum() > 0.5
        assert t_closed < t_open <= t_lit < t_shut <= after


def test_without_a_daq_the_light_follows_the_slm_interlock(tmp_path):
    with open_rig(tmp_path, camera=True, daq=None) as s:
        show(s)
        assert s.camera.light_image().sum() > 0.5


def test_calibration_behind_a_closed_gate_says_why(tmp_path):
    path = write_rig(tmp_path, calibration={"laser_power_mw": None})
    with Session.open(path, load_calibration=False) as s:
        with pytest.raises(SessionError, match=r"calibration needs the laser, but the laser gate stayed "
                                               r"closed for 'reference spot 1': calibration.laser_power_mw"):
            s.calibrate(grid=3)
        assert not s.daq.gate_open


def test_interactive_patterns_open_the_gate_at_the_judged_power(tmp_path):
    path = write_rig(tmp_path, calibration={"file": "calibration.yaml", "auto_in_simulation": True,
                                            "laser_power_mw": 10})
    with Session.open(path) as s:  # the simulated rig calibrates itself, through the gate
        assert s.calibration is not None
        calib_opens = [r for r in records(s, "gate") if r["action"] == "open"]
        assert {r["kind"] for r in calib_opens} == {"calibration"} and calib_opens[0]["power_mw"] == 10
        x, y = s.calibration.slm_to_camera([[N // 2 + 12, N // 2 + 7]])[0]
        from holostim.session import Target

        s.apply([Target(float(x), float(y))])
        last = records(s, "gate")[-1]
        assert last["action"] == "open" and last["kind"] == "pattern" and last["power_mw"] == 15
        assert last["mode"] == "interactive" and s.daq.gate_open
        assert s.camera.light_image().sum() > 0.1


def test_a_power_outside_the_calibration_is_refused_before_the_line_and_logged(tmp_path):
    from holostim.hardware.daq import PowerCalibrationError

    with open_rig(tmp_path) as s, s.laser_gate.manual():
        rec = show(s)
        with pytest.raises(PowerCalibrationError, match="outside the power calibration's range"):
            s.laser_gate.open_when_ready(rec, power_mw=40, deadline=None)
        assert not any(e.value for e in s.daq.events("gate_out")) and not s.daq.events("power_ao")
        why = records(s, "gate")[-1]
        assert why["action"] == "not_opened" and "outside the power calibration" in why["reason"]


def test_every_slm_backend_has_the_panels_settle_time(tmp_path):
    from holostim.config import SessionConfig, parse_config
    from holostim.config.load import ConfigError
    from holostim.hardware.slm.base import SLM

    cfg = SessionConfig()
    assert cfg.slm.settle_taus == 3 and cfg.slm.slm_kwargs()["settle_tau_ms"] == cfg.slm.settle_tau_ms
    base = SLM.from_config(cfg.slm.model_copy(update={"settle_tau_ms": 7.0}))  # what OpenGL inherits
    assert base.settle_ms == 7.0 and base.describe()["settle_tau_ms"] == 7.0
    with pytest.raises(ConfigError, match="slm.settle_taus"):
        parse_config("slm:\n  settle_taus: -1\n", file="s.yaml")
    with open_rig(tmp_path, slm={"settle_tau_ms": 2.5, "settle_taus": 4}) as s:
        assert s.slm.settle_ms == 2.5 and s.laser_gate.settle_s() == pytest.approx(0.01)
