"""The main window's menu bar: actions and their shortcuts, the shortcut help, and the file dialogs.

Every action is also added to the window itself, so its shortcut works wherever the focus is in the
window. The checkable actions (Auto send, Snap to soma, Show SLM window) mirror a check box in a dock;
each follows its box without triggering it again. File dialogs only ask for a path and hand it to
the window, which reports failures in the status bar.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QFileDialog, QMenu, QMessageBox

from holostim.errors import HolostimError

if TYPE_CHECKING:
    from holostim.gui.main_window import MainWindow

MOUSE_GESTURES = (
    ("Add target", "left click on the image"),
    ("Select / add to selection", "click a marker / Ctrl+click"),
    ("Select several", "Shift+drag a rectangle"),
    ("Move targets", "drag a marker"),
    ("Remove target", "right click a marker, or Delete"),
    ("Pan / zoom", "drag the image / mouse wheel"),
)
"""The camera view's mouse gestures, listed with the keyboard shortcuts in Help."""


def _follow(action: QAction, on: bool) -> None:
    action.blockSignals(True)
    action.setChecked(on)
    action.blockSignals(False)


class MainMenus:
    """Builds the menus of ``win`` and holds the actions other parts need to reach."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        panel, store, view = win.targets_panel, win.store, win.camera_view
        mb = win.menuBar()
        K = QKeySequence.StandardKey

        m = mb.addMenu("&Session")
        self._action(m, "&Open session…", self.open_session_dialog, K.Open)
        self.recent_menu: QMenu = m.addMenu("Open &recent")
        self._action(m, "&Save session", self.save_session_current, K.Save)
        self._action(m, "Save session &as…", self.save_session_dialog, K.SaveAs)
        m.addSeparator()
        self._action(m, "&Load targets…", self.load_targets_dialog, "Ctrl+Shift+O")
        self._action(m, "Save &targets…", self.save_targets_dialog, "Ctrl+Shift+E")
        m.addSeparator()
        self.calibrate_action = self._action(m, "Run &calibration…", win.run_calibration, "Ctrl+K")
        self.depth_calibrate_action = self._action(
            m, "Run &depth calibration…", lambda *_: win.run_calibration(kind="depth"), "Ctrl+Shift+K"
        )
        self._action(m, "Open &log folder", win.open_log_folder, "Ctrl+Shift+L")
        m.addSeparator()
        self._action(m, "&Quit", win.close, K.Quit)

        self.targets_menu = t = mb.addMenu("&Targets")
        self.send_action = self._action(t, "&Send to SLM", win.sending.send, "Ctrl+Return")
        self.auto_action = self._action(
            t, "&Auto send", panel.auto_check.setChecked, "Ctrl+T", checkable=True
        )
        self.auto_action.setChecked(True)
        self._action(t, "Select &all", self._select_all, K.SelectAll)
        self._action(t, "&Delete selected", self._delete_selected, K.Delete)
        self._action(t, "&Clear all", store.clear, "Ctrl+Shift+Delete")
        self._action(t, "&Import ROIs…", self.import_rois_dialog)
        self.snap_action = self._action(
            t, "Snap to &soma", panel.snap_check.setChecked, "Ctrl+J", checkable=True
        )

        v = mb.addMenu("&View")
        self._action(v, "&Auto levels", view.auto_levels, "Ctrl+L")
        self._action(v, "&Fit image", view.fit_image, "Ctrl+0")
        v.addSeparator()
        for d in (win.status_dock, win.targets_dock, win.mask_dock, win.focal_dock, win.protocol_dock,
                  win.traces_dock):
            v.addAction(d.toggleViewAction())

        s = mb.addMenu("S&LM")
        self.slm_window_action = self._action(
            s, "Show SLM &window", win.slm_panel.window_check.setChecked, "Ctrl+W", checkable=True
        )
        self.test_pattern_action = self._action(s, "Show test &pattern", win.slm_panel.show_test_pattern,
                                                "Ctrl+P")

        p, dock = mb.addMenu("&Protocol"), win.protocol_panel
        self._action(p, "&Load protocol…", dock.load_dialog)
        self._action(p, "&Save protocol…", dock.save_dialog)
        self._action(p, "&Run protocol", dock.run, "Ctrl+R")
        self._action(p, "&Pause / resume", dock.pause_or_resume)
        self._action(p, "&Abort protocol", lambda: dock.abort("the user pressed Abort"), "Ctrl+.")

        h = mb.addMenu("&Help")
        self._action(h, "&Keyboard shortcuts", self.show_shortcuts, K.HelpContents)

        panel.auto_check.toggled.connect(lambda on: _follow(self.auto_action, on))
        panel.snap_check.toggled.connect(lambda on: _follow(self.snap_action, on))
        win.slm_panel.windowShown.connect(lambda on: _follow(self.slm_window_action, on))

    def _action(self, menu: QMenu, text: str, slot: Callable[..., Any], shortcut: Any = None,
                checkable: bool = False) -> QAction:
        a = QAction(text, self.win)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.setCheckable(checkable)
        (a.toggled if checkable else a.triggered).connect(slot)
        menu.addAction(a)
        self.win.addAction(a)  # the shortcut works wherever the focus is in this window
        return a

    def _select_all(self) -> None:
        self.win.store.set_selection(range(len(self.win.store)))

    def _delete_selected(self) -> None:
        store = self.win.store
        if store.selection:
            store.remove(store.selection)

    # -- recent sessions -----------------------------------------------------------------------------
    def update_recent(self, paths: list[str]) -> None:
        """List ``paths`` (newest first) under *Open recent*."""
        self.recent_menu.clear()
        for p in paths:
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, p=p: self.win.open_session(p))
        self.recent_menu.setEnabled(bool(paths))

    # -- help ----------------------------------------------------------------------------------------
    def shortcut_table(self) -> list[tuple[str, str]]:
        """(action, key) for every action with a shortcut, plus the mouse gestures of the camera view."""
        rows = [(a.text().replace("&", ""), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
                for a in self.win.actions() if not a.shortcut().isEmpty()]
        return rows + list(MOUSE_GESTURES)

    def show_shortcuts(self) -> None:
        """A dialog listing the keyboard shortcuts and mouse gestures."""
        html = "<table cellspacing='6'>" + "".join(
            f"<tr><td>{name}</td><td><b>{key}</b></td></tr>" for name, key in self.shortcut_table()
        ) + "</table>"
        QMessageBox.information(self.win, "holostim shortcuts", html)

    # -- file dialogs --------------------------------------------------------------------------------
    def open_session_dialog(self) -> None:
        """Ask for a session file and open it in the window."""
        path, _ = QFileDialog.getOpenFileName(self.win, "Open session", "", "Session (*.yaml *.yml)")
        if path:
            self.win.open_session(path)

    def save_session_current(self) -> None:
        """Save to the file the session came from (asks for one when there is none)."""
        path = self.win.session.path
        if path:
            self.win.save_session(path)
        else:
            self.save_session_dialog()

    def save_session_dialog(self) -> None:
        """Ask for a file and save the session there."""
        path, _ = QFileDialog.getSaveFileName(self.win, "Save session", "", "Session (*.yaml *.yml)")
        if path:
            self._guard(lambda: self.win.save_session(path))

    def load_targets_dialog(self) -> None:
        """Ask for a CSV or JSON target file and load it."""
        path, _ = QFileDialog.getOpenFileName(self.win, "Load targets", "", "Targets (*.csv *.json)")
        if path:
            self._guard(lambda: self.win.load_targets(path))

    def save_targets_dialog(self) -> None:
        """Ask for a CSV or JSON file and write the targets to it."""
        path, chosen = QFileDialog.getSaveFileName(self.win, "Save targets", "", "CSV (*.csv);;JSON (*.json)")
        if path:
            if not Path(path).suffix:  # a bare name: the format the dialog's filter shows
                path += ".json" if "json" in chosen.lower() else ".csv"
            self._guard(lambda: self.win.save_targets(path))

    def import_rois_dialog(self) -> None:
        """Ask for an ROI file, then an optional registration, and import the ROIs.

        The ROI file is suite2p's ``stat.npy``, CaImAn's ``.hdf5``, ImageJ's ``.zip``/``.roi`` or an NWB
        file's plane segmentation; Cancel on the registration means imaging px are camera px.
        """
        path, _ = QFileDialog.getOpenFileName(self.win, "Import ROIs", "",
                                              "ROIs (stat.npy *.hdf5 *.h5 *.zip *.roi *.nwb);;All files (*)")
        if not path:
            return
        transform, _ = QFileDialog.getOpenFileName(self.win, "Imaging → camera registration (Cancel: none)",
                                                   str(Path(path).parent), "Registration (*.yaml *.yml)")
        self._guard(lambda: self.import_rois(path, transform or None))

    def import_rois(self, path: str | Path, transform: str | Path | None = None) -> int:
        """Replace the targets by the analysis's cells in ``path`` (ids = ROI id + 1); returns how many.

        Cells only: suite2p's ``iscell`` flag, CaImAn's accepted components, every ImageJ ROI. Every
        ROI's outline is drawn on the camera view, where the user picks more or fewer of them.
        """
        from holostim.gui.roi_overlay import shown_rois
        from holostim.interop import Registration, read_rois, to_targets

        reg = Registration.load(transform) if transform is not None else None
        rois = read_rois(path)
        kept = rois.select(cells_only=True)
        self.win.store.set_targets(to_targets(kept, reg))
        self.win.camera_view.rois.set_rois(shown_rois(rois, reg))
        frame = "imaging px as camera px" if reg is None else f"registered by {Path(transform).name}"
        self.win.show_message(f"imported {len(kept)} of {len(rois)} {rois.format} ROIs from "
                              f"{Path(path).name} ({frame})")
        return len(kept)

    def _guard(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except (HolostimError, OSError) as exc:
            self.win.show_message(str(exc), error=True)
