"""The rig's main window: live camera with targets, table, previews, status, SLM control, session menu.

All physics and device work goes through the :class:`holostim.session.Session`; this window only
arranges widgets, moves data between them, and keeps heavy work off the GUI thread (see
:mod:`holostim.gui.workers`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QByteArray, QSettings, Qt, QThread, QTimer, QUrl, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QDesktopServices, QGuiApplication, QKeySequence
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from holostim.errors import HolostimError
from holostim.gui.camera_view import CameraView
from holostim.gui.previews import FocalPreview, MaskPreview
from holostim.gui.status import StatusPanel
from holostim.gui.target_files import load_targets, save_targets
from holostim.gui.target_store import TargetStore
from holostim.gui.target_table import TargetTable
from holostim.gui.workers import ComputeOutcome, ComputeRequest, ComputeWorker, FramePump
from holostim.hardware.slm.patterns import checkerboard, gray_ramp, orientation_marker

MAX_RECENT = 8
TEST_PATTERNS = {
    "gray ramp": gray_ramp,
    "checkerboard": checkerboard,
    "orientation marker": orientation_marker,
    "flat (zero phase)": lambda shape: np.zeros(shape, np.uint8),
}
METHODS = ("wgs", "gs", "wgs-kim", "raar")


def default_settings() -> QSettings:
    """Qt's standard per-user settings store for holostim (recent sessions, window layout)."""
    return QSettings("holostim", "holostim")


class _CalibrationThread(QThread):
    """Runs ``session.calibrate`` off the GUI thread and reports progress through signals."""

    progress = pyqtSignal(int, int, str)
    done = pyqtSignal(object)
    error = pyqtSignal(str)

    def __init__(self, session: Any, grid: int) -> None:
        super().__init__()
        self.session, self.grid = session, grid

    def run(self) -> None:  # noqa: D102 - QThread override
        try:
            cal = self.session.calibrate(
                grid=self.grid, progress=lambda d, t, w="": self.progress.emit(int(d), int(t), str(w))
            )
            self.done.emit(cal)
        except Exception as exc:  # reported in the GUI; a failed calibration must not crash it
            self.error.emit(str(exc) if isinstance(exc, HolostimError) else f"{type(exc).__name__}: {exc}")


