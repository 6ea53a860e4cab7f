"""Status panel: quality of the last pattern, latency, backend, and the laser interlock."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFormLayout, QFrame, QLabel, QVBoxLayout, QWidget

PERMITTED_STYLE = "background:#1f8f3a;color:white;font-weight:bold;padding:6px;border-radius:4px;"
BLOCKED_STYLE = "background:#c62828;color:white;font-weight:bold;padding:6px;border-radius:4px;"


class InterlockIndicator(QLabel):
    """Green "laser permitted" or red "blocked: reason", readable from across the room."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.permitted = False
        self.reason = "no SLM frame yet"
        self.set_state(False, self.reason)

    def set_state(self, permitted: bool, reason: str = "") -> None:
        """Show the interlock state the SLM reported."""
        self.permitted = bool(permitted)
        self.reason = reason
        if permitted:
            self.setText("LASER PERMITTED")
            self.setStyleSheet(PERMITTED_STYLE)
            self.setToolTip("the SLM shows a fresh frame fullscreen on the right screen")
        else:
            self.setText(f"BLOCKED: {reason}" if reason else "BLOCKED")
            self.setStyleSheet(BLOCKED_STYLE)
            self.setToolTip("laser light must stay off: " + (reason or "SLM not ready"))


class StatusPanel(QWidget):
    """Metrics of the last pattern shown, its latency, the compute backend and the interlock."""

    FIELDS = (
        ("spots", "spots"),
        ("efficiency", "efficiency"),
        ("uniformity", "uniformity"),
        ("iterations", "iterations"),
        ("compute_ms", "compute"),
        ("click_to_swap_ms", "click → swap"),
        ("backend", "backend"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.interlock = InterlockIndicator()
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.values: dict[str, QLabel] = {}
        for key, label in self.FIELDS:
            v = QLabel("–")
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            v.setStyleSheet("font-family: monospace;")
            self.values[key] = v
            form.addRow(label, v)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        lay = QVBoxLayout(self)
        lay.addWidget(self.interlock)
        lay.addWidget(line)
        lay.addLayout(form)
        lay.addStretch(1)

    def set_backend(self, text: str) -> None:
        """Show the engine's backend and precision (e.g. ``numpy/FFTW, single``)."""
        self.values["backend"].setText(text)

    def set_result(self, result: Any) -> None:
        """Fill in the metrics of an ``ApplyResult`` from the session."""
        m, t = result.metrics, result.timings
        self.values["spots"].setText(str(len(result.targets)))
        self.values["efficiency"].setText("–" if m is None else f"{100 * float(m.efficiency):.1f} %")
        self.values["uniformity"].setText("–" if m is None else f"{100 * float(m.uniformity):.1f} %")
        self.values["iterations"].setText(str(result.iterations))
        self.values["compute_ms"].setText("–" if t is None else f"{float(t.total_ms):.1f} ms")
        c2s = result.click_to_swap_ms
        self.values["click_to_swap_ms"].setText("–" if c2s is None else f"{float(c2s):.1f} ms")

    def text(self, key: str) -> str:
        """The text shown for ``key`` (see :attr:`FIELDS`)."""
        return self.values[key].text()
