"""The protocol dock: make, edit, load and save a stimulation protocol, run it, and watch it run.

A run is :class:`holostim.protocol.runner.ProtocolRun` on its own thread: it prepares every pattern (a
progress bar; a refused pattern is shown here and nothing runs), then runs the steps, which block for
the length of the protocol. The runner and the session call back from that thread (and the gate from
whichever thread closed it); every callback is forwarded to the GUI thread by a queued signal, as the
window forwards the session's permit. The widgets never hold up the run: nothing here waits for the
GUI, and the GUI never waits for the run except when the window closes, where the run is aborted
first (the gate closes from the GUI thread at once) and then joined, so the session is never closed
under a running protocol.

While a run is on, the SLM is the protocol's: :attr:`ProtocolDock.runningChanged` tells the window,
which stops sending targets until the run ends (see :mod:`holostim.gui.run_lock`); the camera view
highlights the pattern that is on (:attr:`ProtocolDock.highlightChanged`). The gate light follows the
session's ``"gate"`` event, the laser gate line itself, not the runner's idea of it.

A **closed-loop** protocol file (a ``closed_loop`` section instead of a schedule) is loaded as it is —
the editor edits schedules, and an edit there puts the editor's schedule back in charge — and Run runs
it as a :class:`~holostim.protocol.closed_loop.run.ClosedLoopRun` on its own thread: prepared there,
then :attr:`ProtocolDock.closedLoopStarted` hands the prepared run to the window (on the GUI thread,
which attaches the traces dock to its listeners and shows it) before its first frame is read out, so
the traces start with the run. ROIs from a file (``rois.file``) are read here, above the protocol.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from holostim.errors import HolostimError
from holostim.gui.protocol_editor import ProtocolEditor
from holostim.protocol.closed_loop.run import ClosedLoopRun
from holostim.protocol.model import ProtocolConfig, load_protocol, planned_total_ms
from holostim.protocol.runner import ProtocolAborted, ProtocolRefused, ProtocolRun

log = logging.getLogger(__name__)

NO_DAQ = ("this session has no daq section: the laser gate needs one (add daq: {backend: simulated} "
          "to the session file for the simulated rig)")
"""What the dock says, with Run disabled, for a session without a DAQ."""
TICK_MS = 200
"""The time left counts down between the runner's reports at this interval (display only)."""
JOIN_TIMEOUT_S = 60.0
"""How long closing the window waits for an aborted run to write its end record."""
ATTACH_TIMEOUT_S = 10.0
"""How long a prepared closed loop waits for the window to attach its traces before it runs anyway."""
GATE_OPEN_STYLE = "background:#f9a825;color:black;font-weight:bold;padding:6px;border-radius:4px;"
GATE_CLOSED_STYLE = "background:#37474f;color:white;font-weight:bold;padding:6px;border-radius:4px;"
ERROR_STYLE = "color:#c62828;font-weight:bold;"
OK_STYLE = "color:#9e9e9e;"


class GateLight(QLabel):
    """GATE OPEN (amber: light may be on the sample) or GATE CLOSED: reason; remembers what it showed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.is_open = False
        self.history: list[str] = []
        """Every text shown, in order (the tests read what a person would have seen)."""
        self.set_state(False, "no run yet")

    def set_state(self, is_open: bool, reason: str = "") -> None:
        """Show the gate line's state (``reason``: why it closed, or what opened it)."""
        self.is_open = bool(is_open)
        text = "GATE OPEN" if is_open else ("GATE CLOSED: " + reason if reason else "GATE CLOSED")
        self.setStyleSheet(GATE_OPEN_STYLE if is_open else GATE_CLOSED_STYLE)
        self.setText(text)
        self.setToolTip(f"{text}\n(the laser gate line: shutter / Pockels enable)"
                        + (f"\n{reason}" if is_open and reason else ""))
        if not self.history or self.history[-1] != text:
            self.history.append(text)


