"""Helpers shared by the GUI tests (synthetic mouse drags, neuron picking)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication


def drag(widget, a: QPoint, b: QPoint, mods=Qt.KeyboardModifier.NoModifier):
    """Press at a, move in steps to b, release: explicit events carry the held button."""
    L = Qt.MouseButton.LeftButton

    def send(kind, pos, button, buttons):
        ev = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, mods)
        QApplication.sendEvent(widget, ev)

    send(QEvent.Type.MouseButtonPress, a, L, L)
    for k in range(1, 11):
        p = a + (b - a) * (k / 10)
        send(QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, L)
    send(QEvent.Type.MouseButtonRelease, b, L, Qt.MouseButton.NoButton)
    QApplication.processEvents()


def pick_neurons(session, n: int, min_dist: float = 25.0) -> list[tuple[float, float]]:
    """``n`` simulated neurons inside the addressable field, away from the zero order and each other."""
    chosen: list[tuple[float, float]] = []
    for x, y in np.asarray(session.camera.neuron_positions, dtype=float):
        if session.check_target(x, y) is not None:
            continue
        if all(np.hypot(x - a, y - b) >= min_dist for a, b in chosen):
            chosen.append((float(x), float(y)))
        if len(chosen) == n:
            return chosen
    raise AssertionError(f"the simulated field has fewer than {n} usable, separated neurons")