class MainWindow(QMainWindow):
    """The holostim rig window around one open session (which it owns and closes).

    Parameters
    ----------
    session:
        An open :class:`holostim.session.Session`.
    settings:
        Where recent sessions and window layout are remembered (default: Qt's per-user store).
    session_opener:
        ``opener(path) -> Session`` used by *Open session* (default: ``Session.open``).
    """

    interlockChanged = pyqtSignal(bool, str)
    resultShown = pyqtSignal(object)
    """Emitted on the GUI thread with each ``ApplyResult`` that reached the SLM."""
    messageShown = pyqtSignal(str)

    def __init__(
        self,
        session: Any,
        *,
        settings: QSettings | None = None,
        session_opener: Callable[[str | Path], Any] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else default_settings()
        self._opener = session_opener
        self.session: Any = None
        self.worker: ComputeWorker | None = None
        self.pump: FramePump | None = None
        self.last_result: Any = None
        self.shown_count = 0
        self.last_message = ""
        self._last_sent: tuple | None = None
        self._unsent = False
        self._cal_thread: _CalibrationThread | None = None
        self._slm_window: Any = None

        self.store = TargetStore()
        self.camera_view = CameraView(self.store)
        self.setCentralWidget(self.camera_view)
        self.table = TargetTable(self.store)
        self.mask_preview = MaskPreview()
        self.focal_preview = FocalPreview()
        self.status_panel = StatusPanel()
        self._build_controls()
        self._build_docks()
        self._build_menus()
        self.statusBar().setStyleSheet("QStatusBar { font-size: 10pt; }")

        self.store.changed.connect(self._targets_changed)
        self.store.refused.connect(self._target_refused)
        self.interlockChanged.connect(self.status_panel.interlock.set_state)

        self.attach(session)
        self.restore_window_state()
        # The SLM calls back on changes; polling as well keeps the reason text current when only the
        # reason changes (e.g. "covered" after "no frame yet") and costs nothing.
        self._interlock_timer = QTimer(self)
        self._interlock_timer.timeout.connect(self._poll_interlock)
        self._interlock_timer.start(250)

    # =========================================================================================== setup
    def _build_controls(self) -> None:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.auto_check = QCheckBox("Auto send")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip("every change recomputes (warm start) and goes to the SLM (Ctrl+T)")
        self.auto_check.toggled.connect(self._auto_toggled)
        self.send_button = QPushButton("Send")
        self.send_button.setToolTip("compute the current targets and show them on the SLM (Ctrl+Return)")
        self.send_button.clicked.connect(self.send)
        self.send_button.setEnabled(False)
        self.snap_check = QCheckBox("Snap to soma")
        self.snap_check.setToolTip("move a new target to the intensity centroid under the click")
        self.snap_check.toggled.connect(self._snap_toggled)
        row.addWidget(self.auto_check)
        row.addWidget(self.snap_check)
        row.addStretch(1)
        row.addWidget(self.send_button)
        lay.addLayout(row)
        eng = QHBoxLayout()
        self.method_combo = QComboBox()
        self.method_combo.addItems(METHODS)
        self.method_combo.setToolTip("phase-retrieval algorithm")
        self.iter_spin = QSpinBox()
        self.iter_spin.setRange(1, 1000)
        self.iter_spin.setToolTip("iterations per pattern")
        self.method_combo.currentTextChanged.connect(self._engine_settings_changed)
        self.iter_spin.valueChanged.connect(self._engine_settings_changed)
        eng.addWidget(QLabel("method"))
        eng.addWidget(self.method_combo)
        eng.addWidget(QLabel("iterations"))
        eng.addWidget(self.iter_spin)
        eng.addStretch(1)
        lay.addLayout(eng)
        lay.addWidget(self.table, 1)
        self.targets_panel = w

        s = QGroupBox("SLM")
        form = QFormLayout(s)
        self.slm_label = QLabel("–")
        self.slm_label.setWordWrap(True)
        self.slm_window_check = QCheckBox("Show SLM window")
        self.slm_window_check.setToolTip("fullscreen OpenGL window on the chosen screen (Ctrl+W)")
        self.slm_window_check.toggled.connect(self.set_slm_window_visible)
        self.screen_combo = QComboBox()
        self.screen_combo.setToolTip("the SLM's screen: choosing one moves the SLM window there")
        self._fill_screens()
        self.screen_combo.activated.connect(self._screen_chosen)
        self.pattern_combo = QComboBox()
        self.pattern_combo.addItems(list(TEST_PATTERNS))
        self.pattern_button = QPushButton("Show pattern")
        self.pattern_button.setToolTip("show a test pattern on the SLM (targets are not sent meanwhile)")
        self.pattern_button.clicked.connect(self.show_test_pattern)
        form.addRow(self.slm_label)
        form.addRow(self.slm_window_check)
        form.addRow("screen", self.screen_combo)
        prow = QHBoxLayout()
        prow.addWidget(self.pattern_combo, 1)
        prow.addWidget(self.pattern_button)
        form.addRow("test", prow)
        self.slm_panel = s

    def _fill_screens(self) -> None:
        self.screen_combo.clear()
        for sc in QGuiApplication.screens():
            g = sc.geometry()
            self.screen_combo.addItem(f"{sc.name()} ({g.width()}×{g.height()}+{g.x()}+{g.y()})", sc.name())

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName("dock-" + title.lower().replace(" ", "-"))
        d.setWidget(widget)
        self.addDockWidget(area, d)
        return d

    def _build_docks(self) -> None:
        right, left = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.LeftDockWidgetArea
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.status_panel)
        sl.addWidget(self.slm_panel)
        sl.addStretch(1)
        self.status_dock = self._dock("Status", side, left)
        self.targets_dock = self._dock("Targets", self.targets_panel, left)
        self.mask_dock = self._dock("SLM mask", self.mask_preview, right)
        self.focal_dock = self._dock("Predicted focus", self.focal_preview, right)
        self.splitDockWidget(self.mask_dock, self.focal_dock, Qt.Orientation.Vertical)
        self.splitDockWidget(self.status_dock, self.targets_dock, Qt.Orientation.Vertical)
        self.resizeDocks([self.status_dock, self.mask_dock], [350, 330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.status_dock, self.targets_dock], [330, 520], Qt.Orientation.Vertical)

    def _action(self, menu, text: str, slot, shortcut: Any = None, checkable: bool = False) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.setCheckable(checkable)
        (a.toggled if checkable else a.triggered).connect(slot)
        menu.addAction(a)
        self.addAction(a)  # the shortcut works wherever the focus is in this window
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&Session")
        K = QKeySequence.StandardKey
        self._action(m, "&Open session…", self._open_session_dialog, K.Open)
        self.recent_menu = m.addMenu("Open &recent")
        self._action(m, "&Save session", self.save_session_current, K.Save)
        self._action(m, "Save session &as…", self._save_session_dialog, K.SaveAs)
        m.addSeparator()
        self._action(m, "&Load targets…", self._load_targets_dialog, "Ctrl+Shift+O")
        self._action(m, "Save &targets…", self._save_targets_dialog, "Ctrl+Shift+E")
        m.addSeparator()
        self._action(m, "Run &calibration…", self.run_calibration, "Ctrl+K")
        self._action(m, "Open &log folder", self.open_log_folder, "Ctrl+Shift+L")
        m.addSeparator()
        self._action(m, "&Quit", self.close, K.Quit)

        t = mb.addMenu("&Targets")
        self.send_action = self._action(t, "&Send to SLM", self.send, "Ctrl+Return")
        self.auto_action = self._action(t, "&Auto send", self.auto_check.setChecked, "Ctrl+T", checkable=True)
        self.auto_action.setChecked(True)
        self._action(t, "Select &all", self._select_all, K.SelectAll)
        self._action(t, "&Delete selected", self._delete_selected, K.Delete)
        self._action(t, "&Clear all", self.store.clear, "Ctrl+Shift+Delete")
        self.snap_action = self._action(
            t, "Snap to &soma", self.snap_check.setChecked, "Ctrl+J", checkable=True
        )

        v = mb.addMenu("&View")
        self._action(v, "&Auto levels", self.camera_view.auto_levels, "Ctrl+L")
        self._action(v, "&Fit image", self._fit_view, "Ctrl+0")
        v.addSeparator()
        for d in (self.status_dock, self.targets_dock, self.mask_dock, self.focal_dock):
            v.addAction(d.toggleViewAction())

        s = mb.addMenu("S&LM")
        self.slm_window_action = self._action(
            s, "Show SLM &window", self.slm_window_check.setChecked, "Ctrl+W", checkable=True
        )
        self._action(s, "Show test &pattern", self.show_test_pattern, "Ctrl+P")

        h = mb.addMenu("&Help")
        self._action(h, "&Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self._update_recent_menu()

    # ====================================================================================== session
    def attach(self, session: Any) -> None:
        """Drive ``session``: start its camera and workers, show its targets, calibration and settings."""
        self.session = session
        cfg = session.config
        self.store.set_check(self._check_target)
        self.worker = ComputeWorker(session)
        self.worker.finished.connect(self._on_outcome)
        self.worker.failed.connect(self._on_failed)
        self.worker.busyChanged.connect(self._busy_changed)
        session.add_listener("interlock", self._interlock_from_any_thread)
        slm = session.slm
        self.interlockChanged.emit(bool(slm.laser_permitted), str(getattr(slm, "interlock_reason", "")))
        camera = session.camera
        if camera is not None:
            if not getattr(camera, "is_streaming", False):
                camera.start()
            self.pump = FramePump(camera)
            self.pump.frameReady.connect(self._show_frame)
            self.pump.failed.connect(lambda reason: self.show_message(reason, error=True))
        self._show_engine_settings(cfg)
        self.status_panel.set_backend(self._backend_text())
        self.slm_label.setText(self._slm_text())
        is_gl = getattr(cfg.slm, "backend", "") == "opengl"
        self.slm_window_check.setEnabled(is_gl)
        self.slm_window_check.blockSignals(True)
        self.slm_window_check.setChecked(is_gl)
        self.slm_window_check.blockSignals(False)
        self._select_screen(getattr(cfg.slm, "screen", None))
        self.screen_combo.setEnabled(is_gl)
        self.update_overlays()
        self._last_sent = ()  # an empty target set needs no pattern: nothing is shown until a target is
        self.store.set_targets(list(session.targets))
        path = getattr(session, "path", None)
        self.setWindowTitle(f"holostim — {cfg.name}" + (f" ({Path(path).name})" if path else ""))
        if path:
            self._remember_recent(path)

    def _interlock_from_any_thread(self, permitted: bool, reason: str = "") -> None:
        # The SLM's watchdog calls this from its own thread; the signal queues it to the GUI thread.
        self.interlockChanged.emit(bool(permitted), str(reason))

    def _poll_interlock(self) -> None:
        slm = getattr(self.session, "slm", None)
        state = getattr(slm, "interlock_state", None)
        if callable(state):
            permitted, reason = state()
            ind = self.status_panel.interlock
            if bool(permitted) != ind.permitted or (not permitted and str(reason) != ind.reason):
                ind.set_state(bool(permitted), str(reason))

    def detach(self) -> None:
        """Stop the workers and camera and close the session."""
        if self.pump is not None:
            self.pump.frameReady.disconnect()
            self.pump.stop()
            self.pump = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.session is not None:
            cam = self.session.camera
            if cam is not None and getattr(cam, "is_streaming", False):
                cam.stop()
            self.session.close()
            self.session = None

    def open_session(self, path: str | Path) -> None:
        """Close the current session and open ``path`` in this window."""
        opener = self._opener
        if opener is None:
            from holostim.session import Session

            opener = Session.open
        try:
            new = opener(path)
        except HolostimError as exc:
            self.show_message(f"cannot open {path}: {exc}", error=True)
            return
        self.detach()
        self.attach(new)
        self.show_message(f"opened session {path}")

    def save_session(self, path: str | Path) -> Path:
        """Write the session YAML with the current targets and engine settings to ``path``."""
        self.session.targets = list(self.store.targets)
        out = self.session.save(path)
        out = Path(out) if out is not None else Path(path)
        self._remember_recent(out)
        self.show_message(f"saved session to {out}")
        return out

    def save_session_current(self) -> None:
        """Save to the file the session came from (asks for one when there is none)."""
        path = getattr(self.session, "path", None)
        if path:
            self.save_session(path)
        else:
            self._save_session_dialog()

    def _check_target(self, x: float, y: float) -> str | None:
        return self.session.check_target(x, y) if self.session is not None else None

    def _backend_text(self) -> str:
        eng = self.session.engine
        backend = getattr(eng, "backend", None)
        desc = backend.describe() if hasattr(backend, "describe") else str(backend)
        precision = str(getattr(eng, "precision", None) or self.session.config.engine.precision)
        return desc if precision in desc else f"{desc}, {precision}"

    def _slm_text(self) -> str:
        c = self.session.config.slm
        return (f"{c.backend} SLM {c.shape[1]}×{c.shape[0]}, {c.pitch_um:g} µm pitch, "
                f"λ = {c.wavelength_um:g} µm")

    def _show_engine_settings(self, cfg: Any) -> None:
        for w in (self.method_combo, self.iter_spin):
            w.blockSignals(True)
        self.method_combo.setCurrentText(cfg.engine.method)
        self.iter_spin.setValue(int(cfg.engine.iterations))
        for w in (self.method_combo, self.iter_spin):
            w.blockSignals(False)

    def _engine_settings_changed(self, *_: Any) -> None:
        # The session reads config.engine at every compute, so a validated copy takes effect at once
        # and is what Save session writes.
        cfg = self.session.config
        engine = cfg.engine.model_validate(
            {**cfg.engine.model_dump(), "method": self.method_combo.currentText(),
             "iterations": self.iter_spin.value()}
        )
        self.session.config = cfg.model_copy(update={"engine": engine})
        self._last_sent = None
        self._targets_changed()

    # ====================================================================================== targets
    def update_overlays(self) -> None:
        """Draw the addressable field and zero-order exclusion from the current calibration."""
        cal = getattr(self.session, "calibration", None)
        if cal is None:
            self.camera_view.set_field_outline(None)
            self.camera_view.set_zero_order(None)
            return
        cfg = self.session.config
        self.camera_view.set_field_outline(cal.field_outline_camera())
        r = float(cfg.calibration.zero_order_radius_px) * cal.scale_camera_per_slm()
        # a blaze moves the zero order off the grid centre: the session knows where it is
        zero = cal.slm_to_camera(np.asarray(self.session.zero_order_slm, float).reshape(1, 2))[0]
        self.camera_view.set_zero_order((float(zero[0]), float(zero[1])), r)

    def _target_refused(self, x: float, y: float, reason: str) -> None:
        self.show_message(f"target at ({x:.1f}, {y:.1f}) refused: {reason}", error=True)

    def _targets_changed(self) -> None:
        if self.session is None or self.worker is None:
            return
        accepted = tuple(self.store.accepted())
        if self.auto_check.isChecked():
            if accepted != self._last_sent:
                self._submit(accepted, show=True)
        else:
            self._unsent = accepted != self._last_sent
            self.send_button.setEnabled(self._unsent)
            if self._unsent and accepted:
                self._submit(accepted, show=False)  # preview only; Send puts it on the SLM

    def _submit(self, targets: tuple, show: bool) -> None:
        if self.worker is None:
            return
        if show:
            self._last_sent = targets
        self.worker.submit(list(targets), show=show, preview=not self.focal_dock.isHidden(),
                           request_time=time.monotonic())

    def send(self) -> None:
        """Compute the current (accepted) targets and show them on the SLM."""
        accepted = tuple(self.store.accepted())
        self._submit(accepted, show=True)
        self._unsent = False
        self.send_button.setEnabled(False)

    def shortcut_table(self) -> list[tuple[str, str]]:
        """(action, key) for every action with a shortcut, plus the mouse gestures of the camera view."""
        rows = [(a.text().replace("&", ""), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
                for a in self.actions() if not a.shortcut().isEmpty()]
        rows += [
            ("Add target", "left click on the image"),
            ("Select / add to selection", "click a marker / Ctrl+click"),
            ("Select several", "Shift+drag a rectangle"),
            ("Move targets", "drag a marker"),
            ("Remove target", "right click a marker, or Delete"),
            ("Pan / zoom", "drag the image / mouse wheel"),
        ]
        return rows

    def show_shortcuts(self) -> None:
        """A dialog listing the keyboard shortcuts and mouse gestures."""
        html = "<table cellspacing='6'>" + "".join(
            f"<tr><td>{name}</td><td><b>{key}</b></td></tr>" for name, key in self.shortcut_table()
        ) + "</table>"
        QMessageBox.information(self, "holostim shortcuts", html)

    def _select_all(self) -> None:
        self.store.set_selection(range(len(self.store)))

    def _delete_selected(self) -> None:
        if self.store.selection:
            self.store.remove(self.store.selection)

    def _auto_toggled(self, on: bool) -> None:
        self.auto_action.blockSignals(True)
        self.auto_action.setChecked(on)
        self.auto_action.blockSignals(False)
        self.send_button.setEnabled(not on and tuple(self.store.accepted()) != self._last_sent)
        if on:
            self._targets_changed()

    def _snap_toggled(self, on: bool) -> None:
        self.camera_view.snap_enabled = on
        self.snap_action.blockSignals(True)
        self.snap_action.setChecked(on)
        self.snap_action.blockSignals(False)

    # ====================================================================================== results
    def _on_outcome(self, outcome: ComputeOutcome) -> None:
        r = outcome.result
        self.mask_preview.set_frame(outcome.frame)
        if outcome.predicted is not None:
            self.focal_preview.set_intensity(outcome.predicted)
        if outcome.shown:
            self.last_result = r
            self.shown_count += 1
            self.status_panel.set_result(r)
            c2s = getattr(r, "click_to_swap_ms", None)
            lat = "" if c2s is None else f", click→swap {c2s:.0f} ms"
            if not r.targets:
                self.show_message("no targets: the SLM shows a flat phase (light stays in the zero order)")
            else:
                m = r.metrics
                self.show_message(
                    f"sent {len(r.targets)} spots: efficiency {100 * float(m.efficiency):.0f} %, "
                    f"uniformity {100 * float(m.uniformity):.0f} %{lat}"
                )
            self.resultShown.emit(r)
        else:
            self.show_message(f"preview of {len(r.targets)} spots ready; press Send (Ctrl+Return)")

    def _on_failed(self, request: ComputeRequest, reason: str) -> None:
        if request.show:
            self._last_sent = None  # nothing new reached the SLM
        self.show_message(f"pattern refused: {reason}", error=True)

    def _busy_changed(self, busy: bool) -> None:
        self.status_panel.values["compute_ms"].setStyleSheet(
            "font-family: monospace;" + ("color:#d08000;" if busy else "")
        )

    def _show_frame(self, frame: Any, counter: int) -> None:
        try:
            self.camera_view.set_frame(frame, counter)
        finally:  # even a frame that failed to draw must not stop the next ones
            if self.pump is not None:
                self.pump.ack()

    def show_message(self, text: str, error: bool = False) -> None:
        """Status-bar message (red for refusals and errors); also kept in :attr:`last_message`."""
        self.last_message = text
        self.statusBar().setStyleSheet("QStatusBar { color: #c62828; font-weight: bold; }" if error else "")
        self.statusBar().showMessage(text, 0 if error else 8000)
        self.messageShown.emit(text)

    # ====================================================================================== SLM
    def set_slm_window_visible(self, visible: bool) -> None:
        """Show or hide the fullscreen SLM window (OpenGL SLM only)."""
        window = getattr(self.session.slm, "window", None)
        if window is None:
            self.show_message("this SLM has no window to show (simulated SLM)", error=True)
            return
        if not visible:
            window.hide()
        elif getattr(window, "_fullscreen", True):
            window.showFullScreen()
        else:
            window.show()
        self.slm_window_action.blockSignals(True)
        self.slm_window_action.setChecked(visible)
        self.slm_window_action.blockSignals(False)

    def _screen_chosen(self, index: int) -> None:
        name = self.screen_combo.itemData(index)
        if not name or name == self.session.config.slm.screen:
            return
        try:
            self.session.set_slm_screen(name)
        except HolostimError as exc:
            self._select_screen(self.session.config.slm.screen)
            self.show_message(f"SLM stays where it was: {exc}", error=True)
            return
        self.show_message(f"SLM window moved to screen {name}")

    def _select_screen(self, name: str | None) -> None:
        if name:
            i = self.screen_combo.findData(name)
            if i >= 0:
                self.screen_combo.setCurrentIndex(i)

    def show_test_pattern(self) -> None:
        """Show the chosen test pattern on the SLM; targets are re-sent on the next change or Send."""
        name = self.pattern_combo.currentText()
        frame = TEST_PATTERNS[name](tuple(self.session.config.slm.shape))
        try:
            self.session.slm.show_gray(frame)
        except HolostimError as exc:
            self.show_message(str(exc), error=True)
            return
        self.mask_preview.set_frame(frame)
        self._last_sent = None
        self.show_message(f"SLM shows test pattern '{name}'; targets are not on the SLM until Send")

    # ====================================================================================== files
    def _open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", "", "Session (*.yaml *.yml)")
        if path:
            self.open_session(path)

    def _save_session_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save session", "", "Session (*.yaml *.yml)")
        if path:
            self._guard(lambda: self.save_session(path))

    def _load_targets_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load targets", "", "Targets (*.csv *.json)")
        if path:
            self._guard(lambda: self.load_targets(path))

    def _save_targets_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save targets", "", "CSV (*.csv);;JSON (*.json)")
        if path:
            self._guard(lambda: self.save_targets(path))

    def _guard(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except (HolostimError, OSError) as exc:
            self.show_message(str(exc), error=True)

    def load_targets(self, path: str | Path) -> None:
        """Replace the targets with those in a CSV or JSON file."""
        rows = load_targets(path)
        from holostim.session import Target

        self.store.set_targets([Target(**r) for r in rows])
        self.show_message(f"loaded {len(rows)} targets from {Path(path).name}")

    def save_targets(self, path: str | Path) -> Path:
        """Write all targets (refused ones too) to a CSV or JSON file."""
        out = save_targets(path, self.store.targets)
        self.show_message(f"saved {len(self.store)} targets to {out.name}")
        return out

    def open_log_folder(self) -> None:
        """Open the stimulation log folder in the desktop's file manager."""
        folder = self.log_folder()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        self.show_message(f"log folder: {folder}")

    def log_folder(self) -> Path:
        """Where this session's stimulation log is written."""
        log = getattr(self.session, "log", None)
        p = getattr(log, "path", None)
        return Path(p).parent if p else Path(self.session.config.log.directory)

    # ====================================================================================== calibration
    def run_calibration(self, grid: int | None = None) -> None:
        """Measure the camera↔SLM calibration (off the GUI thread) with a progress dialog."""
        if self._cal_thread is not None:
            return
        grid = int(grid or self.session.config.calibration.grid)
        dlg = QProgressDialog("Projecting the calibration grid…", "", 0, grid * grid + 2, self)
        dlg.setCancelButton(None)
        dlg.setWindowTitle("Calibration")
        dlg.setMinimumDuration(0)
        self.worker.stop()  # the SLM belongs to the calibration until it is done
        self._cal_thread = th = _CalibrationThread(self.session, grid)

        def progress(d: int, t: int, what: str) -> None:
            dlg.setMaximum(max(t, 1))
            dlg.setValue(d)
            dlg.setLabelText(what or f"step {d} of {t}")

        def finish() -> None:
            dlg.close()
            self._cal_thread = None
            self.worker = ComputeWorker(self.session)
            self.worker.finished.connect(self._on_outcome)
            self.worker.failed.connect(self._on_failed)
            self.worker.busyChanged.connect(self._busy_changed)

        def done(cal: Any) -> None:
            finish()
            try:
                path = self.session.save_calibration(cal)
            except HolostimError as exc:
                self.show_message(f"calibration measured but not saved: {exc}", error=True)
                path = None
            self.update_overlays()
            self.store.set_check(self._check_target)
            self._last_sent = None
            self._targets_changed()
            where = f"; saved to {path}" if path else ""
            self.show_message(f"calibration residual {cal.residual_px:.3f} camera px RMS over "
                              f"{cal.n_spots} spots{where}")

        def failed(reason: str) -> None:
            finish()
            self.show_message(f"calibration failed: {reason}", error=True)

        th.progress.connect(progress)
        th.done.connect(done)
        th.error.connect(failed)
        th.start()
        dlg.show()

    # ====================================================================================== state
    def _remember_recent(self, path: str | Path) -> None:
        p = str(Path(path).resolve())
        recent = [r for r in self.recent_sessions() if r != p]
        self.settings.setValue("recentSessions", [p, *recent][:MAX_RECENT])
        self._update_recent_menu()

    def recent_sessions(self) -> list[str]:
        """Recently opened or saved session files, newest first."""
        v = self.settings.value("recentSessions", [])
        if isinstance(v, str):
            v = [v]
        return [str(x) for x in (v or [])]

    def _update_recent_menu(self) -> None:
        if not hasattr(self, "recent_menu"):
            return
        self.recent_menu.clear()
        for p in self.recent_sessions():
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, p=p: self.open_session(p))
        self.recent_menu.setEnabled(bool(self.recent_sessions()))

    def restore_window_state(self) -> None:
        """Window geometry, dock layout, auto-send and snap from the settings (as last closed)."""
        geo = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        else:
            self.resize(1500, 900)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        self.auto_check.setChecked(self.settings.value("autoSend", True, type=bool))
        self.snap_check.setChecked(self.settings.value("snapToSoma", False, type=bool))

    def _save_window_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("autoSend", self.auto_check.isChecked())
        self.settings.setValue("snapToSoma", self.snap_check.isChecked())
        self.settings.sync()

    def _fit_view(self) -> None:
        f = self.camera_view.frame
        if f is not None:
            h, w = f.shape[:2]
            self.camera_view.viewbox.setRange(xRange=(-0.5, w - 0.5), yRange=(-0.5, h - 0.5), padding=0.01)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Process events until the compute worker has nothing waiting or running (for tests, scripts)."""
        from PyQt6.QtWidgets import QApplication

        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            QApplication.processEvents()
            if self.worker is None or self.worker.idle:
                QApplication.processEvents()
                return True
            time.sleep(0.002)
        return False

    def closeEvent(self, ev: QCloseEvent) -> None:  # noqa: D102 - Qt override
        if self._cal_thread is not None:
            QMessageBox.information(self, "Calibration running", "Wait for the calibration to finish.")
            ev.ignore()
            return
        self._save_window_state()
        self.detach()
        super().closeEvent(ev)

