"""SLM control: which SLM the session drives, its fullscreen window, its screen, and test patterns.

A test pattern replaces the targets' mask on the SLM; the panel says so through :attr:`SlmPanel.patternShown`
so the window can show the pattern in the mask preview and send the targets again on the next change.
Moving the SLM to another screen is the session's work (it opens the new window first and keeps the
old one when that fails); the panel only asks and reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from holostim.errors import HolostimError
from holostim.hardware.slm.patterns import checkerboard, gray_ramp, orientation_marker

TEST_PATTERNS = {
    "gray ramp": gray_ramp,
    "checkerboard": checkerboard,
    "orientation marker": orientation_marker,
    "flat (zero phase)": lambda shape: np.zeros(shape, np.uint8),
}
"""Name in the pattern box → ``pattern(shape) -> uint8 frame``."""


class SlmPanel(QGroupBox):
    """The "SLM" box of the status dock: description, window toggle, screen choice, test patterns."""

    message = pyqtSignal(str, bool)
    """(text, error) for the status bar."""
    patternShown = pyqtSignal(object, str)
    """(frame, name): the uint8 test-pattern frame that is now on the SLM instead of the targets' mask."""
    windowShown = pyqtSignal(bool)
    """The SLM window was shown (True) or hidden (False) from here."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("SLM", parent)
        self.session: Any = None
        form = QFormLayout(self)
        self.label = QLabel("–")
        self.label.setWordWrap(True)
        self.window_check = QCheckBox("Show SLM window")
        self.window_check.setToolTip("fullscreen OpenGL window on the chosen screen (Ctrl+W)")
        self.window_check.toggled.connect(self.set_window_visible)
        self.screen_combo = QComboBox()
        self.screen_combo.setToolTip("the SLM's screen: choosing one moves the SLM window there")
        self._fill_screens()
        self.screen_combo.activated.connect(self._screen_chosen)
        self.pattern_combo = QComboBox()
        self.pattern_combo.addItems(list(TEST_PATTERNS))
        self.pattern_button = QPushButton("Show pattern")
        self.pattern_button.setToolTip("show a test pattern on the SLM (targets are not sent meanwhile)")
        self.pattern_button.clicked.connect(self.show_test_pattern)
        form.addRow(self.label)
        form.addRow(self.window_check)
        form.addRow("screen", self.screen_combo)
        prow = QHBoxLayout()
        prow.addWidget(self.pattern_combo, 1)
        prow.addWidget(self.pattern_button)
        form.addRow("test", prow)

    def _fill_screens(self) -> None:
        self.screen_combo.clear()
        for sc in QGuiApplication.screens():
            g = sc.geometry()
            self.screen_combo.addItem(f"{sc.name()} ({g.width()}×{g.height()}+{g.x()}+{g.y()})", sc.name())

    def attach(self, session: Any) -> None:
        """Describe ``session``'s SLM; window and screen controls work only for an OpenGL SLM."""
        self.session = session
        c = session.config.slm
        self.label.setText(f"{c.backend} SLM {c.shape[1]}×{c.shape[0]}, {c.pitch_um:g} µm pitch, "
                           f"λ = {c.wavelength_um:g} µm")
        is_gl = c.backend == "opengl"
        self.window_check.setEnabled(is_gl)
        self.window_check.blockSignals(True)
        self.window_check.setChecked(is_gl)
        self.window_check.blockSignals(False)
        self._select_screen(c.screen)
        self.screen_combo.setEnabled(is_gl)

    def detach(self) -> None:
        """Forget the session (it is being closed)."""
        self.session = None

    def set_window_visible(self, visible: bool) -> None:
        """Show or hide the fullscreen SLM window (OpenGL SLM only)."""
        cfg = self.session.config.slm
        # Only the OpenGL SLM has a window (the SLM devices share no protocol for it yet).
        window = getattr(self.session.slm, "window", None)
        if window is None:
            # The box (and the menu action that follows it) must not say a window is shown when none is.
            self.window_check.blockSignals(True)
            self.window_check.setChecked(False)
            self.window_check.blockSignals(False)
            self.windowShown.emit(False)
            self.message.emit("this SLM has no window to show (simulated SLM)", True)
            return
        if not visible:
            window.hide()
        elif cfg.fullscreen:  # the session opened the window with this setting
            window.showFullScreen()
        else:
            window.show()
        self.windowShown.emit(visible)

    def _screen_chosen(self, index: int) -> None:
        name = self.screen_combo.itemData(index)
        if not name or name == self.session.config.slm.screen:
            return
        try:
            self.session.set_slm_screen(name)
        except HolostimError as exc:
            self._select_screen(self.session.config.slm.screen)
            self.message.emit(f"SLM stays where it was: {exc}", True)
            return
        self.message.emit(f"SLM window moved to screen {name}", False)

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
            self.session.show_test_pattern(frame, name)  # through the gate: logged, laser blocked
        except HolostimError as exc:
            self.message.emit(str(exc), True)
            return
        self.patternShown.emit(frame, name)
        self.message.emit(f"SLM shows test pattern '{name}'; targets are not on the SLM until Send", False)
