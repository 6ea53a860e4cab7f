"""The rig's main window: live camera with targets, table, previews, status, SLM control, session menu.

All physics and device work goes through the :class:`holostim.session.Session`; this window only
arranges widgets, moves data between them, and keeps heavy work off the GUI thread (see
:mod:`holostim.gui.workers`). Its parts, each in its own module: the targets dock
(:mod:`~holostim.gui.targets_panel`), the SLM box (:mod:`~holostim.gui.slm_panel`), the send flow
(:mod:`~holostim.gui.send`), the menus (:mod:`~holostim.gui.menus`) and the calibration dialog
(:mod:`~holostim.gui.calibration_dialog`). What stays here is the composition, the docks, opening
and closing sessions, and what is remembered between runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QByteArray, QSettings, Qt, QTimer, QUrl, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QDesktopServices
from PyQt6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from holostim.errors import HolostimError
from holostim.gui.calibration_dialog import CalibrationDialog
from holostim.gui.camera_view import CameraView
from holostim.gui.depth_bar import depth_text
from holostim.gui.menus import MainMenus
from holostim.gui.previews import FocalPreview, MaskPreview
from holostim.gui.protocol_dock import ProtocolDock
from holostim.gui.run_lock import RunLock
from holostim.gui.send import SendController
from holostim.gui.slm_panel import SlmPanel
from holostim.gui.status import StatusPanel
from holostim.gui.target_store import TargetStore
from holostim.gui.target_table import TargetTable
from holostim.gui.targets_panel import TargetsPanel
from holostim.gui.traces_dock import TracesDock
from holostim.gui.workers import ComputeOutcome, FramePump
from holostim.session.target_files import load_targets, save_targets

MAX_RECENT = 8
"""How many recently opened or saved sessions *Open recent* lists."""
STATUS_BAR_STYLE = "QStatusBar { font-size: 10pt; }"
ERROR_STYLE = "QStatusBar { font-size: 10pt; color: #c62828; font-weight: bold; }"
"""The status bar keeps one font size for news and errors: a bar whose height changed with the message
moved the camera image under the user's cursor."""


