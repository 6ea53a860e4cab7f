"""Status panel: what the SLM shows now (quality, latency, or a test pattern), backend, laser interlock."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QResizeEvent
from PyQt6.QtWidgets import QFormLayout, QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from holostim.gui.formatting import percent

BANNER_PADDING_PX = 6
PERMITTED_STYLE = (f"background:#1f8f3a;color:white;font-weight:bold;padding:{BANNER_PADDING_PX}px;"
                   "border-radius:4px;")
BLOCKED_STYLE = (f"background:#c62828;color:white;font-weight:bold;padding:{BANNER_PADDING_PX}px;"
                 "border-radius:4px;")
MET_AT_START = "0 (met tolerance at start)"
"""What the iterations field says when the starting phase already met ``engine.tolerance``."""


class InterlockIndicator(QLabel):
    """Green "laser permitted" or red "blocked: reason", readable from across the room.

    The banner is one line whatever the reason's length: a wrapped label in a dock is given the height
    of one line by the dock layout (which does not ask a label for its height at a width), so a long
    reason was cut off mid-word. The line is elided to the width it has, with the whole text in the
    tooltip; widening the dock shows more of it. The label asks for no width of its own, so a long
    reason never widens the dock and moves the camera image either.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.permitted = False
        self.reason = "no SLM frame yet"
        self.full_text = ""
        self.set_state(False, self.reason)

    def set_state(self, permitted: bool, reason: str = "") -> None:
        """Show the interlock state the SLM reported."""
        self.permitted = bool(permitted)
        self.reason = reason
        if permitted:
            self.full_text = "LASER PERMITTED"
            self.setStyleSheet(PERMITTED_STYLE)
            self.setToolTip("the SLM shows a fresh frame fullscreen on the right screen")
        else:
            self.full_text = f"BLOCKED: {reason}" if reason else "BLOCKED"
            self.setStyleSheet(BLOCKED_STYLE)
            self.setToolTip(f"{self.full_text}\nlaser light must stay off: " + (reason or "SLM not ready"))
        self._elide()

    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: D102 - Qt override
        super().resizeEvent(ev)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width() - 2 * BANNER_PADDING_PX
        elided = self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, max(width, 0))
        self.setText(elided)


class StatusPanel(QWidget):
    """What the SLM shows: the last pattern's metrics and latency, or the test pattern; backend; interlock.

    The values never widen the dock (their labels ask for no width): a dock that grew when the first
    result arrived shrank the camera view and moved the image under the user's cursor.
    """

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
            v.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
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
        self.values["backend"].setToolTip(text)

    def set_result(self, result: Any) -> None:
        """Fill in the metrics of an ``ApplyResult`` from the session (the pattern now on the SLM)."""
        m, t = result.metrics, result.timings
        self.values["spots"].setText(str(len(result.targets)))
        self.values["efficiency"].setText("–" if m is None else percent(m.efficiency))
        self.values["uniformity"].setText("–" if m is None else percent(m.uniformity))
        n = int(result.iterations)
        self.values["iterations"].setText(MET_AT_START if n == 0 and m is not None else str(n))
        self.values["compute_ms"].setText("–" if t is None else f"{float(t.total_ms):.1f} ms")
        c2s = result.click_to_swap_ms
        self.values["click_to_swap_ms"].setText("–" if c2s is None else f"{float(c2s):.1f} ms")

    def clear_result(self) -> None:
        """Nothing of this session is on the SLM yet (a session was just opened)."""
        for key, _ in self.FIELDS:
            if key != "backend":
                self.values[key].setText("–")

    def set_other_pattern(self, what: str) -> None:
        """The SLM shows ``what`` (e.g. a test pattern): no target metrics describe it."""
        self.values["spots"].setText(what)
        self.values["spots"].setToolTip(what)
        for key in ("efficiency", "uniformity", "iterations", "compute_ms", "click_to_swap_ms"):
            self.values[key].setText("–")

    def text(self, key: str) -> str:
        """The text shown for ``key`` (see :attr:`FIELDS`)."""
        return self.values[key].text()
