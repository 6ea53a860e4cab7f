"""The session's laser permit, kept in order: every change is logged, then told to the listeners.

A shutter or a banner that follows the permit must hear its changes in the order they happened, and the
log must say when light was allowed and why not; so one lock covers a change, its record and its telling.
A bookkeeping record that cannot be made durable blocks the laser (the log is the rig's proof of what
light went where); that blocking is told but not logged, since the log is what failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from holostim.eventlog import EventLog, EventLogError
from holostim.eventlog.records import interlock_record, laser_record
from holostim.safety import LaserPermit

__all__ = ["PermitKeeper"]

log = logging.getLogger(__name__)

Change = Callable[[LaserPermit], "tuple[bool, str] | None"]


class PermitKeeper:
    """Applies changes to a :class:`~holostim.safety.LaserPermit`, logging and telling each one.

    Parameters
    ----------
    permit : LaserPermit
    get_log : ``() -> EventLog | None``: the session's log now (``None`` before it exists).
    interlock : ``() -> (ok, reason)``: the SLM's own interlock, written into each ``laser`` record.
    emit : ``emit(permitted, reason)``: tells the session's ``"permit"`` listeners.
    """

    def __init__(self, permit: LaserPermit, get_log: Callable[[], EventLog | None],
                 interlock: Callable[[], tuple[bool, str]], emit: Callable[[bool, str], None]):
        self.permit = permit
        self._get_log = get_log
        self._interlock = interlock
        self._emit = emit
        self._lock = threading.RLock()
        self._interlock_heard: bool | None = None

    def update(self, change: Change) -> None:
        """Apply one change; if the permit changed, log a ``laser`` record and tell the listeners."""
        with self._lock:
            new = change(self.permit)
            if new is None:
                return
            if self.append(laser_record(new[0], new[1], self._interlock())):
                self._emit(bool(new[0]), str(new[1]))
            # else the log failed: append blocked the laser and told the listeners

    def interlock_changed(self, ok: bool, reason: str) -> None:
        """The SLM's interlock reported: log an ``interlock`` record on a change, update the permit."""
        with self._lock:
            if self._interlock_heard != bool(ok):  # the watchdog's first pass repeats the first state
                self._interlock_heard = bool(ok)
                self.append(interlock_record(ok, reason))
            self.update(lambda p: p.interlock(ok, reason))

    def append(self, record: dict) -> bool:
        """Append a bookkeeping record; False (and the laser blocked) when it cannot be made durable."""
        event_log = self._get_log()
        if event_log is None or event_log.closed:
            return True
        try:
            event_log.append(record)
        except EventLogError as exc:
            log.error("event log write failed: %s", exc)
            with self._lock:
                new = self.permit.fail(f"log write failed: {exc}")
                if new is not None:
                    self._emit(bool(new[0]), str(new[1]))
            return False
        return True