def default_settings() -> QSettings:
    """Qt's standard per-user settings store for holostim (recent sessions, window layout)."""
    return QSettings("holostim", "holostim")


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
    """The laser permit (the session's gate) changed (from any thread; queued to the indicator)."""

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
        self.pump: FramePump | None = None
        self.last_message = ""
        self._error_shown_at = -math.inf  # time.monotonic() of the last error message
        self.calibration_dialog: CalibrationDialog | None = None

        self.store = TargetStore()
        self.camera_view = CameraView(self.store)
        self.setCentralWidget(self.camera_view)
        self.table = TargetTable(self.store)
        self.targets_panel = TargetsPanel(self.table)
        self.slm_panel = SlmPanel()
        self.mask_preview = MaskPreview()
        self.focal_preview = FocalPreview()
        self.status_panel = StatusPanel()
        self.sending = SendController(self.store, wants_preview=lambda: not self.focal_dock.isHidden())
        self.protocol_panel = ProtocolDock(self.store)
        self._build_docks()
        self._build_traces_dock()
        self.menus = MainMenus(self)
        self._update_recent_menu()
        self.statusBar().setStyleSheet(STATUS_BAR_STYLE)

        panel = self.targets_panel
        panel.auto_check.toggled.connect(self.sending.set_auto)
        panel.snap_check.toggled.connect(self._snap_toggled)
        panel.send_button.clicked.connect(self.sending.send)
        panel.engineSettingsChanged.connect(self._engine_settings_changed)
        self.sending.outcome.connect(self._show_previews)
        self.sending.resultShown.connect(self.status_panel.set_result)
        self.sending.slmChanged.connect(self.camera_view.set_on_slm)
        self.sending.slmChanged.connect(self.table.table_model.set_on_slm)
        self.sending.outcome.connect(lambda o: self.table.table_model.set_power(o.result.targets,
                                                                                o.result.predicted_power_mw))
        self.sending.message.connect(self._send_message)
        self.sending.unsentChanged.connect(panel.send_button.setEnabled)
        self.sending.busyChanged.connect(self._busy_changed)
        self.slm_panel.message.connect(self.show_message)
        self.slm_panel.patternShown.connect(self._test_pattern_shown)
        self.store.changed.connect(self.sending.targets_changed)
        self.store.refusedTarget.connect(self._target_refused)
        self.interlockChanged.connect(self.status_panel.interlock.set_state)
        self.run_lock = RunLock(self)  # a running protocol owns the SLM: no sending, no test pattern
        self.protocol_panel.runningChanged.connect(self.run_lock.set_running)
        self.protocol_panel.highlightChanged.connect(self.camera_view.set_highlight)
        self.protocol_panel.patternShown.connect(self.run_lock.pattern_shown)
        self.protocol_panel.message.connect(self.show_message)
        self.protocol_panel.closedLoopStarted.connect(self._show_traces)
        self.protocol_panel.imported_rois = lambda: list(self.camera_view.rois.rois)
        self.camera_view.editRefused.connect(lambda why: self.show_message(why, error=True))
        self.camera_view.rois.changed.connect(panel.roi_bar.show_counts)
        panel.roi_bar.pickRequested.connect(self.camera_view.rois.pick_probability)
        panel.roi_bar.hideRequested.connect(lambda: self.camera_view.rois.set_rois([]))

        self.attach(session)
        self.restore_window_state()
        # The SLM calls back on changes; polling as well keeps the reason text current when only the
        # reason changes (e.g. "covered" after "no frame yet") and costs nothing.
        self._interlock_timer = QTimer(self)
        self._interlock_timer.timeout.connect(self._poll_interlock)
        self._interlock_timer.start(250)

    # =========================================================================================== layout
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName("dock-" + title.lower().replace(" ", "-"))  # saveState() knows docks by name
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
        self.protocol_dock = self._dock("Protocol", self.protocol_panel, right)
        self.splitDockWidget(self.mask_dock, self.focal_dock, Qt.Orientation.Vertical)
        self.splitDockWidget(self.status_dock, self.targets_dock, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.focal_dock, self.protocol_dock)  # a tab beside the predicted focus
        self.focal_dock.raise_()
        self.resizeDocks([self.status_dock, self.mask_dock], [350, 330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.status_dock, self.targets_dock], [330, 520], Qt.Orientation.Vertical)

    def _build_traces_dock(self) -> None:
        """The closed loop's live traces, below the camera: hidden until a closed loop starts (View menu)."""
        self.traces_panel = TracesDock()
        self.traces_dock = self._dock("Traces", self.traces_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.traces_dock.hide()

    def _show_traces(self, run: Any) -> None:
        """A closed loop starts from the protocol dock: the traces dock follows it, in view."""
        self.traces_panel.attach(run)
        self.traces_dock.show()
        self.traces_dock.raise_()

    # ====================================================================================== session
    def attach(self, session: Any) -> None:
        """Drive ``session``: start its camera and workers, show its targets, calibration and settings."""
        self.session = session
        cfg = session.config
        self.store.set_check(self._check_target)
        self.sending.attach(session)
        session.add_listener("permit", self._interlock_from_any_thread)  # the gate's permit, not the SLM's
        self.interlockChanged.emit(*session.permit_state())
        camera = session.camera
        if camera is not None:
            if not camera.is_streaming:
                camera.start()
            self.pump = FramePump(camera)
            self.pump.frameReady.connect(self._show_frame)
            self.pump.failed.connect(lambda reason: self.show_message(reason, error=True))
        self.targets_panel.show_engine_settings(cfg.engine.method, cfg.engine.iterations)
        self.status_panel.clear_result()  # a new session's SLM shows none of the last one's patterns
        self.mask_preview.clear("nothing sent to the SLM yet")
        self.focal_preview.clear("nothing sent to the SLM yet")
        self.status_panel.set_backend(self._backend_text())
        self.slm_panel.attach(session)
        self.protocol_panel.attach(session)
        self.update_overlays()
        self.camera_view.attach_depth(session)
        self.store.set_targets(list(session.targets))
        path = session.path
        self.setWindowTitle(f"holostim — {cfg.name}" + (f" ({Path(path).name})" if path else ""))
        if path:
            self._remember_recent(path)

    def detach(self) -> None:
        """Abort a protocol run (its gate closes first), stop the workers and camera, close the session."""
        self.protocol_panel.detach()
        self.camera_view.depth_bar.detach()
        if self.pump is not None:
            self.pump.frameReady.disconnect()
            self.pump.stop()
            self.pump = None
        self.sending.detach()
        if self.session is not None:
            cam = self.session.camera
            if cam is not None and cam.is_streaming:
                cam.stop()
            self.slm_panel.detach()
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

    def _check_target(self, x: float, y: float, z_um: float = 0.0) -> str | None:
        return self.session.check_target(x, y, z_um) if self.session is not None else None

    def _backend_text(self) -> str:
        desc = self.session.engine.backend.describe()
        precision = str(self.session.config.engine.precision)
        return desc if precision in desc else f"{desc}, {precision}"

    def _engine_settings_changed(self, method: str, iterations: int) -> None:
        # The session reads config.engine at every compute, so a validated copy takes effect at once
        # and is what Save session writes.
        cfg = self.session.config
        engine = cfg.engine.model_validate({**cfg.engine.model_dump(), "method": method,
                                            "iterations": iterations})
        self.session.config = cfg.model_copy(update={"engine": engine})
        self.sending.forget_sent()
        self.sending.targets_changed()

    # ====================================================================================== interlock
    def _interlock_from_any_thread(self, permitted: bool, reason: str = "") -> None:
        # The permit changes on the SLM watchdog's or the worker's thread; the signal queues it here.
        self.interlockChanged.emit(bool(permitted), str(reason))

    def _poll_interlock(self) -> None:
        if self.session is None:  # closed: the timer may still tick once
            return
        permitted, reason = self.session.permit_state()
        ind = self.status_panel.interlock
        if bool(permitted) != ind.permitted or (not permitted and str(reason) != ind.reason):
            ind.set_state(bool(permitted), str(reason))

    # ====================================================================================== targets
    def update_overlays(self) -> None:
        """Draw the addressable field and zero-order exclusion from the current calibration."""
        cal = self.session.calibration
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

    def _target_refused(self, target: Any, reason: str) -> None:
        x, y, z = float(target.x), float(target.y), float(getattr(target, "z_um", 0.0))
        at = f"({x:.1f}, {y:.1f})" + ("" if z == 0.0 else f" z = {depth_text(z)}")
        hint = self._field_shift_hint(target, reason)
        self.show_message(f"target at {at} refused: {reason}{hint}", error=True)
        if self.session is not None and not self.session.closed:
            self.session.log_refusal(x, y, reason, z)

    def _field_shift_hint(self, target: Any, reason: str) -> str:
        # Zero-order avoidance, as a plan only: no device of the session can move the field.
        if "zero-order" not in reason or self.session is None or self.session.closed:
            return ""
        plan = self.session.field_shift([*self.sending.on_slm, target])
        if plan is None or not plan.needed:
            return ""
        dx, dy = plan.sample_um
        return (f"; to stimulate it, shift the field by ({dx:+.1f}, {dy:+.1f}) µm — move the stage, then "
                "the pattern follows")

    def _snap_toggled(self, on: bool) -> None:
        self.camera_view.snap_enabled = on

    def load_targets(self, path: str | Path) -> None:
        """Replace the targets with those in a CSV or JSON file (they keep the ids the file gives)."""
        rows = load_targets(path)
        from holostim.session import Target

        self.store.set_targets([Target(**r) for r in rows])
        self.show_message(f"loaded {len(rows)} targets from {Path(path).name}")

    def save_targets(self, path: str | Path) -> Path:
        """Write all targets (refused ones too) to a CSV or JSON file."""
        out = save_targets(path, self.store.targets)
        self.show_message(f"saved {len(self.store)} targets to {out.name}")
        return out

    # ====================================================================================== display
    def _show_previews(self, outcome: ComputeOutcome) -> None:
        self.mask_preview.set_frame(outcome.frame)
        if outcome.predicted is not None:
            self.focal_preview.set_intensity(outcome.predicted)
        else:  # the dock was hidden when it was asked for: an older prediction would describe another set
            self.focal_preview.clear("predicted focus not computed while this dock was hidden")

    def _test_pattern_shown(self, frame: Any, name: str) -> None:
        # Status and previews describe the SLM's pattern, which is no longer the targets' one; the
        # markers turn to unsent edits and Send (or any change, under Auto send) puts them back.
        what = f"test pattern {name!r}"
        self.mask_preview.set_frame(frame, what=what)
        self.focal_preview.clear(f"{what} on the SLM: no predicted focus")
        self.status_panel.set_other_pattern(what)
        self.sending.slm_replaced()

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
        if error:
            self._error_shown_at = time.monotonic()
        self.last_message = text
        self.statusBar().setStyleSheet(ERROR_STYLE if error else STATUS_BAR_STYLE)
        self.statusBar().showMessage(text, 0 if error else 8000)

    def _send_message(self, text: str, error: bool, t_request: float) -> None:
        # A result that was requested before the last refusal was shown is old news: its report must not
        # replace the refusal the user has not read yet (the status panel still shows its figures).
        if not error and t_request < self._error_shown_at:
            return
        self.show_message(text, error)

    def open_log_folder(self) -> None:
        """Open the stimulation log folder in the desktop's file manager."""
        folder = self.log_folder()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        self.show_message(f"log folder: {folder}")

    def log_folder(self) -> Path:
        """Where this session's stimulation log is written."""
        return Path(self.session.log.path).parent

    # ====================================================================================== calibration
    def run_calibration(self, grid: int | None = None, kind: str = "affine") -> None:
        """Measure a calibration (off the GUI thread) with a progress dialog.

        ``kind`` is the camera↔SLM affine (``"affine"``) or the axial map (``"depth"``, a focus sweep).
        """
        if self.calibration_dialog is not None or self.run_lock.locked:
            return
        grid = int(grid or self.session.config.calibration.grid)
        self.sending.pause()  # the SLM belongs to the calibration until it is done
        self.calibration_dialog = dlg = CalibrationDialog(self.session, grid, self, kind=kind)
        dlg.measured.connect(self._calibration_measured)
        dlg.failed.connect(self._calibration_failed)
        dlg.start()

    def _calibration_measured(self, cal: Any) -> None:
        kind = self.calibration_dialog.kind if self.calibration_dialog is not None else "affine"
        self.calibration_dialog = None
        self.sending.resume()
        try:
            path = self.session.save_calibration(cal)
        except HolostimError as exc:
            self.show_message(f"calibration measured but not saved: {exc}", error=True)
            path = None
        # The calibration put back the frame the SLM showed before (status, previews and markers still
        # describe it); the targets are computed again through the new calibration.
        self.update_overlays()
        self.store.set_check(self._check_target)
        self.sending.forget_sent()
        self.sending.targets_changed()
        where = f"; saved to {path}" if path else ""
        depth = getattr(cal, "depth_map", None)
        if kind == "depth" and depth is not None:
            self.show_message(f"depth calibration: true z = {depth.scale:.4f} × nominal "
                              f"{depth.offset_um:+.2f} µm{where}")
            return
        self.show_message(f"calibration residual {cal.residual_px:.3f} camera px RMS over "
                          f"{cal.n_spots} spots{where}")

    def _calibration_failed(self, reason: str) -> None:
        self.calibration_dialog = None
        self.sending.resume()
        self.show_message(f"calibration failed: {reason}", error=True)

    # ====================================================================================== settings
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
        self.menus.update_recent(self.recent_sessions())

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
        self.targets_panel.auto_check.setChecked(self.settings.value("autoSend", True, type=bool))
        self.targets_panel.snap_check.setChecked(self.settings.value("snapToSoma", False, type=bool))

    def _save_window_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("autoSend", self.targets_panel.auto_check.isChecked())
        self.settings.setValue("snapToSoma", self.targets_panel.snap_check.isChecked())
        self.settings.sync()

    def closeEvent(self, ev: QCloseEvent) -> None:  # noqa: D102 - Qt override
        if self.calibration_dialog is not None:
            QMessageBox.information(self, "Calibration running", "Wait for the calibration to finish.")
            ev.ignore()
            return
        self._save_window_state()
        self.detach()
        super().closeEvent(ev)
