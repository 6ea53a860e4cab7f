"""The simulated DAQ: product code, whose lines can be watched and whose trigger input can be driven.

Every line change is appended to :attr:`SimulatedDAQ.history` as a :class:`LineEvent` (time on the
DAQ's clock, line name, new value): ``gate_out`` (bool), ``swap_out`` (bool, a pulse is a True and a
False event ``swap_pulse_ms`` apart), ``power_ao`` (volts) and ``trigger_in`` (bool). Rising edges on
``trigger_in`` come from :meth:`SimulatedDAQ.inject_edge` (tests, another thread) or from a schedule
(:meth:`SimulatedDAQ.schedule_edges`, times on the DAQ clock, delivered when the clock passes them),
which is what the simulated rig uses as its external TTL source. :meth:`~SimulatedDAQ.trigger_in` naps in
real time (at most ``poll_s``) between looks at the clock, so an injected clock must advance (a test's
fake clock: a thread that moves it, or a timeout of 0).
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
from collections.abc import Iterable
from typing import Any

from holostim.hardware.daq.base import DAQ, DAQOptions


@dataclasses.dataclass(frozen=True)
class LineEvent:
    """One change of one line: time (DAQ clock, s), line name, new value."""

    t: float
    line: str
    value: Any


class SimulatedDAQ(DAQ):
    """A DAQ with no hardware: every line observable, TTL edges injectable or scheduled."""

    Options = DAQOptions
    has_power_ao = True

    def __init__(self, *, poll_s: float = 0.0005, **kw: Any):
        super().__init__(**kw)
        self.history: list[LineEvent] = []
        self.lines: dict[str, Any] = {"gate_out": False, "swap_out": False, "power_ao": 0.0,
                                      "trigger_in": False}
        self._gate_t: list[float] = []  # gate_out changes (time, value), in time order: gate_open_at
        self._gate_v: list[bool] = []
        self._edges: list[float] = []  # rising-edge times on the trigger line, sorted
        self._injected: set[float] = set()
        self._cond = threading.Condition(threading.RLock())
        self._poll_s = poll_s
        self.swap_count = 0
        self._start()

    # -- observation --------------------------------------------------------------------------
    def events(self, line: str) -> list[LineEvent]:
        """The history of one line."""
        return [e for e in self.history if e.line == line]

    def gate_open_at(self, t: float) -> bool:
        """Whether ``gate_out`` was open at DAQ time ``t`` (from the line's history; closed before it).

        The simulated laser asks this for the moment a camera frame is exposed, so the simulated sample is
        lit exactly while the gate really was open, however late the camera renders the frame.
        """
        with self._cond:
            i = bisect.bisect_right(self._gate_t, float(t))
            return bool(self._gate_v[i - 1]) if i else False

    def _set(self, line: str, value: Any, t: float | None = None) -> None:
        with self._cond:
            self.lines[line] = value
            t = self.clock() if t is None else t
            self.history.append(LineEvent(t, line, value))
            if line == "gate_out":
                i = bisect.bisect_right(self._gate_t, t)
                self._gate_t.insert(i, t)
                self._gate_v.insert(i, bool(value))

    # -- the TTL source -----------------------------------------------------------------------
    def inject_edge(self, t: float | None = None) -> float:
        """A rising edge on ``trigger_in`` now (or at DAQ time ``t``); returns its time."""
        t = self.clock() if t is None else float(t)
        with self._cond:
            self._set("trigger_in", True, t)
            self._set("trigger_in", False, t)
            bisect.insort(self._edges, t)
            self._injected.add(t)
            self._cond.notify_all()
        return t

    def schedule_edges(self, times: Iterable[float]) -> None:
        """Rising edges at these DAQ-clock times, seen by :meth:`trigger_in` once the clock passes them."""
        with self._cond:
            for t in times:
                bisect.insort(self._edges, float(t))
            self._cond.notify_all()

    # -- the backend ----------------------------------------------------------------------------
    def _write_gate(self, is_open: bool) -> None:
        if self.lines["gate_out"] != is_open or not self.history:
            self._set("gate_out", bool(is_open))

    def _pulse_swap(self, ms: float) -> None:
        t = self.clock()
        self._set("swap_out", True, t)
        self._set("swap_out", False, t + ms / 1000.0)
        self.swap_count += 1

    def _write_ao(self, volts: float) -> None:
        self._set("power_ao", float(volts))

    def _wait_edge(self, timeout_s: float, since: float) -> float | None:
        deadline = self.clock() + timeout_s
        while True:
            now = self.clock()
            with self._cond:
                i = bisect.bisect_left(self._edges, since)
                if i < len(self._edges) and self._edges[i] <= now:
                    t = self._edges.pop(i)
                    del self._edges[:i]  # older edges were missed; they are not reported later
                    if t not in self._injected:  # a scheduled edge appears in the history when seen
                        self.history.append(LineEvent(t, "trigger_in", True))
                        self.history.append(LineEvent(t, "trigger_in", False))
                    return t
                if now >= deadline:
                    return None
                upcoming = self._edges[i] if i < len(self._edges) else deadline
                # a real-time nap, at most poll_s, so an injectable clock that jumps is seen promptly
                self._cond.wait(max(0.0, min(upcoming - now, deadline - now, self._poll_s)))
