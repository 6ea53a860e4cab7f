"""The targets dock: send mode, snap to soma, the engine's method and iterations, and the target table.

Widgets only. What a change means (compute, show, write the session's engine settings) is decided by
the window and :class:`holostim.gui.send.SendController`; this panel only reports what the user chose.
"""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from holostim.gui.roi_bar import RoiBar
from holostim.gui.target_table import TargetTable

METHODS = ("wgs", "gs", "wgs-kim", "raar")
"""Phase-retrieval methods offered in the method box (the engine's names)."""


class TargetsPanel(QWidget):
    """Auto send / Send, Snap to soma, method and iterations above the editable target table."""

    engineSettingsChanged = pyqtSignal(str, int)
    """(method, iterations) after the user changed either; not emitted by :meth:`show_engine_settings`."""

    def __init__(self, table: TargetTable, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = table
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.auto_check = QCheckBox("Auto send")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip("every change recomputes (warm start) and goes to the SLM (Ctrl+T)")
        self.send_button = QPushButton("Send")
        self.send_button.setToolTip("compute the current targets and show them on the SLM (Ctrl+Return)")
        self.send_button.setEnabled(False)
        self.snap_check = QCheckBox("Snap to soma")
        self.snap_check.setToolTip("move a new target to the intensity centroid under the click")
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
        self.method_combo.currentTextChanged.connect(self._engine_edited)
        self.iter_spin.valueChanged.connect(self._engine_edited)
        eng.addWidget(QLabel("method"))
        eng.addWidget(self.method_combo)
        eng.addWidget(QLabel("iterations"))
        eng.addWidget(self.iter_spin)
        eng.addStretch(1)
        lay.addLayout(eng)
        self.roi_bar = RoiBar()  # shown once ROIs are imported
        lay.addWidget(self.roi_bar)
        lay.addWidget(self.table, 1)

    def show_engine_settings(self, method: str, iterations: int) -> None:
        """Show a session's engine settings without reporting them back as a user edit."""
        for w in (self.method_combo, self.iter_spin):
            w.blockSignals(True)
        self.method_combo.setCurrentText(method)
        self.iter_spin.setValue(int(iterations))
        for w in (self.method_combo, self.iter_spin):
            w.blockSignals(False)

    def _engine_edited(self, *_: object) -> None:
        self.engineSettingsChanged.emit(self.method_combo.currentText(), self.iter_spin.value())
