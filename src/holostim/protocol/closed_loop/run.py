"""A closed-loop run: the readout worker feeds the rules; an actuator thread lights through the one gate.

Three threads, each with one job:

* the **readout worker** (:mod:`~holostim.protocol.closed_loop.worker`) reads out every camera frame,
  appends it to the trace file and evaluates the rules on it (cheap: a few comparisons per rule);
* the **actuator** takes the admitted decision and runs the only light path there is: the prepared
  pattern (or, for ``stimulate_active``, the mask of the active cells computed now by
  ``Session.prepare_pattern`` with the action's ``budget_ms``, judged like any frame) through
  ``Session.show_prepared`` (the gate closes before the frame goes, the frame is judged and logged), then
  ``laser_gate.open_when_ready`` (swapped, settled, permitted, within the rig's duty cycle, logged), then
  the gate closes after ``duration_ms``. It holds one action at a time: a decision that comes while it
  is busy is recorded as ``busy`` and not queued (a stale stimulation is worse than none);
* the caller's thread waits for the end (``duration_ms``, a ``stop`` action, :meth:`abort`) and closes.

Each action is one ``closed_loop_action`` record with its times (the frame that showed the activity,
the decision, the request, the swap, the gate's opening and closing) and latencies; a stopped rule is a
``closed_loop_rule`` record; the run ends with ``protocol_end``. An exception in an action stops that
rule, closes the gate and is logged; the run and the rig go on. Traces go to ``<log>.traces``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from holostim.eventlog.records import protocol_end_record, protocol_record
from holostim.protocol.closed_loop.readout import DffReadout, RoiSet, TraceSample
from holostim.protocol.closed_loop.rules import Decision, RuleBook
from holostim.protocol.closed_loop.trace_file import TraceWriter
from holostim.protocol.closed_loop.worker import ReadoutWorker
from holostim.protocol.errors import ProtocolError
from holostim.protocol.model import ProtocolConfig
from holostim.protocol.patterns import resolve_patterns
from holostim.protocol.runner import ProtocolRefused, laser_power_for
from holostim.safety import SafetyError, TargetRefused
from holostim.session import Session
from holostim.session.listeners import Listeners
from holostim.session.prepared import PreparedPattern

__all__ = ["EVENTS", "Action", "ClosedLoopRun"]

log = logging.getLogger(__name__)

EVENTS = ("sample", "action", "rule", "end")
_CLOSE_LEAD_S = 0.0005


@dataclass
class Action:
    """One action of a rule, as it happened (monotonic s; ``None`` where it did not happen)."""

    decision: Decision
    pattern: str | None
    t_decision: float
    t_request: float | None = None
    t_swapped: float | None = None
    t_gate_open: float | None = None
    t_gate_close: float | None = None
    outcome: str = "pending"  # shown, not_opened, busy, refused, late, none_active, error, stop
    targets: list[int] | None = None  # a live action's target ids (the active cells), highest first
    t_computed: float | None = None  # a live action's mask ready
    compute_ms: float | None = None
    budget_ms: float | None = None
    late: bool | None = None
    iterations: int | None = None
    reason: str = ""

    def record(self) -> dict[str, Any]:
        """The ``closed_loop_action`` record."""
        def ms(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(1e3 * (a - b), 4)

        d = self.decision
        return {"type": "closed_loop_action", "rule": d.rule, "roi": d.roi, "value": d.value,
                "frame_counter": d.counter, "pattern": self.pattern, "outcome": self.outcome,
                "t_frame": d.t_frame, "t_decision": self.t_decision, "t_request": self.t_request,
                "t_swapped": self.t_swapped, "t_gate_open": self.t_gate_open,
                "t_gate_close": self.t_gate_close,
                "decision_after_frame_ms": ms(self.t_decision, d.t_frame),
                "swap_after_decision_ms": ms(self.t_swapped, self.t_decision),
                "gate_after_frame_ms": ms(self.t_gate_open, d.t_frame),
                "light_ms": ms(self.t_gate_close, self.t_gate_open), "reason": self.reason,
                **({} if self.targets is None else {
                    "targets": self.targets, "t_computed": self.t_computed, "compute_ms": self.compute_ms,
                    "budget_ms": self.budget_ms, "late": self.late, "iterations": self.iterations,
                    "ready_after_decision_ms": ms(self.t_computed, self.t_decision)})}


class ClosedLoopRun:
    """A protocol's ``closed_loop`` section run on a session: :meth:`prepare`, then :meth:`run`.

    Listeners (:meth:`add_listener`, called on the worker or actuator thread): ``"sample"`` with each
    :class:`TraceSample`, ``"action"`` with each finished :class:`Action`, ``"rule"`` with
    ``(name, why)`` when a rule is stopped, ``"end"`` with ``(outcome, reason)``.
    """

    def __init__(self, session: Session, protocol: ProtocolConfig, *, source: str | Path | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 masks: Mapping[int, np.ndarray] | None = None) -> None:
        if protocol.closed_loop is None:
            raise ProtocolError(f"protocol {protocol.name!r} has no closed_loop section")
        self.session = session
        self.protocol = protocol
        self.spec = protocol.closed_loop
        self.source = None if source is None else Path(source)
        self.masks = None if masks is None else {int(k): np.asarray(v, bool) for k, v in masks.items()}
        self.clock = clock
        self.prepared: dict[str, PreparedPattern] = {}
        self.powers: dict[str, float | None] = {}
        self.rois: RoiSet | None = None
        self._by_id: dict[int, Any] = {}
        self.book: RuleBook | None = None
        self.actions: list[Action] = []
        self.trace_path: Path | None = None
        self.worker: ReadoutWorker | None = None
        self.outcome: tuple[str, str] | None = None
        self._listeners = Listeners(EVENTS, error=ProtocolError, name="closed loop")
        self._pending: Action | None = None
        self._busy = threading.Event()
        self._wake = threading.Condition()
        self._done = threading.Event()
        self._reason = ""
        self._lock = threading.Lock()

    def add_listener(self, event: str, callback: Callable[..., None]) -> Callable[[], None]:
        """Call ``callback`` on ``event`` (see the class docstring); returns its remover."""
        return self._listeners.add(event, callback)

    # ------------------------------------------------------------------------------------------ preparing
    def prepare(self) -> None:
        """ROIs (discs around the targets, or the masks given), and every pattern the rules show, ready.

        ``masks`` (``{id: bool mask of the camera's shape}``, e.g. from
        :func:`holostim.interop.masks.roi_masks`) are read out as they are: the ROIs' real pixels. A
        ``rois.file`` without them is refused: the protocol does not read analysis files itself.

        Raises
        ------
        ProtocolRefused
            Every refused pattern or power, in one message.
        ProtocolError
            No DAQ, no camera, or a ROI id that is not a target of the session.
        """
        s = self.session
        if s.daq is None:
            raise ProtocolError("a closed loop needs the session's daq section: it is what gates the laser "
                                "(daq: {backend: simulated} on the simulated rig)")
        if s.camera is None:
            raise ProtocolError("a closed loop needs the session's camera")
        by_id = {t.id: t for t in s.targets if t.id is not None}
        r = self.spec.rois
        if self.masks is None and r.kind == "file":
            raise ProtocolError(f"closed_loop.rois.file: the masks of {r.file.name!r} are read by the caller "  # type: ignore[union-attr]
                                "(holostim run-protocol, the GUI's protocol dock, or "
                                "holostim.interop.masks.roi_masks) and given as ClosedLoopRun(masks=...)")
        if self.masks is None and r.kind == "imported":
            raise ProtocolError("closed_loop.rois.source: imported names the ROIs imported in the GUI "
                                "(Targets → Import ROIs…); run it from the protocol dock, or give rois.file")
        have = self.masks if self.masks is not None else by_id
        what = "ROI(s) of the mask file" if self.masks is not None else "target(s) of the session"
        ids = r.ids if r.ids is not None else sorted(have)
        missing = [i for i in ids if i not in have]
        if missing or not ids:
            raise ProtocolError(f"closed_loop.rois.ids: {missing or 'no'} {what} (it has ids "
                                f"{sorted(have)}); change the ids")
        rules_rois = sorted({rule.when.roi for rule in self.spec.rules} - set(ids))
        if rules_rois:
            raise ProtocolError(f"closed_loop.rules: ROI(s) {rules_rois} are not among the {what} (ids "
                                f"{sorted(have)})")
        self._by_id = {i: by_id[i] for i in ids if i in by_id}  # the ROIs a live action can light
        shape = tuple(s.camera.shape)
        if self.masks is not None:
            bad = [i for i in ids if self.masks[i].shape != shape]
            if bad:
                raise ProtocolError(f"closed_loop.rois: the masks of ROI(s) {bad} are "
                                    f"{self.masks[bad[0]].shape}, not the camera's {shape}")
            self.rois = RoiSet([self.masks[i] for i in ids], ids, ring_gap_px=r.ring_gap_px,
                               ring_px=r.ring_px)
        else:
            self.rois = RoiSet.discs(np.array([[by_id[i].x, by_id[i].y] for i in ids]), r.radius_px,
                                     shape, ids, ring_gap_px=r.ring_gap_px, ring_px=r.ring_px)
        self.book = RuleBook(self.spec.rules, ids, self.spec.duty_cycle)
        resolved = resolve_patterns(self.protocol, s.targets)
        refused = []
        for name in self.spec.used_patterns():
            try:
                p = s.prepare_pattern(resolved[name].targets, name)
            except (SafetyError, TargetRefused) as exc:
                refused.append(f"pattern {name!r}: {exc}")
                continue
            if not p.verdict.light:
                refused.append(f"pattern {name!r}: the laser would stay blocked ({p.verdict.reason})")
            self.prepared[name] = p
            try:
                self.powers[name] = laser_power_for(s, p, resolved[name].power_mw_per_spot)[0]
            except ProtocolError as exc:
                refused.append(f"pattern {name!r}: {exc}")
        if refused:
            raise ProtocolRefused(f"protocol {self.protocol.name!r} refused ({len(refused)}): "
                                  + "; ".join(refused))

    # ------------------------------------------------------------------------------------------ control
    def abort(self, reason: str = "aborted") -> None:
        """End the run: the gate closes now (from this thread), nothing opens until the run is over."""
        with self._lock:
            if not self._reason:
                self._reason = str(reason) or "aborted"
        if self.session.daq is not None:
            self.session.laser_gate.block(f"abort: {reason}")
        self._done.set()
        with self._wake:
            self._wake.notify_all()

    def finish(self) -> None:
        """End the run now as completed (its planned end brought forward); the gate closes as usual."""
        self._done.set()
        with self._wake:
            self._wake.notify_all()

    # ------------------------------------------------------------------------------------------ running
    def run(self) -> tuple[str, str]:
        """Run the loop for ``duration_ms``; returns ``("completed", "")`` or ``("aborted", reason)``."""
        if self.book is None or self.rois is None:
            raise ProtocolError("prepare() the closed loop before running it")
        s = self.session
        cam = s.camera
        readout = DffReadout(self.rois, **self.spec.readout.model_dump())
        self.trace_path = Path(str(s.log.path) + ".traces") if s.log is not None else None
        writer = TraceWriter(self.trace_path, self.rois.ids) if self.trace_path is not None else None
        sinks: list[Callable[[TraceSample], None]] = []
        if writer is not None:
            sinks.append(writer.append)
        sinks += [self._on_sample, lambda smp: self._listeners.emit("sample", smp)]
        self.worker = ReadoutWorker(cam, readout, sinks,
                                    on_error=lambda exc: self.abort(f"the readout failed: {exc}"))
        started_camera = not cam.is_streaming
        actuator = threading.Thread(target=self._actuate, name="holostim-closed-loop", daemon=True)
        error: BaseException | None = None
        try:
            plan = {"closed_loop": True, "duration_ms": self.spec.duration_ms, "rois": self.rois.ids,
                    "traces": None if self.trace_path is None else self.trace_path.name}
            patterns = {n: {"frame_sha256": p.frame_sha256, "targets": [t.id for t in p.result.targets]}
                        for n, p in self.prepared.items()}
            s.append_record(protocol_record(self.protocol.name, self.protocol.to_dict(), plan, patterns,
                                            self.source))
            with s.laser_gate.manual():
                if started_camera:
                    # One frame first: the simulated rig catches up with the time since its last frame
                    # (its network is stepped in sub-ms steps) before the clock of the run starts.
                    cam.snap()
                    cam.start()
                actuator.start()
                self.worker.start()
                self._done.wait(self.spec.duration_ms / 1e3)
        except BaseException as exc:  # noqa: BLE001 - every way out closes the gate and says why
            error = exc
            self.abort(f"{type(exc).__name__}: {exc}")
        finally:
            self._done.set()
            with self._wake:
                self._wake.notify_all()
            if self.worker is not None:
                self.worker.stop()
            if actuator.is_alive():
                actuator.join(timeout=5.0)
            if started_camera:
                cam.stop()
            if writer is not None:
                writer.close()
        if self.worker.error is not None and not self._reason:
            self._reason = f"the readout failed: {self.worker.error}"
        outcome = "aborted" if self._reason else "completed"
        try:
            s.laser_gate.close(f"closed loop {outcome}")
            s.laser_gate.unblock()
        finally:
            shown = sum(a.outcome == "shown" for a in self.actions)
            try:
                s.append_record({**protocol_end_record(outcome, self._reason, shown, len(self.actions),
                                                       gate_opened=shown),
                                 "frames": self.worker.frames, "frames_dropped": self.worker.dropped})
            except Exception:
                log.exception("could not write the protocol_end record")
            self.outcome = (outcome, self._reason)
            self._listeners.emit("end", outcome, self._reason)
        if error is not None and not isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise error
        return self.outcome

    # ------------------------------------------------------------------------------ the worker's side
    def _on_sample(self, sample: TraceSample) -> None:
        book = self.book
        for d in book.evaluate(sample):  # type: ignore[union-attr]
            now = self.clock()
            spec = book.states[d.rule].spec  # type: ignore[union-attr]
            if self._done.is_set():
                return
            if self._busy.is_set():
                self._finish(Action(d, spec.do.show, now, outcome="busy"))
                continue
            live = spec.do.stimulate_active
            active = self._active(sample, live.above, live.max_cells) if live is not None else None
            if active is not None and not active:
                self._finish(Action(d, None, now, targets=[], outcome="none_active",
                                    reason=f"no ROI with a target above {live.above:g} ΔF/F"))  # type: ignore[union-attr]
                continue
            ok, why = book.admit(d, now)  # type: ignore[union-attr]
            if not ok:
                if why.startswith("stopped"):
                    self._rule_stopped(d.rule, why.split(": ", 1)[1])
                continue
            action = Action(d, spec.do.show, now, targets=active,
                            budget_ms=spec.do.budget_ms if live is not None else None)
            if spec.do.stop:
                action.outcome = "stop"
                self._finish(action)
                self._reason = f"rule {d.rule!r} stopped the run"
                self._done.set()
                return
            self._busy.set()
            with self._wake:
                self._pending = action
                self._wake.notify_all()

    def _active(self, sample: TraceSample, above: float, max_cells: int) -> list[int]:
        """Ids of the targets whose ROIs are above ``above`` ΔF/F in ``sample``, the highest first."""
        dff = np.asarray(sample.dff, float)
        order = np.argsort(-dff, kind="stable")
        ids = self.rois.ids  # type: ignore[union-attr]
        picked = [ids[k] for k in order if np.isfinite(dff[k]) and dff[k] > above and ids[k] in self._by_id]
        return picked[:int(max_cells)]

    def _live_pattern(self, action: Action, spec: Any) -> PreparedPattern | None:
        """The active cells' mask, computed now with the action's deadline; ``None`` (and why) if not shown.

        Late (ready after ``budget_ms``) is logged and shown; past ``drop_after_ms`` it is not shown.
        A refused target set or a pattern over a limit is not shown either (outcome ``refused``).
        """
        s = self.session
        targets = [self._by_id[i] for i in action.targets]  # type: ignore[union-attr]
        t0 = self.clock()
        try:
            p = s.prepare_pattern(targets, f"{spec.name}: active {action.targets}",
                                  budget_ms=spec.do.budget_ms)
        except (SafetyError, TargetRefused) as exc:
            action.outcome, action.reason = "refused", str(exc)
            return None
        action.t_computed = self.clock()
        action.compute_ms = round(1e3 * (action.t_computed - t0), 4)
        action.iterations = int(p.result.iterations)
        after = 1e3 * (action.t_computed - action.t_decision)
        action.late = after > float(spec.do.budget_ms)
        if action.late:
            log.warning("closed loop: rule %r's live mask was ready %.1f ms after the decision (budget_ms "
                        "= %g)", spec.name, after, spec.do.budget_ms)
        if after > float(spec.do.drop_after):
            action.outcome = "late"
            action.reason = (f"the live mask was ready {after:.1f} ms after the decision, past drop_after_ms "
                             f"= {spec.do.drop_after:g}: not shown")
            return None
        if not p.verdict.light:
            action.outcome, action.reason = "refused", f"the laser would stay blocked ({p.verdict.reason})"
            return None
        return p

    def _rule_stopped(self, rule: str, why: str) -> None:
        log.warning("closed loop: rule %r stopped: %s", rule, why)
        try:
            self.session.append_record({"type": "closed_loop_rule", "rule": rule, "stopped": why,
                                        "t": self.clock()})
        finally:
            self._listeners.emit("rule", rule, why)

    def _finish(self, action: Action) -> None:
        self.actions.append(action)
        try:
            self.session.append_record(action.record())
        finally:
            self._listeners.emit("action", action)

    # ------------------------------------------------------------------------------ the actuator
    def _actuate(self) -> None:
        s = self.session
        gate = s.laser_gate
        period = 1.0 / float(getattr(s.slm, "refresh_hz", 60.0) or 60.0)
        while not self._done.is_set():
            with self._wake:
                while self._pending is None and not self._done.is_set():
                    self._wake.wait(0.1)
                action, self._pending = self._pending, None
            if action is None:
                continue
            spec = self.book.states[action.decision.rule].spec  # type: ignore[union-attr]
            duration = float(spec.do.duration_ms) / 1e3  # type: ignore[arg-type]
            try:
                if spec.do.stimulate_active is not None:
                    p = self._live_pattern(action, spec)
                    if p is None:
                        continue  # the finally finishes it, with its outcome and reason
                    power = laser_power_for(s, p, spec.do.power_mw_per_spot)[0]
                else:
                    p = self.prepared[action.pattern]  # type: ignore[index]
                    power = self.powers.get(p.name)
                action.t_request = self.clock()
                shown = s.show_prepared(p, request_time=action.t_request)
                rec = shown.frame_record
                deadline = self.clock() + gate.settle_s(rec) + 5 * period
                action.t_gate_open = gate.open_when_ready(
                    rec, power_mw=power, deadline=deadline,
                    context={"closed_loop": spec.name, "roi": action.decision.roi}, planned_s=duration)
                action.t_swapped = rec.t_swapped
                if action.t_gate_open is None:
                    action.outcome = "not_opened"
                else:
                    duty = self.book.duty  # type: ignore[union-attr]
                    duty.add(action.t_gate_open, action.t_gate_open + duration)
                    end = action.t_gate_open + duration - _CLOSE_LEAD_S
                    while not self._done.is_set() and self.clock() < end:
                        time.sleep(min(0.0005, max(0.0, end - self.clock())))
                    closed = gate.close(f"closed loop: rule {spec.name!r} done")
                    action.t_gate_close = closed if closed is not None else gate.last_close_t
                    duty.close_at(action.t_gate_open, action.t_gate_close or self.clock())
                    action.outcome = "shown"
            except Exception as exc:  # noqa: BLE001 - a failing rule is stopped; the rig goes on
                log.exception("closed loop: rule %r failed", spec.name)
                gate.close(f"closed loop: rule {spec.name!r} failed")
                action.outcome = "error"
                self.book.stop(spec.name, f"{type(exc).__name__}: {exc}")  # type: ignore[union-attr]
                self._rule_stopped(spec.name, f"{type(exc).__name__}: {exc}")
            finally:
                self._busy.clear()
                self._finish(action)
