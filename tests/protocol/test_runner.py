"""Running protocols on the simulated rig: every step's light inside its step, every way out gated off.

The rig is the shipped simulation session shrunk to 128² (tests/test_session.py), with its simulated
DAQ; the gate's own rules are tested in tests/test_laser_gate_daq.py, these tests check the runner's
sequencing and its records.
"""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
from test_session import calibrated, in_field, write_session  # noqa: F401

from holostim.eventlog import EventLogError, read
from holostim.protocol.errors import ProtocolError
from holostim.protocol.model import ProtocolConfig
from holostim.protocol.runner import ProtocolRefused, ProtocolRun
from holostim.session import Session, Target

CELLS = [(30, 30), (60, 45), (90, 80), (40, 95), (95, 35), (70, 100)]  # SLM Fourier px of the 128² rig


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


@pytest.fixture
def rig(calibrated, tmp_path):  # noqa: F811
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    return write_session(tmp_path)


def targets(s: Session) -> list[Target]:
    """Three groups of two cells, ids 1..6."""
    out = []
    for i, xy in enumerate(CELLS):
        t = in_field(s, xy)
        out.append(Target(t.x, t.y, 1.0, 1 + i // 2, i + 1))
    return out


def protocol(steps=None, **schedule) -> ProtocolConfig:
    steps = steps or [{"pattern": f"g{g}", "duration_ms": 100} for g in (1, 2, 3)]
    return ProtocolConfig.model_validate({
        "version": 1, "name": "test",
        "patterns": {p: {"group": int(p[1:])} for p in dict.fromkeys(st["pattern"] for st in steps)},
        "schedule": {"steps": steps, **schedule},
    })


def edge_source(run: ProtocolRun, inject, n: int) -> tuple[list[float], threading.Thread]:
    """A thread that sends ``n`` TTL edges, each 50 ms after the previous step closed its gate."""
    edges: list[float] = []

    def source():
        for _ in range(n):
            while sum(1 for e in run.times if e.t_gate_close is not None) < len(edges):
                threading.Event().wait(0.005)
            threading.Event().wait(0.05)
            edges.append(inject())

    th = threading.Thread(target=source, daemon=True)
    th.start()
    return edges, th


def records(path, kind):
    return [r for r in read(path).records if r["type"] == kind]


def test_a_timed_protocol_runs_every_step_with_its_light_inside_the_step(rig):
    with Session.open(rig) as s:
        s.targets = targets(s)
        run = ProtocolRun(s, protocol(repetitions=2, inter_step_interval_ms=10))
        run.prepare()
        n_frames = len(s.slm.frames)
        assert run.run() == ("completed", "")
        assert len(s.slm.frames) - n_frames == 6 or len(s.slm.frames) == s.slm.frames.maxlen
        assert not s.daq.gate_open
        settle = s.laser_gate.settle_s()
        history = [(e.t, e.value) for e in s.daq.events("gate_out")]
        path = s.log.path
    steps = records(path, "step")
    assert [r["index"] for r in steps] == list(range(6))
    assert [r["pattern"] for r in steps] == ["g1", "g2", "g3"] * 2
    for r in steps:
        assert r["t_request"] >= r["t_onset"]
        assert r["t_swapped"] >= r["t_request"]
        assert r["t_gate_open"] >= r["t_swapped"] + settle  # settled before light
        assert r["t_gate_open"] < r["t_gate_close"]
    for r, nxt in zip(steps, steps[1:], strict=False):  # closed before the next step's frame was asked for
        assert r["t_gate_close"] <= nxt["t_request"]
    # The line itself: opened exactly once per step, inside that step's [swap + settle, close].
    opens = [t for t, v in history if v]
    assert len(opens) == 6
    for t, r in zip(opens, steps, strict=True):
        assert r["t_swapped"] + settle <= t <= r["t_gate_close"]
    ends = records(path, "protocol_end")
    assert ends[-1]["outcome"] == "completed" and ends[-1]["steps_done"] == 6
    (start,) = records(path, "protocol")
    assert start["plan"]["steps"] == 6 and set(start["patterns"]) == {"g1", "g2", "g3"}
    # Every frame a step showed was logged before its gate opened; gate records say open and close.
    seq = {r["seq"]: r for r in read(path).records}
    gates = [r for r in seq.values() if r["type"] == "gate"]
    assert sum(1 for g in gates if g["open"]) == 6


def test_a_refused_pattern_stops_the_protocol_before_anything_is_shown(rig):
    with Session.open(rig) as s:
        t = targets(s)
        zero = s.calibration.slm_to_camera(np.array([[64.0, 64.0]]))[0]  # the zero order
        s.targets = t[:4] + [Target(float(zero[0]), float(zero[1]), 1.0, 3, 5)]
        run = ProtocolRun(s, protocol())
        with pytest.raises(ProtocolRefused, match="pattern 'g3'") as err:
            run.prepare()
        assert "g1" not in str(err.value) and "zero" in str(err.value)
        with pytest.raises(ProtocolError, match="without refusals"):  # the patterns that passed do not run
            run.run()
        assert not s.daq.gate_open and not any(e.value for e in s.daq.events("gate_out"))


def test_a_power_the_laser_cannot_give_is_refused(rig):
    with Session.open(rig) as s:
        s.targets = targets(s)
        steps = [{"pattern": "g1", "duration_ms": 20, "power_mw_per_spot": 50.0}]
        with pytest.raises(ProtocolRefused, match="more than safety.laser_power_mw"):
            ProtocolRun(s, protocol(steps)).prepare()


def test_a_power_per_spot_sets_the_pockels_line_while_the_gate_is_closed(rig):
    with Session.open(rig) as s:
        s.targets = targets(s)
        steps = [{"pattern": "g1", "duration_ms": 100, "power_mw_per_spot": 2.0}]
        run = ProtocolRun(s, protocol(steps))
        run.prepare()
        assert run.run()[0] == "completed"
        (t,) = run.times
        p = run.prepared["g1"]
        assert t.laser_power_mw == pytest.approx(2.0 * 2 / float(np.sum(p.spot_fraction)))
        ao = s.daq.events("power_ao")
        opened = [e.t for e in s.daq.events("gate_out") if e.value]
        assert ao and ao[-1].t <= opened[0]
        assert ao[-1].value == pytest.approx(s.daq.power_calibration.volts(t.laser_power_mw))


def test_ttl_per_step_starts_each_step_at_its_trigger(rig):
    with Session.open(rig) as s:
        s.targets = targets(s)
        run = ProtocolRun(s, protocol(trigger="ttl_per_step", trigger_timeout_s=10))
        run.prepare()
        edges, th = edge_source(run, s.daq.inject_edge, 3)
        assert run.run()[0] == "completed"
        th.join(5)
        path = s.log.path
    steps = records(path, "step")
    assert [r["t_trigger"] for r in steps] == edges
    assert all(r["t_onset"] == r["t_trigger"] for r in steps)
    assert [r["t"] for r in records(path, "trigger")] == edges


def test_a_missing_start_trigger_aborts_with_the_reason(rig):
    with Session.open(rig) as s:
        s.targets = targets(s)
        run = ProtocolRun(s, protocol(trigger="ttl_start", trigger_timeout_s=0.2))
        run.prepare()
        outcome, reason = run.run()
        assert outcome == "aborted" and "no TTL trigger for the start within 0.2 s" in reason
        path = s.log.path
    (end,) = records(path, "protocol_end")
    assert end["outcome"] == "aborted" and end["steps_done"] == 0


def test_abort_from_another_thread_closes_the_gate_first(rig):
    with Session.open(rig) as s:
        s.targets = targets(s)
        run = ProtocolRun(s, protocol([{"pattern": "g1", "duration_ms": 5000}]))
        run.prepare()
        opened = threading.Event()
        s.add_listener("gate", lambda is_open, why, t: opened.set() if is_open else None)
        th = threading.Thread(target=lambda: (opened.wait(10), run.abort("user pressed Abort")), daemon=True)
        th.start()
        outcome, reason = run.run()
        assert (outcome, reason) == ("aborted", "user pressed Abort")
        assert not s.daq.gate_open
        path = s.log.path
    recs = read(path).records
    close = next(r for r in recs if r["type"] == "gate" and not r["open"] and "abort" in r["reason"])
    end = next(r for r in recs if r["type"] == "protocol_end")
    assert close["seq"] < end["seq"] and end["reason"] == "user pressed Abort"


def test_an_exception_in_a_step_closes_the_gate_and_is_raised(rig, monkeypatch):
    with Session.open(rig) as s:
        s.targets = targets(s)
        run = ProtocolRun(s, protocol())
        run.prepare()
        real = s.show_prepared
        calls = []

        def show(p, **kw):
            calls.append(p.name)
            if len(calls) == 2:
                raise RuntimeError("the SLM driver fell over")
            return real(p, **kw)

        monkeypatch.setattr(s, "show_prepared", show)
        with pytest.raises(RuntimeError, match="fell over"):
            run.run()
        assert not s.daq.gate_open and run.outcome[0] == "aborted"
        path = s.log.path
    (end,) = records(path, "protocol_end")
    assert "fell over" in end["reason"] and end["steps_done"] == 1


def test_a_log_failure_aborts_the_run_with_the_gate_closed(rig, monkeypatch):
    with Session.open(rig) as s:
        s.targets = targets(s)
        run = ProtocolRun(s, protocol(repetitions=3))
        run.prepare()
        real = s.log.append
        n = {"steps": 0}

        def append(record, frame=None):
            if record.get("type") == "step":
                n["steps"] += 1
                if n["steps"] == 2:
                    raise EventLogError("cannot write the log: No space left on device")
            return real(record, frame=frame)

        monkeypatch.setattr(s.log, "append", append)
        with pytest.raises(EventLogError):
            run.run()
        assert not s.daq.gate_open and not s.laser_permitted
        assert run.outcome[0] == "aborted" and "No space left" in run.outcome[1]


def test_pause_holds_the_next_step_and_the_timer_waits(rig):
    with Session.open(rig) as s:
        s.targets = targets(s)
        run = ProtocolRun(s, protocol())
        run.prepare()
        resumed = []

        def control(times, _p):
            if times.step.index == 0 and times.done and not resumed:
                run.pause()
                threading.Timer(0.3, lambda: (resumed.append(1), run.resume())).start()

        run.add_listener("step", control)
        assert run.run()[0] == "completed"
        t = run.times
    assert t[1].t_onset - t[0].t_onset >= 0.3  # the second step waited for the resume
    assert t[2].t_onset - t[1].t_onset == pytest.approx(0.1, abs=1e-6)  # then the plan's spacing


def test_ttl_per_step_with_the_serial_board_emulator(calibrated, tmp_path):  # noqa: F811
    """The same run through the serial board (its firmware emulated on a pty): the board's own lines."""
    pytest.importorskip("serial")
    from holostim.hardware.daq.emulator import FirmwareEmulator

    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    with FirmwareEmulator() as fw:
        path = write_session(tmp_path, daq={"backend": "serial", "port": fw.port, "boot_s": 2})
        with Session.open(path) as s:
            s.targets = targets(s)
            run = ProtocolRun(s, protocol([{"pattern": g, "duration_ms": 100} for g in ("g1", "g2")],
                                          trigger="ttl_per_step", trigger_timeout_s=10))
            run.prepare()
            edges, th = edge_source(run, fw.inject_edge, 2)
            assert run.run()[0] == "completed"
            th.join(5)
            sync = s.daq.sync_error_s
            times = run.times
        board_gate = fw.events("gate_out")
    assert len(times) == 2
    for t, edge in zip(times, edges, strict=True):
        assert abs(t.t_trigger - edge) <= sync + 2e-6  # the board's edge time, mapped to the host clock
        assert t.t_gate_open is not None and t.t_gate_open > t.t_trigger
    opened = [e.t for e in board_gate if e.value]
    assert len(opened) == 2 and board_gate[-1].value is False  # the board's line opened twice, ends closed
