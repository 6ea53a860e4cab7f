"""Property: the laser gate is never open without a swapped, settled, permitted, logged frame.

Hypothesis draws a run of steps (how long each lasts, how long after the swap the opening is asked for,
the SLM's settle time τ and how many τ to wait, a power) and injects faults at random moments: the SLM
window hidden, the display stalled, the log failing. Afterwards, from the simulated DAQ's gate history,
the SLM's frame records and the log, every interval the gate was open must satisfy:

* it opened at or after the shown frame's swap + settle;
* no other frame was loaded or swapped inside it;
* no fault was active in it (a fault closes the gate before the watchdog's report of it returns);
* the frame's record and the gate-open record were durable before the line opened (watched live).

Only the order of recorded times is compared, never a duration against the wall clock.
"""

from __future__ import annotations

import threading
import time

import pytest
from gate_rig import OpenSpy, gate_intervals, gray, open_rig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holostim.eventlog import EventLogError

FAULTS = ("none", "hidden", "stalled", "log")

step_strategy = st.fixed_dictionaries({
    "duration_ms": st.floats(0, 12),
    "ask_after_ms": st.floats(0, 6),
    "fault": st.sampled_from(FAULTS),
    "fault_at_ms": st.floats(0, 12),
    "power_mw": st.one_of(st.none(), st.floats(0, 15)),
})


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


class Fault:
    """One injected fault and its monotonic times: injected, reported, and when its end began.

    ``reported``: when the session had heard of it -- the watchdog's first "interlock off" report (its
    listeners hear it after the permit and the gate did) or, for the log, when the failed append returned.
    A stalled display is reported only once the last swap is ``stale_s`` old, maybe never in a short step.
    """

    def __init__(self, session, kind: str, full: threading.Event):
        self.s, self.kind, self.full = session, kind, full
        self.started = self.reported = self.ended = None

    def heard_off(self, t: float) -> None:
        if self.kind != "log" and self.started is not None and self.ended is None and self.reported is None:
            self.reported = t

    def inject(self) -> None:
        self.started = time.monotonic()
        if self.kind == "hidden":
            self.s.slm.set_visible(False)
        elif self.kind == "stalled":
            self.s.slm.set_stalled(True)
        else:  # the disk fills: the next bookkeeping record fails
            self.full.set()
            self.s.log_refusal(0.0, 0.0, "a click while the disk is full")
            self.reported = time.monotonic()
        self.s.slm.check_interlock()  # a watchdog pass here too (the watchdog's thread may be first)

    def end(self) -> None:
        self.ended = time.monotonic()
        if self.kind == "hidden":
            self.s.slm.set_visible(True)
        elif self.kind == "stalled":
            self.s.slm.set_stalled(False)
        else:
            self.full.clear()
        self.s.slm.check_interlock()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step_strategy, min_size=1, max_size=5), tau_ms=st.floats(0, 4),
       taus=st.floats(0, 3))
def test_gate_open_only_with_a_swapped_settled_permitted_logged_frame(tmp_path_factory, steps, tau_ms, taus):
    folder = tmp_path_factory.mktemp("rig")
    s = open_rig(folder, slm={"settle_tau_ms": tau_ms, "settle_taus": taus})
    spy = OpenSpy(s)
    full = threading.Event()
    real_append = s.log.append

    def append(record, frame=None):
        if full.is_set():
            raise EventLogError("cannot write the log: No space left on device")
        return real_append(record, frame=frame)

    s.log.append = append
    shown, faults, live = [], [], []

    def on_interlock(ok: bool, why: str) -> None:
        if not ok:
            t = time.monotonic()
            if s.daq.lines["gate_out"]:  # the permit and the gate hear the watchdog before anyone else
                live.append(f"gate open when the interlock reported {why!r}")
            for f in faults:
                f.heard_off(t)

    s.add_listener("interlock", on_interlock)
    try:
        with s.laser_gate.manual():
            for i, step in enumerate(steps):
                rec = s.show_test_pattern(gray(10 + 20 * i), f"step {i}")
                shown.append(rec)
                timer = None
                if step["fault"] != "none":
                    fault = Fault(s, step["fault"], full)
                    faults.append(fault)
                    timer = threading.Timer(step["fault_at_ms"] / 1e3, fault.inject)
                    timer.start()
                time.sleep(step["ask_after_ms"] / 1e3)
                end = time.monotonic() + step["duration_ms"] / 1e3
                t = s.laser_gate.open_when_ready(rec, power_mw=step["power_mw"], deadline=end,
                                                 context={"step": i})
                if t is not None:
                    time.sleep(max(0.0, end - time.monotonic()))
                s.laser_gate.close("step end")
                if timer is not None:
                    timer.join()
                    faults[-1].end()
    finally:
        s.log.append = real_append
        s.close()

    assert spy.problems == [] and live == []
    settle = taus * tau_ms / 1e3
    for opened, closed in gate_intervals(s.daq, end=time.monotonic()):
        on = [r for r in shown if r.t_swapped is not None and r.t_swapped <= opened]
        assert on, "the gate opened before any frame swapped"
        assert opened >= on[-1].t_swapped + settle  # swapped and settled
        for r in shown:  # no other frame came while it was open
            assert not (opened < r.t_request < closed) and not (opened < r.t_swapped < closed)
        for f in faults:  # closed by the time the fault was reported, or opened after it ended
            if f.reported is not None and f.reported < f.ended:
                assert closed <= f.reported or opened >= f.ended, (f.kind, opened, closed, vars(f))
