"""The laser gate: the one place that drives the DAQ's ``gate_out`` and ``power_ao`` lines.

Light reaches the sample only through the DAQ's gate (a shutter or a Pockels cell's enable), so the rule
of when it may open is kept here, once, for the GUI, the protocol runner and calibration alike. The gate
opens (:meth:`LaserGate.open_when_ready`) only when all of these hold at the same moment:

* the frame has swapped onto the panel (``rec.t_swapped``) and its liquid crystal has settled:
  ``t_swapped + settle_taus × τ`` has passed (:meth:`LaserGate.settle_s`);
* the SLM still shows that frame (``slm.last_record is rec``) and no new frame is on its way (the final
  check and the opening hold the session's frame lock, which every frame takes on its way to the SLM);
* the session's laser permit is on: the SLM's interlock is happy, the frame passed the safety gate with
  light, and its record is durable;
* the rig's duty-cycle limit (``safety.max_duty_cycle`` of any ``safety.duty_window_ms``, a
  :class:`~holostim.safety.DutyCycleLimit`) has room: an opening with a planned length (a protocol
  step, a closed-loop action: ``planned_s``) that would put the light over the limit is **refused whole**,
  and one without (a click) is refused when no light is left;
* then the power is set while the gate is still closed, a ``gate`` record is made durable, and only then
  the line opens.

Refused rather than cut short, where the length is known: a cut pulse is a different stimulus from the
one planned, and the analysis would count it as the planned one; a refusal puts no light over the limit
at all and the log says so (``gate`` ``not_opened`` with the reason). An opening without a planned
length, or one its caller holds open past its plan, is **cut at the limit** by the gate's duty watchdog
(a thread that sleeps until the budget is spent; the close record says why). Either way the permit goes
off with the reason (the banner shows it) until the window has room again for what was refused (for a
cut: a full budget), so every path — the GUI's click, a protocol's schedule, a closed loop, a library
playback — meets the same limit here.

It closes (:meth:`LaserGate.close`: the line first, then the record) when the permit goes off (from the
thread that turned it off: the interlock's watchdog reports a stalled display within a frame period),
before any new frame is loaded, when the session closes, and on any exception inside the gate. The DAQ
itself closes the line on any device error, and the serial board on a missing heartbeat.

The gate knows the session only through small callables (its SLM, permit, log and frame lock now), so it
can be tested on its own and the session keeps the one show path.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from holostim.errors import HolostimError
from holostim.eventlog import EventLog, EventLogError
from holostim.eventlog.records import frame_hash, gate_record
from holostim.hardware.daq import DAQ
from holostim.hardware.slm import FrameRecord
from holostim.safety import DutyCycleLimit

__all__ = ["NO_DAQ", "GateError", "LaserGate"]

log = logging.getLogger(__name__)

NO_DAQ = ("this session has no daq section: the laser gate needs one "
          "(daq: {backend: simulated} on the simulated rig)")

#: How long :meth:`LaserGate.open_when_ready` naps between looks when nothing wakes it (seconds).
POLL_S = 0.001
#: The duty watchdog closes the line this long before the budget is spent (its wake-up's slack, s).
DUTY_LEAD_S = 0.0002
#: The longest the duty watchdog sleeps while the gate is open or the permit waits for room (s).
DUTY_POLL_S = 0.005


class GateError(HolostimError, RuntimeError):
    """The laser gate cannot do what was asked (no DAQ, a power without a power line); one line."""


class LaserGate:
    """Opens and closes the DAQ's laser gate by the session's rules (see the module docstring).

    Parameters
    ----------
    daq : DAQ or None
        ``None``: the session has no DAQ; opening raises :class:`GateError`, closing is a no-op.
    slm : ``() -> SLM``: the session's SLM now (it may move to another screen).
    permit : ``() -> (permitted, reason)``: the session's laser permit now.
    event_log : ``() -> EventLog | None``: the session's log now.
    frame_lock : the lock every frame holds on its way to the SLM (the session's).
    settle_taus : how many settle time constants τ after the swap the gate waits.
    on_log_failure : ``(reason) -> None``: a gate record could not be made durable (block the laser).
    emit : ``(is_open, reason, t) -> None``: tells the session's ``"gate"`` listeners.
    clock : monotonic clock (s) of the frame records' ``t_swapped`` (``time.monotonic``).
    duty : the rig's duty-cycle limit (``None``: none).
    on_duty : ``(ok, reason) -> None``: the duty-cycle limit was reached / has room again (the session
        turns its permit off / on with it; called with no lock of the gate held).

    Attributes
    ----------
    auto : bool
        Whether the session opens the gate by itself after each interactive frame with light (the GUI
        and calibration: a click lights its targets). A protocol runner sets it False (:meth:`manual`)
        and opens the gate itself per step.
    """

    def __init__(self, daq: DAQ | None, *, slm: Callable[[], Any], permit: Callable[[], tuple[bool, str]],
                 event_log: Callable[[], EventLog | None], frame_lock: Any, settle_taus: float = 3.0,
                 on_log_failure: Callable[[str], None] | None = None,
                 emit: Callable[[bool, str, float], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, duty: DutyCycleLimit | None = None,
                 on_duty: Callable[[bool, str], None] | None = None):
        self.daq = daq
        self._slm = slm
        self._permit = permit
        self._log = event_log
        self._frame_lock = frame_lock
        self.settle_taus = float(settle_taus)
        self._on_log_failure = on_log_failure or (lambda why: None)
        self._emit = emit or (lambda is_open, why, t: None)
        self.clock = clock
        self.auto = True
        self._cond = threading.Condition(threading.RLock())
        self._is_open = False
        self._open_rec: FrameRecord | None = None
        self._open_sha: str | None = None
        self._open_power: float | None = None
        self._t_open: float | None = None
        self._t_closed: float | None = None
        self._blocked: str | None = None  # while set, nothing opens (a protocol's abort)
        self._epoch = 0  # counts frames on their way to the SLM: an opening waits for its own frame only
        self._shut = False
        self.duty = duty
        self._on_duty = on_duty or (lambda ok, why: None)
        self._duty_wanted: float | None = None  # while set: the permit is off until this much light fits
        self._watchdog: threading.Thread | None = None

    # ----------------------------------------------------------------------------------------- state
    @property
    def is_open(self) -> bool:
        """Whether the gate is open now (as this gate last set it)."""
        return self._is_open

    @property
    def last_close_t(self) -> float | None:
        """When the line last closed (monotonic s; ``None`` before it ever closed after opening)."""
        return self._t_closed

    def settle_s(self, rec: FrameRecord | None = None) -> float:
        """Seconds the gate waits after a swap: the SLM's model for ``settle_taus`` time constants.

        A plain panel settles in ``settle_taus`` × τ; one that overdrives (the simulated panel with
        ``overdrive``) reports its model's shorter figure (:meth:`~holostim.hardware.slm.SLM.settle_time_s`,
        the one place the figure comes from). An SLM-like object without that method: ``settle_taus`` × τ.
        """
        slm = self._slm()
        model = getattr(slm, "settle_time_s", None)
        if model is not None:
            return float(model(self.settle_taus))
        return self.settle_taus * float(slm.settle_ms) / 1e3

    @contextlib.contextmanager
    def manual(self) -> Iterator[LaserGate]:
        """Within the block the session does not open the gate by itself (a protocol runs it)."""
        was, self.auto = self.auto, False
        try:
            yield self
        finally:
            self.auto = was

    # ----------------------------------------------------------------------------------------- opening
    def open_when_ready(self, rec: FrameRecord, *, power_mw: float | None, deadline: float | None,
                        context: dict | None = None, planned_s: float | None = None) -> float | None:
        """Wait until ``rec`` is swapped, settled, still shown and permitted; open; return the opening time.

        ``planned_s``: how long the caller will keep it open (judged against the duty-cycle limit at the
        moment of opening; ``None``: until closed, cut at the limit).

        Before the line opens, ``power_ao`` is set to ``power_mw`` (``None``: left as it is) while the
        gate is closed, and a ``gate`` record is made durable. Returns ``None`` (gate closed, a ``gate``
        record with ``action: not_opened`` saying why) when ``deadline`` (monotonic s; ``None``: no limit)
        passes first, the permit is or turns off, or another frame comes. Any exception closes the gate.

        Raises
        ------
        GateError
            No DAQ in the session, or a ``power_mw`` for a DAQ without a calibrated power line.
        """
        daq = self.daq
        if daq is None:
            raise GateError(NO_DAQ)
        if power_mw is not None and not (daq.has_power_ao and daq.power_calibration is not None):
            raise GateError(f"power_mw={power_mw} needs the DAQ's power_ao line: add daq.power_calibration "
                            "(and the backend's analog output) to the session, or give no power")
        ctx = dict(context or {})
        sha = frame_hash(rec.frame)
        epoch = self._epoch
        try:
            while True:
                now = self.clock()
                why, wait = self._why_not(rec, epoch, now)
                if why is None and wait is None:
                    t = self._open_if_still_ready(rec, epoch, sha, power_mw, ctx, deadline, planned_s)
                    if t is not False:
                        return t  # type: ignore[return-value]
                    continue  # something changed while taking the frame lock: look again
                if why is None and deadline is not None and now >= deadline:
                    why = f"deadline passed while waiting for {wait}"
                if why is not None:
                    self._not_opened(why, sha, power_mw, ctx)
                    return None
                nap = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - now))
                with self._cond:
                    self._cond.wait(nap)
        except BaseException as exc:
            why = f"error while opening: {exc}"
            if self.close(why) is None:  # it never opened: the log still says why not
                with contextlib.suppress(Exception):
                    self._not_opened(why, sha, power_mw, ctx)
            raise

    def _why_not(self, rec: FrameRecord, epoch: int, now: float) -> tuple[str | None, str | None]:
        """``(abort reason, None)``, ``(None, what it waits for)``, or ``(None, None)`` when ready."""
        if self._shut or self.daq is None:
            return "the session is closing", None
        if self._blocked is not None:
            return f"blocked: {self._blocked}", None
        if epoch != self._epoch:
            return "another frame is on its way to the SLM", None
        slm = self._slm()
        if slm.last_record is not rec:
            return "the SLM shows another frame", None
        ok, reason = self._permit()
        if not ok:
            return f"laser not permitted: {reason}", None
        if rec.t_swapped is None:
            return None, "the swap"
        if now < rec.t_swapped + self.settle_s(rec):
            return None, "the SLM to settle"
        return None, None

    def _open_if_still_ready(self, rec: FrameRecord, epoch: int, sha: str, power_mw: float | None,
                             ctx: dict, deadline: float | None,
                             planned_s: float | None = None) -> float | None | bool:
        """Check again and open, holding the frame lock (no frame under way) and the gate's lock.

        ``False``: not ready after all (look again); ``None``: did not open (logged why).
        """
        timeout = -1 if deadline is None else max(0.0, deadline - self.clock())
        if not self._frame_lock.acquire(timeout=timeout):
            self._not_opened("deadline passed while a frame was on its way to the SLM", sha, power_mw, ctx)
            return None
        failure = over = None
        try:
            with self._cond:
                why, wait = self._why_not(rec, epoch, self.clock())
                if why is not None or wait is not None:
                    return False
                daq = self.daq
                if self._is_open:
                    if self._open_rec is rec and (power_mw is None or power_mw == self._open_power):
                        return self._t_open
                    self._append(self._close_locked("opening again at another power")[1])
                if self.duty is not None:
                    over = self.duty.refusal(self.clock(), planned_s)
                    if over is not None:
                        return None  # logged and told in the finally, with no lock of the gate held
                if power_mw is not None:
                    daq.set_power_mw(power_mw)  # the gate is closed: a power change never shows
                power = daq.power_mw if power_mw is None else float(power_mw)
                t = self.clock()
                try:
                    self._append(gate_record(True, t, "", frame_sha256=sha, power_mw=power, context=ctx))
                except EventLogError as exc:
                    failure = f"log write failed, the gate stays closed: {exc}"
                else:
                    # Open in the books first: should the line fail half-way, close() still closes it.
                    self._is_open, self._open_rec, self._open_sha, self._open_power = True, rec, sha, power
                    if self.duty is not None:
                        self.duty.opened(self.clock())  # before the line: the ledger never counts less
                        self._start_watchdog()
                    daq.open_gate()  # the record is durable: now the line
                    t_open = self._t_open = self.clock()
        finally:
            self._frame_lock.release()
            if over is not None:
                self._refused_by_duty(over, sha, power_mw, ctx, planned_s)
        if over is not None:
            return None
        if failure is not None:
            log.error("%s", failure)
            self._on_log_failure(failure)
            return None
        self._emit(True, "", t_open)
        return t_open

    def _refused_by_duty(self, why: str, sha: str, power_mw: float | None, ctx: dict,
                         planned_s: float | None) -> None:
        """An opening over the duty-cycle limit: a ``not_opened`` record, the permit off, the watchdog on.

        The permit is told "off" before the watchdog is given what to wait for, so its "on" can only
        come after. (Whatever the permit says, every opening is judged by the ledger itself.)
        """
        log.warning("laser gate refused: duty cycle: %s", why)
        self._not_opened(f"duty cycle: {why}", sha, power_mw, ctx)
        self._on_duty(False, f"duty cycle: {why}")
        duty = self.duty
        assert duty is not None
        with self._cond:
            self._duty_wanted = min(duty.limit_s, planned_s or duty.limit_s)
            self._cond.notify_all()
        self._start_watchdog()

    def _not_opened(self, why: str, sha: str, power_mw: float | None, ctx: dict) -> None:
        try:
            self._append(gate_record(False, self.clock(), why, action="not_opened", frame_sha256=sha,
                                     power_mw=power_mw, context=ctx))
        except EventLogError as exc:
            if self._shut:  # the session closed meanwhile: its log is gone, and the gate stays closed
                log.debug("the gate did not open (%s) while the session closed", why)
                return
            log.error("the gate did not open (%s), and its record could not be written: %s", why, exc)
            self._on_log_failure(f"log write failed: {exc}")

    # ----------------------------------------------------------------------------------------- closing
    def close(self, reason: str) -> float | None:
        """Close the line first, then log the ``gate`` close record; ``None`` (a no-op) when closed."""
        failure = None
        with self._cond:
            if not self._is_open:
                return None
            t, record = self._close_locked(reason)
            try:
                self._append(record)
            except EventLogError as exc:
                failure = f"log write failed: {exc}"
        if failure is not None:
            log.error("gate closed (%s), but its record could not be written: %s", reason, failure)
            self._on_log_failure(failure)
        self._emit(False, str(reason), t)
        return t

    def _close_locked(self, reason: str) -> tuple[float, dict]:
        """The line off (whatever happens), state closed; returns the time and the close record to log."""
        self._is_open = False
        try:
            self.daq.close_gate()
        except Exception:  # the DAQ closes the line itself on any error; the state here is closed
            log.exception("closing the laser gate failed (the DAQ forced it closed)")
        t = self._t_closed = self.clock()
        if self.duty is not None:
            self.duty.closed(t)
        record = gate_record(False, t, reason, frame_sha256=self._open_sha, power_mw=self._open_power)
        self._open_rec = self._open_sha = self._t_open = None
        self._cond.notify_all()
        return t, record

    def before_frame(self, kind: str) -> None:
        """A new frame is on its way to the SLM: close the gate, and no older frame may open it."""
        with self._cond:
            self._epoch += 1
            self._cond.notify_all()
        self.close(f"a new {kind} frame is coming")

    def block(self, reason: str) -> float | None:
        """Close now, and let nothing open until :meth:`unblock` (an abort: no opening may slip past it).

        The block is set under the gate's lock before the line closes, so an opening in progress either
        opened first (and this closes it) or sees the block and does not open.
        """
        with self._cond:
            self._blocked = str(reason) or "blocked"
            self._cond.notify_all()
        return self.close(reason)

    def unblock(self) -> None:
        """Undo :meth:`block` (the gate stays closed until something opens it)."""
        with self._cond:
            self._blocked = None

    def shut(self, reason: str) -> float | None:
        """The session is closing: close, and never open again."""
        self._shut = True
        return self.close(reason)

    def wake(self) -> None:
        """Something an opening waits for changed (a swap, the permit): look now."""
        with self._cond:
            self._cond.notify_all()

    # ----------------------------------------------------------------------------------------- the duty cycle
    def _start_watchdog(self) -> None:
        """Start the duty watchdog once (it lives as long as the gate is not shut)."""
        if self._watchdog is None and self.duty is not None and not self._shut:
            self._watchdog = threading.Thread(target=self._watch_duty, name="laser-gate-duty", daemon=True)
            self._watchdog.start()

    def _watch_duty(self) -> None:
        """Cut an open gate when the window's light reaches the limit; give the permit back once it fits.

        It sleeps until the budget could be spent (never longer than :data:`DUTY_POLL_S`): the budget of
        the window ending now is a lower bound of the time left, since the window's tail only drops
        light. Each decision is taken under the gate's lock, and told with none held.
        """
        duty = self.duty
        assert duty is not None
        while not self._shut:
            cut = restore = None
            with self._cond:
                now = self.clock()
                left = duty.budget_s(now)
                if self._is_open and left <= DUTY_LEAD_S:
                    cut = (f"duty cycle: the light reached the limit ({duty.describe()}); cut at "
                           f"{1e3 * duty.light_s(now - duty.window_s, now, now):.1f} ms")
                    t, record = self._close_locked(cut)
                    self._duty_wanted = duty.limit_s
                elif self._duty_wanted is not None and not self._is_open and left >= self._duty_wanted - 1e-9:
                    self._duty_wanted = None
                    restore = True
                else:
                    if self._is_open:
                        nap = min(DUTY_POLL_S, max(0.0, left - DUTY_LEAD_S))
                    elif self._duty_wanted is not None:
                        nap = min(DUTY_POLL_S, max(0.0, self._duty_wanted - left))
                    else:
                        nap = 0.1  # an opening notifies
                    self._cond.wait(nap)
                    continue
            if cut is not None:
                log.warning("laser gate: %s", cut)
                try:
                    self._append(record)
                except EventLogError as exc:
                    log.error("gate cut (%s), but its record could not be written: %s", cut, exc)
                    self._on_log_failure(f"log write failed: {exc}")
                self._emit(False, cut, t)
                self._on_duty(False, cut)
            if restore:
                self._on_duty(True, "")

    # ----------------------------------------------------------------------------------------- helpers
    def _append(self, record: dict) -> None:
        event_log = self._log()
        if event_log is None or event_log.closed:
            raise EventLogError("the session's log is not open")
        event_log.append(record)

    # ----------------------------------------------------------------------------------------- the session's
    def open_interactive(self, rec: FrameRecord, power_mw: float | None, frame_period_s: float,
                         context: dict | None = None) -> None:
        """After an interactive frame with light (a click, calibration): open as soon as it is ready.

        Only with :attr:`auto` and a DAQ. Waits on this thread (the frame's swap and settle, a few frames at
        most) unless this is the main thread and the frame has not swapped yet (an OpenGL panel, whose swap
        needs this thread's event loop): then a short-lived thread waits. A gate that cannot open says why
        in the log and the Python log; the frame stays shown with the gate closed.
        """
        if self.daq is None or not self.auto or self._shut:
            return
        power = power_mw if (self.daq.has_power_ao and self.daq.power_calibration is not None) else None
        deadline = self.clock() + self.settle_s(rec) + max(0.25, 10 * frame_period_s)
        ctx = {"mode": "interactive", **(context or {})}

        def run() -> None:
            try:
                self.open_when_ready(rec, power_mw=power, deadline=deadline, context=ctx)
            except HolostimError as exc:
                log.error("the laser gate did not open: %s", exc)
            except Exception:
                log.exception("the laser gate did not open")

        if rec.t_swapped is None and threading.current_thread() is threading.main_thread():
            threading.Thread(target=run, name="laser-gate-open", daemon=True).start()
        else:
            run()

    def swap_listener(self) -> Callable[[FrameRecord], None]:
        """An SLM frame listener: one ``swap_out`` pulse per real swap; a DAQ error closes the gate.

        It runs on the display's thread, which must never see a DAQ error: it is logged and the gate
        closed (the DAQ has already forced its line closed).
        """

        def on_swap(rec: FrameRecord) -> None:
            daq = self.daq
            if daq is None:
                return
            try:
                daq.swap_out()
            except Exception as exc:
                log.error("swap_out pulse failed: %s", exc)
                try:
                    self.close(f"swap_out failed: {exc}")
                except Exception:
                    log.exception("closing the laser gate after a swap_out failure failed")
            self.wake()

        return on_swap
