"""Running a protocol: prepare every pattern, then per step one swap, a settled gate, and its records.

The order of a step is fixed by what must never happen — light on a pattern that is not the one
planned, not settled, not permitted or not logged:

1. wait for the step's onset (the timer, or a TTL edge);
2. show its prepared frame through the session (``Session.show_prepared``: the gate closes before any
   new frame reaches the SLM; the frame's record is made durable);
3. ``LaserGate.open_when_ready``: opens only once that frame has swapped and settled, the permit holds
   and the gate-open record is durable; it never opens after the step's end;
4. at the step's end (aimed 1 ms early, so a late timer still closes inside the step), close the gate
   (the line first, then its record), then the ``step`` record.

An abort (Ctrl+C, SIGTERM, the GUI's button, an exception, a log failure) closes the gate *first*, from
the thread that asks, then the run ends with a ``protocol_end`` record saying why. Preparation happens
before the first step and refuses the whole protocol — naming every pattern and why — if any pattern
is refused by the gate, needs more laser power than the rig states, or a power the DAQ cannot set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from holostim.eventlog.records import protocol_end_record, protocol_record, step_record
from holostim.library.playback import prepare_library_pattern
from holostim.library.store import LibraryStoreError
from holostim.protocol.errors import ProtocolError
from holostim.protocol.model import ProtocolConfig
from holostim.protocol.patterns import resolve_patterns
from holostim.protocol.schedule import Plan, Step, expand
from holostim.safety import SafetyError, TargetRefused
from holostim.session import Session
from holostim.session.listeners import Listeners
from holostim.session.prepared import PreparedPattern

__all__ = ["EVENTS", "ProtocolAborted", "ProtocolRefused", "ProtocolRun", "RunProgress", "StepTimes",
           "laser_power_for"]

log = logging.getLogger(__name__)

EVENTS = ("progress", "step", "end")

ProgressFn = Callable[[int, int, str], None]

#: Before an onset the runner sleeps until this close, then naps in short slices (a timer that wakes
#: late is the largest part of the onset jitter; spinning would take a core from the camera).
_NAP_S = 0.002
_SLICE_S = 0.0002
#: The gate is closed this long before a step's planned end, so that the timer's lateness (0.2-0.5 ms
#: on the 2-core development VM) still leaves it closed inside the step.
_CLOSE_LEAD_S = 0.001
#: The longest a wait for a TTL edge blocks before it looks at abort and pause again.
_TRIGGER_SLICE_S = 0.05


class ProtocolRefused(ProtocolError):
    """A protocol that cannot start: every reason, one per refused pattern or step, in one message."""


class ProtocolAborted(ProtocolError):
    """A run that stopped before its end (the reason says why)."""


@dataclass
class StepTimes:
    """What happened in one step (``time.monotonic()`` seconds; ``None`` where it did not happen)."""

    step: Step
    pattern: str
    t_onset: float
    t_request: float | None = None
    t_swapped: float | None = None
    t_gate_open: float | None = None
    t_gate_close: float | None = None
    laser_power_mw: float | None = None
    frame_sha256: str | None = None
    slm_frame_index: int | None = None
    t_trigger: float | None = None
    done: bool = False  # the step's end (its gate closed, its record written)

    def record(self, prepared: PreparedPattern, frame_period_s: float) -> dict[str, Any]:
        """The ``step`` record's fields."""
        def ms(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(1e3 * (a - b), 4)

        scale = (self.laser_power_mw / prepared.verdict.laser_power_mw
                 if self.laser_power_mw is not None and prepared.verdict.laser_power_mw else 1.0)
        predicted = prepared.verdict.predicted_power_mw
        swap_late = ms(self.t_swapped, self.t_onset)
        return {
            "index": self.step.index, "trial": self.step.trial, "position": self.step.position,
            "pattern": self.pattern, "frame_sha256": self.frame_sha256,
            "slm_frame_index": self.slm_frame_index,
            "targets": [t.id for t in prepared.result.targets],
            "planned_onset_ms": self.step.onset_ms, "duration_ms": self.step.duration_ms,
            "t_onset": self.t_onset, "t_trigger": self.t_trigger, "t_request": self.t_request,
            "t_swapped": self.t_swapped, "t_gate_open": self.t_gate_open, "t_gate_close": self.t_gate_close,
            "swap_after_onset_ms": swap_late, "gate_after_swap_ms": ms(self.t_gate_open, self.t_swapped),
            "on_time": swap_late is not None and swap_late <= 1e3 * frame_period_s,
            "light_ms": ms(self.t_gate_close, self.t_gate_open),
            "gate_close_after_end_ms": ms(self.t_gate_close, self.t_onset + self.step.duration_ms / 1e3),
            "power_mw_per_spot": self.step.power_mw_per_spot, "laser_power_mw": self.laser_power_mw,
            "predicted_power_mw": None if predicted is None
            else [round(float(p) * scale, 6) for p in predicted],
        }


@dataclass
class RunProgress:
    """Where a run is: for a progress bar and the GUI's dock."""

    state: str  # "preparing", "ready", "waiting", "running", "paused", "completed", "aborted"
    done: int
    total: int
    trial: int | None = None
    pattern: str | None = None
    time_left_s: float | None = None
    gate_open: bool = False
    message: str = ""


@dataclass
class _Power:
    """A step's laser power: what the DAQ is set to, from the mW per spot asked for."""

    laser_mw: float | None
    per_spot_mw: float | None = None


@dataclass
class _State:
    abort_reason: str | None = None
    paused_at: float | None = None
    paused_s: float = 0.0
    steps_done: int = 0
    gate_opened: int = 0
    times: list[StepTimes] = field(default_factory=list)


def laser_power_for(session: Session, p: PreparedPattern,
                    per_spot_mw: float | None) -> tuple[float | None, float | None]:
    """``(laser mW, mW per spot)`` that put ``per_spot_mw`` on each spot of ``p`` on average.

    ``(None, None)`` for no power per spot: the laser at the rig's ``safety.laser_power_mw``. Shared by
    the scheduled runner and the closed loop.
    """
    if per_spot_mw is None:
        return None, None
    laser_max = session.config.safety.laser_power_mw
    frac = p.spot_fraction
    if frac is None or laser_max is None:
        raise ProtocolError("a power per spot needs safety.laser_power_mw (the laser's power at the "
                            "sample)")
    need = float(per_spot_mw) * len(frac) / float(np.sum(frac))
    if need > laser_max:
        raise ProtocolError(f"{per_spot_mw} mW per spot needs {need:.1f} mW of laser, more than "
                            f"safety.laser_power_mw = {laser_max} mW")
    daq = session.daq
    cal = getattr(daq, "power_calibration", None)
    if not getattr(daq, "has_power_ao", False) or cal is None:
        raise ProtocolError("a power per spot needs the DAQ's power_ao line and daq.power_calibration "
                            "(or leave power_mw_per_spot out: the laser at safety.laser_power_mw)")
    try:
        cal.volts(need)
    except Exception as exc:  # PowerCalibrationError: outside the calibrated range
        raise ProtocolError(str(exc)) from None
    return need, float(per_spot_mw)


class ProtocolRun:
    """One run of a protocol on a session: :meth:`prepare`, then :meth:`run` (any thread).

    :meth:`abort`, :meth:`pause` and :meth:`resume` may be called from any thread, including a signal
    handler on the main thread. Listeners (:meth:`add_listener`): ``"progress"`` with a
    :class:`RunProgress`, ``"step"`` with ``(StepTimes, PreparedPattern)`` when a step's pattern is shown
    and again when it ends (``StepTimes.done``; the object fills in as the step goes on, so a listener on
    another thread reads what it needs when it is called), ``"end"`` with ``(outcome, reason)``.
    """

    def __init__(self, session: Session, protocol: ProtocolConfig, *, source: str | Path | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.session = session
        self.protocol = protocol
        self.source = None if source is None else Path(source)
        if protocol.schedule is None:
            raise ProtocolError(f"protocol {protocol.name!r} has no schedule: it is a closed-loop protocol "
                                "(run it with holostim.protocol.closed_loop.ClosedLoopRun)")
        self.plan: Plan = expand(protocol.schedule)
        self.prepared: dict[str, PreparedPattern] = {}
        self._powers: dict[int, _Power] = {}
        self._clock = clock
        self._wake = threading.Event()
        self._lock = threading.RLock()
        self._state = _State()
        self._listeners = Listeners(EVENTS, error=ProtocolError, name="protocol")
        self.outcome: tuple[str, str] | None = None
        self.ready = False  # prepare() succeeded: every pattern and power of the plan is there
        self.started = False

    # ------------------------------------------------------------------------------------------ listeners
    def add_listener(self, event: str, callback: Callable[..., None]) -> Callable[[], None]:
        """Call ``callback`` on ``event`` (see the class docstring); returns its remover."""
        return self._listeners.add(event, callback)

    def _progress(self, state: str, step: Step | None = None, message: str = "") -> None:
        st = self._state
        left = None
        if step is not None:
            left = max(0.0, (self.plan.total_ms - step.onset_ms) / 1e3)
        gate = self.session.laser_gate.is_open if self.session.daq is not None else False
        self._listeners.emit("progress", RunProgress(
            state, st.steps_done, len(self.plan.steps), None if step is None else step.trial,
            None if step is None else step.pattern, left, gate, message))

    @property
    def times(self) -> list[StepTimes]:
        """The steps run so far."""
        return list(self._state.times)

    # ------------------------------------------------------------------------------------------ preparing
    def prepare(self, progress: ProgressFn | None = None) -> None:
        """Compute, check and hold ready every pattern the schedule uses, and each step's laser power.

        Raises
        ------
        ProtocolRefused
            Naming every refused pattern or step: refused targets, a pattern over a safety limit or
            without light, a power per spot the laser cannot give or the DAQ cannot set.
        ProtocolError
            No DAQ (nothing would gate the laser), or a pattern's targets cannot be found.
        """
        s = self.session
        if s.daq is None:
            raise ProtocolError("a protocol needs the session's daq section: it is what gates the laser "
                                "(daq: {backend: simulated} on the simulated rig)")
        resolved = resolve_patterns(self.protocol, s.targets)
        used = list(dict.fromkeys(step.pattern for step in self.plan.steps))
        refused: list[str] = []
        self._progress("preparing", message=f"computing {len(used)} patterns")
        for i, name in enumerate(used):
            try:
                if resolved[name].library is not None:  # a mask library's frame, judged by the same gate
                    try:
                        p = prepare_library_pattern(s, resolved[name].library, name)
                    except LibraryStoreError as exc:
                        raise ProtocolError(str(exc)) from None
                else:
                    p = s.prepare_pattern(resolved[name].targets, name)
            except (SafetyError, TargetRefused) as exc:
                refused.append(f"pattern {name!r}: {exc}")
            else:
                if not p.verdict.light:
                    refused.append(f"pattern {name!r}: the laser would stay blocked ({p.verdict.reason})")
                self.prepared[name] = p
            if progress is not None:
                progress(i + 1, len(used), name)
        for step in self.plan.steps:
            if step.pattern not in self.prepared:
                continue
            per_spot = step.power_mw_per_spot
            if per_spot is None:
                per_spot = resolved[step.pattern].power_mw_per_spot
            try:
                self._powers[step.index] = self._laser_power(self.prepared[step.pattern], per_spot)
            except ProtocolError as exc:
                msg = f"step {step.index + 1} (pattern {step.pattern!r}): {exc}"
                if msg.split(": ", 1)[1] not in {r.split(": ", 1)[-1] for r in refused}:
                    refused.append(msg)
        if refused:
            raise ProtocolRefused(f"protocol {self.protocol.name!r} refused ({len(refused)}): "
                                  + "; ".join(refused))
        self.ready = True
        self._progress("ready", message=f"{len(self.plan.steps)} steps ready")

    def _laser_power(self, p: PreparedPattern, per_spot_mw: float | None) -> _Power:
        """The laser power that puts ``per_spot_mw`` on each spot of ``p`` on average (None: the rig's)."""
        return _Power(*laser_power_for(self.session, p, per_spot_mw))

    # ------------------------------------------------------------------------------------------ control
    def abort(self, reason: str = "aborted") -> None:
        """Stop the run: the gate closes now, from this thread; the run then ends its log records."""
        with self._lock:
            if self._state.abort_reason is None:
                self._state.abort_reason = str(reason) or "aborted"
        try:
            if self.session.daq is not None:  # closed now, and no opening under way can slip past
                self.session.laser_gate.block(f"abort: {reason}")
        finally:
            self._wake.set()

    def pause(self) -> None:
        """Hold the run before its next step (the gate is closed between steps); the timer waits too."""
        with self._lock:
            if self._state.paused_at is None:
                self._state.paused_at = self._clock()
        self._wake.set()

    def resume(self) -> None:
        """Go on after :meth:`pause`; the remaining steps shift by the time paused."""
        with self._lock:
            if self._state.paused_at is not None:
                self._state.paused_s += self._clock() - self._state.paused_at
                self._state.paused_at = None
        self._wake.set()

    @property
    def paused(self) -> bool:
        """Whether the run is held."""
        return self._state.paused_at is not None

    @property
    def abort_reason(self) -> str | None:
        """Why the run was aborted (``None`` while it was not)."""
        return self._state.abort_reason

    # ------------------------------------------------------------------------------------------ running
    def run(self) -> tuple[str, str]:
        """Run every step; returns ``("completed", "")`` or ``("aborted", reason)``.

        Every way out closes the gate first and ends with a ``protocol_end`` record (when the log can
        still be written). An exception is re-raised after that, as an abort with its message.
        """
        if not self.ready:
            raise ProtocolError("prepare() the protocol (without refusals) before running it")
        if self.started:
            raise ProtocolError("a protocol run runs once: make a new ProtocolRun to run it again")
        self.started = True
        s = self.session
        outcome, reason, error = "completed", "", None
        try:
            self._record(protocol_record(self.protocol.name, self.protocol.to_dict(), self._plan_summary(),
                                         self._pattern_summary(), self.source))
            with s.laser_gate.manual():  # the steps open the gate, not each frame shown
                self._run_steps()
        except BaseException as exc:  # noqa: BLE001 - every way out closes the gate and says why
            error = exc
        reason = self._state.abort_reason or ""
        if error is not None and not reason:
            reason = str(error) if isinstance(error, ProtocolError) else f"{type(error).__name__}: {error}"
            if isinstance(error, KeyboardInterrupt):
                reason = "interrupted (Ctrl+C)"
        if reason:
            outcome = "aborted"
        try:
            s.laser_gate.close(f"protocol {outcome}" + (f": {reason}" if reason else ""))
            s.laser_gate.unblock()  # the run is over: the session's own rules again
        finally:
            st = self._state
            try:
                s.append_record(protocol_end_record(outcome, reason, st.steps_done, len(self.plan.steps),
                                                    gate_opened=st.gate_opened))
            except Exception:
                log.exception("could not write the protocol_end record")
            self.outcome = (outcome, reason)
            self._progress(outcome, message=reason)
            self._listeners.emit("end", outcome, reason)
        if error is not None and not isinstance(error, ProtocolAborted):
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                return self.outcome
            raise error
        return self.outcome

    def _record(self, record: dict) -> None:
        self.session.append_record(record)

    def _plan_summary(self) -> dict[str, Any]:
        p = self.plan
        return {"steps": len(p.steps), "seed": p.seed, "total_ms": p.total_ms, "trigger": p.trigger,
                "order": [[st.trial, st.pattern] for st in p.steps]}

    def _pattern_summary(self) -> dict[str, Any]:
        out = {}
        for name, p in self.prepared.items():
            out[name] = {
                "targets": [{"id": t.id, "camera_px": [t.x, t.y], "weight": t.weight, "group": t.group}
                            for t in p.result.targets],
                "frame_sha256": p.frame_sha256,
                "predicted_power_mw_at_full_laser": None if p.verdict.predicted_power_mw is None
                else [float(x) for x in p.verdict.predicted_power_mw],
                "compute_ms": p.result.compute_ms,
            }
        return out

    def _check_abort(self) -> None:
        if self._state.abort_reason is not None:
            raise ProtocolAborted(self._state.abort_reason)

    def _wait_until(self, t: float, *, pausable: bool = False) -> bool:
        """Sleep until clock time ``t``; abortable. ``pausable``: False as soon as a pause is asked for."""
        while True:
            self._check_abort()
            if pausable and self._state.paused_at is not None:
                return False
            left = t - self._clock()
            if left <= 0:
                return True
            if left > _NAP_S:
                self._wake.wait(left - _NAP_S)
                self._wake.clear()
            else:
                time.sleep(_SLICE_S)

    def _hold_while_paused(self, step: Step) -> None:
        if self._state.paused_at is None:
            return
        self._progress("paused", step, "paused")
        while self._state.paused_at is not None:
            self._check_abort()
            self._wake.wait(0.1)
            self._wake.clear()
        self._progress("running", step)

    def _wait_trigger(self, what: str) -> float:
        """The next TTL edge on the DAQ's trigger line (checked against abort every slice)."""
        timeout = float(self.protocol.schedule.trigger_timeout_s)
        since = self._clock()
        deadline = since + timeout
        while True:
            self._check_abort()
            left = deadline - self._clock()
            if left <= 0:
                raise ProtocolAborted(f"no TTL trigger for {what} within {timeout:g} s")
            t = self.session.wait_trigger(min(left, _TRIGGER_SLICE_S), since=since)
            if t is not None:
                return t

    def _run_steps(self) -> None:
        s = self.session
        plan = self.plan
        frame_period = 1.0 / float(getattr(s.slm, "refresh_hz", 60.0) or 60.0)
        trigger = plan.trigger
        self._progress("waiting" if trigger != "timer" else "running", message="waiting for the start trigger"
                       if trigger == "ttl_start" else "")
        t0 = self._wait_trigger("the start") if trigger == "ttl_start" else self._clock()
        for step in plan.steps:
            self._hold_while_paused(step)
            p = self.prepared[step.pattern]
            power = self._powers.get(step.index, _Power(None))
            t_trig = None
            if trigger == "ttl_per_step":
                self._progress("waiting", step, f"waiting for the trigger of step {step.index + 1}")
                t_trig = self._wait_trigger(f"step {step.index + 1}")
                onset = t_trig
            else:
                while True:  # a pause while waiting for the onset holds it, and shifts it after
                    onset = t0 + self._state.paused_s + step.onset_ms / 1e3
                    if self._wait_until(onset, pausable=True):
                        break
                    self._hold_while_paused(step)
            times = StepTimes(step, step.pattern, onset, laser_power_mw=power.laser_mw, t_trigger=t_trig)
            self._state.times.append(times)
            end = onset + step.duration_ms / 1e3
            times.t_request = self._clock()
            shown = s.show_prepared(p, request_time=times.t_request)
            rec = shown.frame_record
            times.t_swapped, times.frame_sha256 = rec.t_swapped, p.frame_sha256
            times.slm_frame_index = rec.index
            self._listeners.emit("step", times, p)
            self._check_abort()
            times.t_gate_open = s.laser_gate.open_when_ready(
                rec, power_mw=power.laser_mw, deadline=end,
                context={"step": step.index, "trial": step.trial, "pattern": step.pattern},
                planned_s=max(0.0, end - self._clock()))  # at most the step's rest (judged by the duty cycle)
            times.t_swapped = rec.t_swapped
            if times.t_gate_open is not None:
                self._state.gate_opened += 1
            self._progress("running", step)
            self._wait_until(end - _CLOSE_LEAD_S)
            closed = s.laser_gate.close("step end")
            times.t_gate_close = closed if closed is not None else (
                s.laser_gate.last_close_t if times.t_gate_open is not None else None)
            self._state.steps_done += 1
            self._record(step_record(**times.record(p, frame_period)))
            times.done = True
            self._listeners.emit("step", times, p)
            self._progress("running", step)
        post = self.protocol.schedule.baseline_post_ms / 1e3
        if post > 0:
            self._wait_until(self._clock() + post)
