"""The interlock watchdog on its own: exact deadlines on an injected clock, change-only reports, shutdown."""

from __future__ import annotations

import logging
import threading

import pytest

from holostim.hardware.slm.interlock import InterlockWatchdog


class Rig:
    """A device stand-in: a permit, a stale deadline and a clock that the test sets."""

    def __init__(self) -> None:
        self.now = 50.0
        self.ok, self.reason = False, "no frame shown yet"
        self.deadline: float | None = None
        self.closed = False

    def watchdog(self) -> InterlockWatchdog:
        return InterlockWatchdog(
            lambda: (self.ok, self.reason), lambda: self.deadline, lambda: self.closed, lambda: self.now
        )


def test_next_pass_is_due_exactly_at_the_stale_deadline():
    rig = Rig()
    w = rig.watchdog()
    assert w.check() == w.POLL_S  # nothing permitted: only the safety-net poll
    rig.ok, rig.reason, rig.deadline = True, "", 50.080
    assert w.check() == pytest.approx(0.080 + w.SLACK_S)
    rig.now = 50.075
    assert w.check() == pytest.approx(0.005 + w.SLACK_S)
    rig.now = 51.0  # past the deadline (the state says stale soon): never a negative wait
    assert w.check() == pytest.approx(w.SLACK_S)
    rig.deadline = 60.0  # far away: the poll interval caps the sleep
    assert w.check() == w.POLL_S


def test_listeners_hear_changes_only(caplog):
    rig = Rig()
    w = rig.watchdog()
    heard = []
    w._listeners.append(lambda ok, reason: heard.append((ok, reason)))

    def broken(ok, reason):
        raise RuntimeError("listener bug")

    w._listeners.append(broken)
    with caplog.at_level(logging.ERROR, logger="holostim.slm"):
        w.check()
        w.check()
        rig.ok, rig.reason = True, ""
        w.check()
        w.check()
        rig.ok, rig.reason = False, "display stalled"
        w.check()
    assert heard == [(False, "no frame shown yet"), (True, ""), (False, "display stalled")]
    assert w.reported is False
    failed = [r for r in caplog.records if "interlock listener" in r.getMessage()]
    assert len(failed) == 3  # each failure logged, and the other listener still heard every change


def test_thread_reports_and_stops_when_finished():
    rig = Rig()
    w = rig.watchdog()
    heard = []
    cond = threading.Condition()

    def listener(ok, reason):
        with cond:
            heard.append(ok)
            cond.notify_all()

    remove = w.add_listener(listener)
    assert heard[0] is False  # told the current state at once (the thread's first pass may repeat it)
    rig.ok = True
    w.wake()
    with cond:
        assert cond.wait_for(lambda: heard[-1] is True, 10.0), heard
    rig.ok, rig.closed = False, True
    w.stop(timeout=10.0)
    assert heard[-1] is False and not w._thread.is_alive()
    remove()
    remove()  # removing twice is harmless
    assert w._listeners == []