class ProtocolDock(QWidget):
    """The protocol editor, Load/Save, Run/Pause/Abort, live progress and the gate light."""

    runningChanged = pyqtSignal(bool)
    """A run started (True, before its thread starts: the window stops sending) or ended (False)."""
    highlightChanged = pyqtSignal(object)
    """The targets of the pattern on now (a tuple; empty between steps and after the run)."""
    patternShown = pyqtSignal(object)
    """The :class:`~holostim.session.prepared.PreparedPattern` a step just put on the SLM."""
    message = pyqtSignal(str, bool)
    """(text, error) for the window's status bar."""

    _gate = pyqtSignal(bool, str)
    _progressed = pyqtSignal(object)
    _stepped = pyqtSignal(object, object)
    _ended = pyqtSignal(str, str)
    _preparing = pyqtSignal(int, int, str)
    _failed = pyqtSignal(str, bool)
    closedLoopStarted = pyqtSignal(object)
    """A closed loop is prepared and about to run (its ROIs known): the window attaches its traces."""
    _closed_ready = pyqtSignal(object)
    _acted = pyqtSignal(object)

    def __init__(self, store: Any, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.store = store
        self.clock = clock
        """What the time-left countdown reads (display only; the run keeps its own clock)."""
        self._left_at: tuple[float, float] | None = None  # (time left told, clock() when told)
        self.session: Any = None
        self.path: Path | None = None
        """The file last loaded or saved (the run's ``source`` while the editor still matches it)."""
        self.current_run: ProtocolRun | ClosedLoopRun | None = None
        self.closed_loop: ProtocolConfig | None = None
        """A loaded closed-loop protocol, which Run runs (``None``: the editor's schedule)."""
        self._attached = threading.Event()
        self.imported_rois: Callable[[], list[Any]] | None = None
        """The window's imported ROI outlines now (:class:`~holostim.gui.roi_overlay.ShownRoi`, camera px):
        what ``rois: {source: imported}`` reads out."""
        self.state = "idle"
        self.states: list[str] = []
        """Every state the dock showed, in order."""
        self._thread: threading.Thread | None = None
        self._active = False
        self._dirty = False
        self._remove_gate_listener: Any = None

        self.editor = ProtocolEditor()
        self.load_button = QPushButton("Load…")
        self.save_button = QPushButton("Save…")
        self.file_label = QLabel("not saved")
        self.file_label.setStyleSheet(OK_STYLE)
        self.check_label = QLabel("")
        self.check_label.setWordWrap(True)
        self.check_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_button = QPushButton("Run")
        self.pause_button = QPushButton("Pause")
        self.abort_button = QPushButton("Abort")
        self.abort_button.setStyleSheet("font-weight:bold;")
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m")
        self.state_label = QLabel("idle")
        self.step_label = QLabel("–")
        self.trial_label = QLabel("–")
        self.pattern_label = QLabel("–")
        self.time_left_label = QLabel("–")
        self.gate_light = GateLight()
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(TICK_MS)
        self._tick_timer.timeout.connect(self.tick)

        files = QHBoxLayout()
        files.addWidget(self.load_button)
        files.addWidget(self.save_button)
        files.addWidget(self.file_label, 1)
        controls = QHBoxLayout()
        controls.addWidget(self.run_button)
        controls.addWidget(self.pause_button)
        controls.addWidget(self.abort_button)
        live = QGridLayout()
        for row, (name, label) in enumerate((("state", self.state_label), ("step", self.step_label),
                                             ("trial", self.trial_label), ("pattern", self.pattern_label),
                                             ("time left", self.time_left_label))):
            live.addWidget(QLabel(name), row // 2, 2 * (row % 2))
            live.addWidget(label, row // 2, 2 * (row % 2) + 1)

        # The run's controls and state stay in view however small the dock is; the editor scrolls.
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.gate_light)
        lay.addLayout(controls)
        lay.addWidget(self.progress_bar)
        lay.addLayout(live)
        lay.addWidget(self.check_label)
        lay.addLayout(files)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.editor)
        lay.addWidget(scroll, 1)

        self.load_button.clicked.connect(self.load_dialog)
        self.save_button.clicked.connect(self.save_dialog)
        self.editor.groups_button.clicked.connect(self.patterns_from_groups)
        self.editor.edited.connect(self._edited)
        self.run_button.clicked.connect(self.run)
        self.pause_button.clicked.connect(self.pause_or_resume)
        self.abort_button.clicked.connect(lambda: self.abort("the user pressed Abort"))
        self._gate.connect(self.gate_light.set_state)
        self._progressed.connect(self._show_progress)
        self._stepped.connect(self._show_step)
        self._ended.connect(self._finish)
        self._preparing.connect(self._show_preparing)
        self._failed.connect(self._not_started)
        self._closed_ready.connect(self._closed_loop_ready)
        self._acted.connect(self._show_action)
        self._update_buttons()
        self._check()

    # ========================================================================================== session
    def attach(self, session: Any) -> None:
        """Work with ``session``: its gate light, and Run only where it has a DAQ to gate the laser."""
        self.session = session
        if getattr(session, "daq", None) is None:
            self.gate_light.set_state(False, "no DAQ")
        else:
            self._remove_gate_listener = session.add_listener(
                "gate", lambda is_open, reason, _t=None: self._gate.emit(bool(is_open), str(reason)))
            self.gate_light.set_state(bool(session.laser_gate.is_open), "")
        self._update_buttons()
        self._check()

    def detach(self) -> None:
        """Before the session closes: abort a run (gate closed first), wait for it, stop listening."""
        self.stop_run("the window is closing")
        if self._remove_gate_listener is not None:
            self._remove_gate_listener()
            self._remove_gate_listener = None
        self.session = None
        self._update_buttons()

    @property
    def has_daq(self) -> bool:
        """Whether the session has the DAQ a protocol needs (its laser gate)."""
        return self.session is not None and getattr(self.session, "daq", None) is not None

    @property
    def running(self) -> bool:
        """A run is being prepared or run."""
        return self._active

    # =========================================================================================== editing
    def _edited(self) -> None:
        self._dirty = True
        if self.closed_loop is not None:  # an edit puts the editor's schedule back in charge
            self.closed_loop = None
            self.file_label.setText("not saved")
        self._check()

    def _check(self) -> None:
        """Say whether the protocol is valid (and how long it runs) or what is wrong with it."""
        if self.session is not None and not self.has_daq:
            self._say(NO_DAQ, error=True)
            return
        if self.closed_loop is not None:
            cl = self.closed_loop.closed_loop
            rois = {"file": f"ROIs of {cl.rois.file.name}" if cl.rois.file is not None else "",
                    "imported": "the imported ROIs", "targets": "ROIs on the targets"}[cl.rois.kind]
            self._say(f"closed loop: {len(cl.rules)} rules on {rois}, {cl.duration_ms / 1e3:.1f} s; "
                      "Run starts it (traces in View ▸ Traces)", error=False)
            return
        try:
            p = self.editor.protocol()
        except HolostimError as exc:
            self._say(str(exc), error=True)
            return
        s = p.schedule
        n = len(s.steps) * s.repetitions
        unused = p.unused_patterns()  # worth saying: perhaps a step names the wrong pattern
        note = f"; no step shows {', '.join(map(repr, unused))}" if unused else ""
        self._say(f"{n} steps ({len(s.steps)} × {s.repetitions}), {planned_total_ms(s) / 1e3:.1f} s planned, "
                  f"trigger {s.trigger}{note}", error=False)

    def _say(self, text: str, error: bool) -> None:
        self.check_label.setText(text)
        self.check_label.setToolTip(text)
        self.check_label.setStyleSheet(ERROR_STYLE if error else OK_STYLE)

    @property
    def error_text(self) -> str:
        """The one line the dock shows under the editor (a problem, or the protocol's summary)."""
        return self.check_label.text()

    def patterns_from_groups(self) -> None:
        """One pattern per group of the current targets (the button)."""
        try:
            names = self.editor.patterns_from_groups(self.store.targets)
        except HolostimError as exc:
            self._say(str(exc), error=True)
            return
        self.message.emit(f"{len(names)} patterns from the target groups: {', '.join(names)}", False)

    def load(self, path: str | Path) -> bool:
        """Read a protocol file into the editor; a bad file is one line here and the editor keeps its own."""
        try:
            protocol = load_protocol(path)
        except (HolostimError, OSError) as exc:
            self._say(str(exc), error=True)
            return False
        if protocol.closed_loop is not None:  # run as it is; the editor edits schedules only
            self.closed_loop = protocol
            self.path, self._dirty = Path(path), False
            self.file_label.setText(f"{Path(path).name} (closed loop)")
            self.file_label.setToolTip(str(path))
            self._check()
            self.message.emit(f"loaded closed-loop protocol {protocol.name!r} from {Path(path).name}", False)
            return True
        self.closed_loop = None
        self.editor.set_protocol(protocol)
        self.path, self._dirty = Path(path), False
        self.file_label.setText(Path(path).name)
        self.file_label.setToolTip(str(path))
        self.message.emit(f"loaded protocol {protocol.name!r} from {Path(path).name}", False)
        return True

    def save(self, path: str | Path) -> Path | None:
        """Write the editor's protocol to ``path``; an invalid protocol or a failed write is one line."""
        try:
            out = self.editor.protocol().save(path)
        except (HolostimError, OSError) as exc:
            self._say(str(exc), error=True)
            return None
        out = Path(out) if out is not None else Path(path)
        self.path, self._dirty = out, False
        self.file_label.setText(out.name)
        self.file_label.setToolTip(str(out))
        self.message.emit(f"saved protocol to {out}", False)
        return out

    def load_dialog(self) -> None:
        """Ask for a protocol file and load it."""
        path, _ = QFileDialog.getOpenFileName(self, "Load protocol", "", "Protocol (*.yaml *.yml)")
        if path:
            self.load(path)

    def save_dialog(self) -> None:
        """Ask for a file and save the protocol there (``.yaml`` added to a bare name)."""
        path, _ = QFileDialog.getSaveFileName(self, "Save protocol", "", "Protocol (*.yaml *.yml)")
        if path:
            self.save(path if Path(path).suffix else path + ".yaml")

    # ============================================================================================ running
    def run(self) -> None:
        """Prepare and run the editor's protocol on the current targets (on its own thread)."""
        if self._active or self.session is None:
            return
        if not self.has_daq:
            self._say(NO_DAQ, error=True)
            return
        if self.closed_loop is not None:
            self._run_closed_loop(self.closed_loop)
            return
        try:
            protocol = self.editor.protocol()
            # Patterns from groups select from the live targets: the session gets the table's set, refused
            # targets too, so a pattern holding one is refused by name rather than lit without it.
            self.session.targets = list(self.store.targets)
            run = ProtocolRun(self.session, protocol, source=None if self._dirty else self.path)
        except HolostimError as exc:
            self._say(str(exc), error=True)
            return
        run.add_listener("progress", self._progressed.emit)
        # The runner's StepTimes is filled in as the step goes on, and the GUI thread may handle this
        # event after the step ended: whether it was the step's start is read here, on the run's thread.
        run.add_listener("step", lambda times, prepared: self._stepped.emit(
            (not times.done, times.pattern), prepared))
        run.add_listener("end", self._ended.emit)
        self.current_run = run
        self._active = True
        self._set_state("preparing")
        self.progress_bar.setRange(0, len(protocol.used_patterns()))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("computing patterns %v / %m")
        self._say(f"preparing {len(protocol.used_patterns())} patterns…", error=False)
        self._left_at = None
        for label in (self.step_label, self.trial_label, self.pattern_label, self.time_left_label):
            label.setText("–")
        self._tick_timer.start()
        self._update_buttons()
        self.runningChanged.emit(True)  # direct: the window stops sending before the run owns the SLM
        # The targets' light (the gate the last click opened) goes off now, not at the first step: the
        # send worker has stopped, so no interactive opening is pending behind this close.
        self.session.laser_gate.close("a protocol run starts")
        self._thread = threading.Thread(target=self._work, args=(run,), name="protocol-run", daemon=True)
        self._thread.start()

    def _prepare(self, prepare: Callable[[], object], what: str) -> bool:
        """Run ``prepare()`` on the run's thread; a failure is reported to the dock (``False``).

        A refusal (a pattern the gate would not pass) is shown as one; any other error too, with its
        traceback in the log. A failed preparation lit nothing. An abort passes through to the caller.
        """
        try:
            prepare()
        except ProtocolRefused as exc:
            self._failed.emit(str(exc), True)
            return False
        except ProtocolAborted:
            raise
        except HolostimError as exc:
            self._failed.emit(str(exc), False)
            return False
        except Exception as exc:  # shown in the dock; a failed preparation lit nothing
            log.exception("preparing %s failed", what)
            self._failed.emit(f"{type(exc).__name__}: {exc}", False)
            return False
        return True

    def _work(self, run: ProtocolRun) -> None:
        """The run's thread: prepare (abortable between patterns), then run; always ends with _ended."""
        def progress(done: int, total: int, what: str) -> None:
            if run.abort_reason is not None:
                raise ProtocolAborted(run.abort_reason)
            self._preparing.emit(int(done), int(total), str(what))

        try:
            prepared = self._prepare(lambda: run.prepare(progress=progress), "the protocol")
        except ProtocolAborted as exc:
            self._ended.emit("aborted", str(exc))
            return
        if not prepared:
            return
        if run.abort_reason is not None:
            self._ended.emit("aborted", run.abort_reason)
            return
        try:
            run.run()
        except Exception:  # the runner closed the gate and wrote the end record; its "end" said why
            log.exception("the protocol run ended with an error")
        self._ended.emit(*(run.outcome or ("aborted", "the run ended without an outcome")))

    # ======================================================================================= closed loop
    def _run_closed_loop(self, protocol: ProtocolConfig) -> None:
        """Prepare and run a closed-loop protocol on the current targets (on its own thread)."""
        try:
            self.session.targets = list(self.store.targets)
            masks = None
            rois = protocol.closed_loop.rois  # type: ignore[union-attr]
            shape = tuple(self.session.camera.shape)
            if rois.kind == "file":  # the protocol takes masks; the GUI reads the analysis's file
                from holostim.interop.masks import masks_from_file

                masks = masks_from_file(rois.file, shape, format=rois.format, registration=rois.registration)
            elif rois.kind == "imported":  # the outlines the camera view shows, as the user sees them
                from holostim.interop.masks import polygon_mask

                shown = self.imported_rois() if self.imported_rois is not None else []
                if not shown:
                    self._say("rois: {source: imported} reads the imported ROIs: import them first "
                              "(Targets → Import ROIs…)", error=True)
                    return
                masks = {int(r.target_id): polygon_mask(r.outline, shape) for r in shown}
            run = ClosedLoopRun(self.session, protocol, source=self.path, masks=masks)
        except (HolostimError, OSError) as exc:
            self._say(str(exc), error=True)
            return
        run.add_listener("end", self._ended.emit)
        run.add_listener("action", self._acted.emit)
        self.current_run = run
        self._attached.clear()
        self._active = True
        self._set_state("preparing")
        self.progress_bar.setRange(0, 0)  # busy: a closed loop has no steps to count
        self.progress_bar.setFormat("closed loop")
        self._say(f"preparing the closed loop {protocol.name!r}…", error=False)
        self._left_at = None
        for label in (self.step_label, self.trial_label, self.pattern_label, self.time_left_label):
            label.setText("–")
        self._tick_timer.start()
        self._update_buttons()
        self.runningChanged.emit(True)
        self.session.laser_gate.close("a closed-loop run starts")
        self._thread = threading.Thread(target=self._work_closed_loop, args=(run,), name="closed-loop-run",
                                        daemon=True)
        self._thread.start()

    def _work_closed_loop(self, run: ClosedLoopRun) -> None:
        """The run's thread: prepare, let the window attach its traces, run; always ends with _ended."""
        if not self._prepare(run.prepare, "the closed loop"):
            return
        self._closed_ready.emit(run)
        if not self._attached.wait(ATTACH_TIMEOUT_S):
            log.warning("the window did not attach the traces within %.0f s; the closed loop runs",
                        ATTACH_TIMEOUT_S)
        try:
            run.run()  # aborted meanwhile: it ends at once, logged, with the abort's reason
        except Exception:  # the run closed the gate and wrote the end record; its "end" said why
            log.exception("the closed loop ended with an error")
        if run.outcome is None:
            self._ended.emit("aborted", "the run ended without an outcome")

    def _closed_loop_ready(self, run: ClosedLoopRun) -> None:
        """On the GUI thread: the window follows the prepared run, then the run may start."""
        try:
            if self._active and run is self.current_run:
                self.closedLoopStarted.emit(run)
                self._set_state("running")
                self._say(f"closed loop {run.protocol.name!r} running on {len(run.rois)} ROIs; Abort stops "
                          "it", error=False)
                self._left_at = (run.spec.duration_ms / 1e3, self.clock())
                self.step_label.setText("0 actions")
                self.tick()
        finally:
            self._attached.set()

    def _show_action(self, action: Any) -> None:
        run = self.current_run
        if not self._active or not isinstance(run, ClosedLoopRun):
            return
        lit = sum(a.outcome == "shown" for a in run.actions)
        self.step_label.setText(f"{len(run.actions)} actions, {lit} lit")
        self.pattern_label.setText(f"{action.decision.rule}: {action.outcome}")

    # ============================================================================================ control
    def pause_or_resume(self) -> None:
        """Pause the run before its next step, or resume it (a closed loop does not pause: abort it)."""
        run = self.current_run
        if not self._active or run is None or isinstance(run, ClosedLoopRun):
            return
        if run.paused:
            run.resume()
            self.pause_button.setText("Pause")
        else:
            run.pause()
            self.pause_button.setText("Resume")
            self._set_state("pausing")

    def abort(self, reason: str = "aborted") -> None:
        """Abort the run: the gate closes now, from this thread; the run then writes its end record."""
        run = self.current_run
        if self._active and run is not None:
            run.abort(reason)
            self._set_state("aborting")

    def stop_run(self, reason: str, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        """Abort a run and wait for its thread (the window closes after this)."""
        run, th = self.current_run, self._thread
        if run is not None and th is not None and th.is_alive():
            run.abort(reason)
            self._attached.set()  # a closed loop waiting for its traces goes on to its (aborted) end
            th.join(timeout_s)
            if th.is_alive():
                log.error("the protocol run did not end within %.0f s of its abort", timeout_s)
        if self._active:
            self._finish(*((run.outcome if run is not None else None) or ("aborted", reason)))

    # ============================================================================================ display
    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_label.setText(state)
        if not self.states or self.states[-1] != state:
            self.states.append(state)

    def _update_buttons(self) -> None:
        active = self._active
        self.run_button.setEnabled(not active and self.has_daq)
        self.run_button.setToolTip(NO_DAQ if self.session is not None and not self.has_daq
                                   else "compute every pattern, then run the schedule")
        self.pause_button.setEnabled(active and not isinstance(self.current_run, ClosedLoopRun))
        self.abort_button.setEnabled(active)
        for w in (self.editor, self.load_button):
            w.setEnabled(not active)
        if not active:
            self.pause_button.setText("Pause")

    def _show_preparing(self, done: int, total: int, what: str) -> None:
        if not self._active:
            return
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.pattern_label.setText(what)

    def _show_progress(self, p: Any) -> None:
        if not self._active:
            return
        if p.state == "ready":
            self.progress_bar.setFormat("%v / %m steps done")
        if p.state in ("preparing",):
            return
        self._set_state(p.state)
        if p.state in ("paused", "running", "waiting"):
            self.pause_button.setText("Resume" if p.state == "paused" else "Pause")
        self.progress_bar.setFormat("%v / %m steps done")
        self.progress_bar.setRange(0, max(p.total, 1))
        self.progress_bar.setValue(p.done)
        on = p.state in ("running", "waiting", "paused") and p.pattern is not None and p.done < p.total
        self.step_label.setText(f"{p.done + 1} / {p.total}" if on else f"{p.done} / {p.total} done")
        reps = self.current_run.protocol.schedule.repetitions if self.current_run is not None else None
        self.trial_label.setText("–" if p.trial is None else f"{p.trial + 1} / {reps}")
        if p.pattern is not None:
            self.pattern_label.setText(p.pattern)
        if p.time_left_s is not None:
            self._left_at = (float(p.time_left_s), self.clock())
            self.tick()
        if p.message:
            self._say(p.message, error=p.state == "aborted")

    def tick(self) -> None:
        """Count the time left down while steps run (it holds while paused or waiting for a trigger)."""
        if self._left_at is None:
            return
        left, told = self._left_at
        if self.state == "running":
            left = max(0.0, left - (self.clock() - told))
            self._left_at = (left, self.clock())
        self.time_left_label.setText(f"{left:.1f} s")

    def _show_step(self, event: tuple[bool, str], prepared: Any) -> None:
        if not self._active:
            return
        started, pattern = event
        if started:  # shown: its light is this pattern's until the step ends
            self.pattern_label.setText(pattern)
            self.highlightChanged.emit(tuple(prepared.result.targets))
            self.patternShown.emit(prepared)
        else:
            self.highlightChanged.emit(())

    def _not_started(self, reason: str, refused: bool) -> None:
        if not self._active:
            return
        self._say(reason, error=True)
        self._end_display("refused" if refused else "not started")
        self.message.emit(("protocol refused: " if refused else "protocol not started: ") + reason, True)

    def _finish(self, outcome: str, reason: str) -> None:
        if not self._active:
            return
        run = self.current_run
        if isinstance(run, ProtocolRun) and outcome == "completed":
            total = len(run.plan.steps)
            self.progress_bar.setRange(0, max(total, 1))
            self.progress_bar.setValue(total)
            self.step_label.setText(f"{total} / {total} done")
            self.time_left_label.setText("0.0 s")
        self._say(f"protocol {outcome}" + (f": {reason}" if reason else ""), error=outcome != "completed")
        self._end_display(outcome)
        self.message.emit(f"protocol {outcome}" + (f": {reason}" if reason else ""), outcome != "completed")

    def _end_display(self, state: str) -> None:
        self._active = False
        self._tick_timer.stop()
        self._set_state(state)
        self.highlightChanged.emit(())
        self._update_buttons()
        self.runningChanged.emit(False)
