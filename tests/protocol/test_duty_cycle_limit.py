"""The rig's duty-cycle limit (``safety.max_duty_cycle``): kept by the laser gate, for every path.

The ledger is checked exactly against the closed loop's own duty-cycle bookkeeping (an independent
implementation of the same rule); the gate's enforcement on the simulated rig from three paths: a
protocol's schedule, a closed loop's actions (both refused whole, with a ``not_opened`` record) and a
click (cut at the limit). Assertions are on the log's records and their order, never on wall-clock bounds.
"""

from __future__ import annotations

import shutil
import textwrap
import time

import numpy as np
import pytest
from test_session import calibrated, in_field, write_session  # noqa: F401

from holostim.config import ConfigError, load_config
from holostim.eventlog import read
from holostim.protocol.closed_loop.rules import DutyCycle
from holostim.protocol.closed_loop.run import ClosedLoopRun
from holostim.protocol.closed_loop_model import DutyCycleSpec
from holostim.protocol.model import ProtocolConfig
from holostim.protocol.runner import ProtocolRun
from holostim.safety import DutyCycleLimit, LaserPermit, SafetyError
from holostim.session import Session, Target

CELLS = [(30, 30), (60, 45)]


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


# ------------------------------------------------------------------------------------------ the ledger
def test_the_ledger_refuses_what_the_window_ending_with_the_pulse_cannot_hold():
    duty = DutyCycleLimit(0.1, 1.0)  # 100 ms of light in any second
    duty.opened(0.0)
    duty.closed(0.06)
    assert duty.light_s(-1, 1, now=2) == pytest.approx(0.06)
    assert duty.refusal(0.5, 0.04) is None  # 100 ms in the window ending at 0.54
    why = duty.refusal(0.5, 0.05)
    assert "over safety.max_duty_cycle = 0.1 of safety.duty_window_ms = 1000 ms" in why
    assert duty.refusal(1.02, 0.05) is None  # the window ending at 1.07 holds 10 ms of the old pulse
    assert duty.refusal(0.5, None) is None  # an open-ended opening while light is left: cut later
    duty.opened(0.5)  # open, and still open: it counts up to "now"
    assert duty.budget_s(0.52) == pytest.approx(0.1 - 0.06 - 0.02)
    assert duty.refusal(0.54, None) is not None  # nothing left
    duty.closed(0.54)
    assert not duty.is_open and duty.light_s(0, 1, now=5) == pytest.approx(0.1)


def test_the_ledger_agrees_with_the_closed_loops_bookkeeping():
    rng = np.random.default_rng(7)
    for _ in range(30):
        fraction, window = float(rng.uniform(0.05, 0.9)), float(rng.uniform(0.05, 2.0))
        ours, theirs = DutyCycleLimit(fraction, window), DutyCycle(DutyCycleSpec(max_fraction=fraction,
                                                                                    window_ms=1e3 * window))
        t = 0.0
        for _ in range(20):
            t += float(rng.exponential(0.3 * window))
            d = float(rng.uniform(0, 0.5 * window))
            same = (ours.refusal(t, d) is None) == (theirs.would_exceed(t, d) is None)
            assert same, (fraction, window, t, d)
            if ours.refusal(t, d) is None:
                ours.opened(t)
                ours.closed(t + d)
                theirs.add(t, t + d)
                t += d


def test_a_bad_limit_is_refused():
    with pytest.raises(SafetyError, match="max_fraction"):
        DutyCycleLimit(1.5, 1.0)


def test_the_permit_stays_off_while_the_duty_cycle_says_so_whatever_frame_comes():
    class Lit:
        light, reason = True, ""

    permit = LaserPermit(10.0)
    permit.interlock(True, "")
    assert permit.logged(Lit()) == (True, "")
    assert permit.duty(False, "duty cycle: at the limit") == (False, "duty cycle: at the limit")
    assert permit.logged(Lit()) is None and permit.state == (False, "duty cycle: at the limit")
    assert permit.duty(True) == (True, "")


