"""The rules' bookkeeping: conditions on each frame, refractory time, maximum rate, the duty-cycle limit.

Pure logic over times the caller gives (the frames' timestamps), so it is tested exactly without a
clock. :class:`RuleBook` turns each :class:`~holostim.protocol.closed_loop.readout.TraceSample` into the
rules that fire on it; :meth:`RuleBook.admit` says whether one may act now — a rule whose actions come
faster than its ``max_rate_hz`` (over the last second), or whose action would break the duty-cycle
limit, is stopped for the rest of the run (:attr:`RuleState.stopped` says why) and the run goes on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from holostim.protocol.closed_loop.readout import TraceSample
from holostim.protocol.closed_loop_model import DutyCycleSpec, RuleSpec

__all__ = ["Decision", "DutyCycle", "RuleBook", "RuleState"]


@dataclass
class RuleState:
    """One rule's state over the run."""

    spec: RuleSpec
    roi_index: int
    above: bool = False
    last_act: float | None = None
    acts: deque = field(default_factory=deque)
    fired: int = 0
    stopped: str | None = None


@dataclass(frozen=True)
class Decision:
    """A rule whose condition became true on a frame: which, when (the frame's time), the value seen."""

    rule: str
    roi: int
    t_frame: float
    counter: int
    value: float


class DutyCycle:
    """The gate's open intervals, to refuse light beyond ``max_fraction`` of any ``window_ms``."""

    def __init__(self, spec: DutyCycleSpec) -> None:
        self.window_s = spec.window_ms / 1e3
        self.max_fraction = spec.max_fraction
        self.intervals: list[tuple[float, float]] = []

    def add(self, t_open: float, t_close: float) -> None:
        """Light from ``t_open`` to ``t_close`` (planned or real)."""
        self.intervals.append((float(t_open), float(t_close)))
        while self.intervals and self.intervals[0][1] < t_close - 10 * self.window_s:
            self.intervals.pop(0)

    def close_at(self, t_open: float, t_close: float) -> None:
        """The interval that opened at ``t_open`` really closed at ``t_close``."""
        for k, (a, _) in enumerate(self.intervals):
            if a == t_open:
                self.intervals[k] = (a, float(t_close))

    def light_s(self, t0: float, t1: float) -> float:
        """Seconds of light within ``[t0, t1]``."""
        return sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in self.intervals)

    def would_exceed(self, t_start: float, duration_s: float) -> str | None:
        """Why ``duration_s`` of light from ``t_start`` would break the limit, or ``None``.

        The window that ends when that light ends holds the most of it, so that one is checked.
        """
        end = t_start + duration_s
        lit = self.light_s(end - self.window_s, end) + duration_s
        if lit > self.max_fraction * self.window_s + 1e-9:
            return (f"{1e3 * duration_s:g} ms of light would make {1e3 * lit:.1f} ms in "
                    f"{1e3 * self.window_s:g} ms, over the duty-cycle limit of {self.max_fraction:g}")
        return None


class RuleBook:
    """Every rule of a closed loop, over a readout whose ROI ids are ``roi_ids``."""

    def __init__(self, rules: list[RuleSpec], roi_ids: list[int], duty: DutyCycleSpec) -> None:
        index = {r: i for i, r in enumerate(roi_ids)}
        self.states = {r.name: RuleState(r, index[r.when.roi]) for r in rules}
        self.duty = DutyCycle(duty)

    def evaluate(self, sample: TraceSample) -> list[Decision]:
        """The rules whose condition became true on this frame (a crossing; stopped rules never)."""
        out = []
        for st in self.states.values():
            cond = st.spec.when
            if cond.dff_above is not None:
                value = float(sample.dff[st.roi_index])
                above = value > cond.dff_above
            else:
                value = float(sample.ddff[st.roi_index])
                above = value > float(cond.rise_above)  # type: ignore[arg-type]
            if not np.isfinite(value):
                above = False
            crossed = above and not st.above
            st.above = above
            if crossed and st.stopped is None:
                out.append(Decision(st.spec.name, st.spec.when.roi, sample.t, sample.counter, value))
        return out

    def admit(self, d: Decision, now: float) -> tuple[bool, str]:
        """``(act, why not)``: refractory (skip, quietly), or a limit that stops the rule (``stopped``)."""
        st = self.states[d.rule]
        if st.stopped is not None:
            return False, f"stopped: {st.stopped}"
        if st.last_act is not None and now - st.last_act < st.spec.refractory_ms / 1e3:
            return False, "refractory"
        while st.acts and st.acts[0] <= now - 1.0:
            st.acts.popleft()
        if len(st.acts) + 1 > st.spec.max_rate_hz:
            st.stopped = (f"its actions came faster than max_rate_hz = {st.spec.max_rate_hz:g} "
                          f"({len(st.acts) + 1} within 1 s)")
            return False, f"stopped: {st.stopped}"
        if st.spec.do.duration_ms is not None:
            why = self.duty.would_exceed(now, st.spec.do.duration_ms / 1e3)
            if why is not None:
                st.stopped = why
                return False, f"stopped: {why}"
        st.last_act = now
        st.acts.append(now)
        st.fired += 1
        return True, ""

    def stop(self, rule: str, why: str) -> None:
        """Stop one rule for the rest of the run (an exception in its action)."""
        self.states[rule].stopped = why
