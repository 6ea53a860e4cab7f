"""The ROI bar of the targets dock: how many outlines are shown and picked, and "pick P ≥ p".

Hidden until ROIs are imported; widgets only (the picking is :class:`~holostim.gui.roi_overlay.RoiOverlay`'s).
"""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QWidget


class RoiBar(QWidget):
    """"N outlines, M picked" · probability ≥ [P] [Pick] · [Hide outlines]."""

    pickRequested = pyqtSignal(float)
    """The user asked for exactly the cells with probability ≥ this."""
    hideRequested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.count_label = QLabel("")
        self.prob_spin = QDoubleSpinBox()
        self.prob_spin.setRange(0.0, 1.0)
        self.prob_spin.setSingleStep(0.05)
        self.prob_spin.setDecimals(2)
        self.prob_spin.setValue(0.5)
        self.prob_spin.setToolTip("cell probability (suite2p iscell, CaImAn cnn_preds)")
        self.pick_button = QPushButton("Pick P ≥")
        self.pick_button.setToolTip("pick exactly the cells with at least this probability")
        self.hide_button = QPushButton("Hide outlines")
        self.pick_button.clicked.connect(lambda: self.pickRequested.emit(self.prob_spin.value()))
        self.hide_button.clicked.connect(self.hideRequested.emit)
        lay.addWidget(self.count_label)
        lay.addStretch(1)
        lay.addWidget(self.pick_button)
        lay.addWidget(self.prob_spin)
        lay.addWidget(self.hide_button)
        self.hide()

    def show_counts(self, shown: int, picked: int) -> None:
        """Show the counts; the bar is visible while any outline is."""
        self.count_label.setText(f"ROIs: {shown} outlines, {picked} picked")
        self.setVisible(shown > 0)