def test_the_session_file_keys_default_off_and_a_bad_value_names_its_key(tmp_path):
    cfg = load_config(write_session(tmp_path))
    assert cfg.safety.max_duty_cycle is None and cfg.safety.duty_window_ms == 1000.0
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""\
        safety:
          max_duty_cycle: 1.5
        """))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"{path}:2: safety.max_duty_cycle")


# ------------------------------------------------------------------------------------------ the rig
@pytest.fixture
def rig(calibrated, tmp_path):  # noqa: F811
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    return write_session(tmp_path, safety={"max_duty_cycle": 0.2, "duty_window_ms": 1000})


def two_targets(s: Session) -> list[Target]:
    out = []
    for i, xy in enumerate(CELLS):
        t = in_field(s, xy)
        out.append(Target(t.x, t.y, 1.0, 1 + i, i + 1))
    return out


def gate_records(path):
    return [r for r in read(path).records if r["type"] == "gate"]


def laser_records(path):
    return [r for r in read(path).records if r["type"] == "laser"]


def test_a_schedule_over_the_limit_is_refused_at_the_gate_with_its_reason(rig):
    """Three 150 ms steps 10 ms apart under a 200 ms-in-1 s limit: the first lights, the rest do not."""
    with Session.open(rig) as s:
        s.targets = two_targets(s)
        proto = ProtocolConfig.model_validate({
            "version": 1, "name": "too_much", "patterns": {"g1": {"group": 1}, "g2": {"group": 2}},
            "schedule": {"steps": [{"pattern": p, "duration_ms": 150} for p in ("g1", "g2", "g1")],
                         "inter_step_interval_ms": 10}})
        run = ProtocolRun(s, proto)
        run.prepare()
        run.run()
        path = s.log.path
        opened = [t.t_gate_open for t in run.times]
    assert opened[0] is not None and opened[1] is None and opened[2] is None
    gates = gate_records(path)
    assert [g["step"] for g in gates if g["action"] == "open"] == [0]
    refused = [g for g in gates if g["action"] == "not_opened"]
    assert refused[0]["step"] == 1 and refused[0]["reason"].startswith("duty cycle: ")
    assert "over safety.max_duty_cycle = 0.2 of safety.duty_window_ms = 1000 ms" in refused[0]["reason"]
    assert refused[1]["step"] == 2 and "duty cycle" in refused[1]["reason"]  # the permit is still off
    off = [r for r in laser_records(path) if not r["laser_permitted"] and "duty cycle" in r["reason"]]
    assert off, "the permit (the banner) did not say why"
    light = sum(c["t"] - o["t"] for o, c in zip([g for g in gates if g["action"] == "open"],
                                                 [g for g in gates if g["action"] == "close"], strict=False))
    assert light <= 0.2 + 1e-6  # the log's own light stays within the limit


def test_a_closed_loop_action_over_the_rigs_limit_is_refused_at_the_gate(rig):
    """The protocol's own limit is lenient (100 %); the session's 20 % refuses the second 150 ms action."""
    with Session.open(rig) as s:
        s.targets = two_targets(s)
        proto = ProtocolConfig.model_validate({
            "version": 1, "name": "loop", "patterns": {"b": {"ids": [2]}},
            "closed_loop": {"duration_ms": 120_000, "rois": {"ids": [1, 2]}, "readout": {"init_frames": 3},
                            "duty_cycle": {"max_fraction": 1.0, "window_ms": 1000},
                            "rules": [{"name": "always", "when": {"roi": 1, "dff_above": -1e9},
                                       "do": {"show": "b", "duration_ms": 150}, "refractory_ms": 0}]}})
        run = ClosedLoopRun(s, proto)
        run.prepare()
        book = run.book
        fired = {"n": 0}

        def again(sample):  # make the rule cross again on every frame: it is a crossing detector
            st = book.states["always"]
            if not run._busy.is_set():
                st.above = False
            if len([a for a in run.actions if a.outcome != "busy"]) >= 2 and not fired["n"]:
                fired["n"] = 1
                run.finish()

        run.add_listener("sample", again)
        run.run()
        path = s.log.path
    acted = [a for a in run.actions if a.outcome != "busy"]
    assert [a.outcome for a in acted[:2]] == ["shown", "not_opened"]
    gates = gate_records(path)
    refused = [g for g in gates if g["action"] == "not_opened" and g.get("closed_loop") == "always"]
    assert refused and refused[0]["reason"].startswith("duty cycle: ")
    assert any("duty cycle" in r["reason"] for r in laser_records(path) if not r["laser_permitted"])


def test_a_click_is_cut_at_the_limit_and_the_next_is_refused_until_the_window_has_room(rig, tmp_path):
    path = write_session(tmp_path, safety={"max_duty_cycle": 0.05, "duty_window_ms": 1000})
    with Session.open(path) as s:
        heard = []
        s.add_listener("gate", lambda is_open, why, t: heard.append((is_open, why)))
        s.apply(two_targets(s)[:1])
        while not any(not o and "duty cycle" in w for o, w in heard):  # the watchdog cuts it
            time.sleep(0.005)
        assert not s.laser_gate.is_open and not s.daq.gate_open
        assert "duty cycle" in s.permit_reason
        s.apply(two_targets(s)[1:])  # a second click while the window is full
        log_path = s.log.path
        while s.laser_gate.duty.light_s(time.monotonic() - 1.0, time.monotonic(), time.monotonic()) > 0:
            time.sleep(0.02)  # the window clears ...
        while not s.laser_permitted:
            time.sleep(0.005)  # ... and the permit comes back by itself
    gates = gate_records(log_path)
    opens = [g for g in gates if g["action"] == "open"]
    cut = [g for g in gates if g["action"] == "close" and g["reason"].startswith("duty cycle:")]
    assert len(opens) == 1 and len(cut) == 1 and cut[0]["t"] > opens[0]["t"]
    later = [g for g in gates if g["action"] == "not_opened" and g["t"] > cut[0]["t"]]
    assert later and "duty cycle" in later[0]["reason"]
    states = [(r["laser_permitted"], "duty cycle" in r["reason"]) for r in laser_records(log_path)]
    k = states.index((False, True))
    assert (True, False) in states[k + 1:]  # off for the duty cycle, then on again
