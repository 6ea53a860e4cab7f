"""The traces dock: the closed loop's ΔF/F per ROI over the last seconds, light shaded, rule events marked.

It is fed by a :class:`holostim.protocol.closed_loop.run.ClosedLoopRun`'s listeners, which call back
from the readout worker and the actuator threads; every callback only emits a signal, delivered to the
GUI thread queued, so the readout never waits for a repaint. Samples are buffered and the plot redrawn
by a timer (``REDRAW_MS``), not once per camera frame: a 100 fps camera does not cost 100 repaints a
second. Each ROI's trace is drawn on its own baseline (offset by ``spacing`` ΔF/F, labelled by id); the
periods the gate was open for an action are amber bands; each rule decision is a tick at the top with
the rule's name, red when the action did not light (refused, gate not opened, busy).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

REDRAW_MS = 50
PALETTE = ["#4fc3f7", "#aed581", "#ff8a65", "#ba68c8", "#fff176", "#4db6ac", "#f06292", "#90a4ae"]
LIGHT_BRUSH = (249, 168, 37, 90)


class TracesDock(QWidget):
    """Last ``window_s`` seconds of ΔF/F per ROI (see the module docstring)."""

    sampleArrived = pyqtSignal(object)
    actionArrived = pyqtSignal(object)
    ruleStopped = pyqtSignal(str, str)

    def __init__(self, parent: QWidget | None = None, *, window_s: float = 10.0, spacing: float = 0.5,
                 max_rows: int = 20_000) -> None:
        super().__init__(parent)
        self.window_s = float(window_s)
        self.spacing = float(spacing)
        self.roi_ids: list[int] = []
        self.samples: deque = deque(maxlen=max_rows)
        self.actions: list[Any] = []
        self.stopped: list[tuple[str, str]] = []
        self._curves: list[pg.PlotDataItem] = []
        self._marks: list[Any] = []
        self._dirty = False
        self.plot = pg.PlotWidget(background="#202124")
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.setLabel("left", "ΔF/F (stacked by ROI)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.status = QLabel("no closed loop running")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.plot)
        lay.addWidget(self.status)
        queued = Qt.ConnectionType.QueuedConnection
        self.sampleArrived.connect(self._on_sample, queued)
        self.actionArrived.connect(self._on_action, queued)
        self.ruleStopped.connect(self._on_rule, queued)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.redraw)
        self._timer.start(REDRAW_MS)

    # ------------------------------------------------------------------------------------------ feeding
    def attach(self, run: Any) -> None:
        """Follow a closed-loop run (prepared: its ROIs are known); its callbacks come from its threads."""
        self.set_rois(list(run.rois.ids))
        run.add_listener("sample", self.sampleArrived.emit)
        run.add_listener("action", self.actionArrived.emit)
        run.add_listener("rule", self.ruleStopped.emit)

    def set_rois(self, ids: list[int]) -> None:
        """Start over with these ROIs."""
        self.roi_ids = [int(i) for i in ids]
        self.samples.clear()
        self.actions.clear()
        self.plot.clear()
        self._marks.clear()
        self._curves = []
        for k, rid in enumerate(self.roi_ids):
            pen = pg.mkPen(PALETTE[k % len(PALETTE)], width=1.5)
            self._curves.append(self.plot.plot([], [], pen=pen, name=f"ROI {rid}"))
            label = pg.TextItem(f"ROI {rid}", color=PALETTE[k % len(PALETTE)], anchor=(0, 1))
            label.setPos(0, k * self.spacing)
            self.plot.addItem(label)
            self._marks.append(("label", label))
        self._dirty = True

    def _on_sample(self, sample: Any) -> None:
        self.samples.append((sample.t, np.asarray(sample.dff, float)))
        self._dirty = True

    def _on_action(self, action: Any) -> None:
        self.actions.append(action)
        self._dirty = True

    def _on_rule(self, name: str, why: str) -> None:
        self.stopped.append((name, why))
        self.status.setText(f"rule {name!r} stopped: {why}")

    # ------------------------------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        """Draw what arrived since the last redraw (the timer calls this)."""
        if not self._dirty or not self.samples:
            return
        self._dirty = False
        t = np.array([s[0] for s in self.samples])
        t_now = t[-1]
        keep = t >= t_now - self.window_s
        t = t[keep]
        dff = np.array([s[1] for s, k in zip(self.samples, keep, strict=True) if k])
        t_rel = t - t_now
        for k, curve in enumerate(self._curves):
            curve.setData(t_rel, dff[:, k] + k * self.spacing)
        for kind, item in self._marks:
            if kind != "label":
                self.plot.removeItem(item)
        self._marks = [m for m in self._marks if m[0] == "label"]
        for _, item in self._marks:
            item.setPos(-self.window_s, item.pos().y())
        top = len(self.roi_ids) * self.spacing
        drawn = 0
        for a in self.actions:
            if a.decision.t_frame < t_now - self.window_s:
                continue
            drawn += 1
            if a.t_gate_open is not None and a.t_gate_close is not None:
                band = pg.LinearRegionItem((a.t_gate_open - t_now, a.t_gate_close - t_now), movable=False,
                                           brush=pg.mkBrush(*LIGHT_BRUSH), pen=pg.mkPen(None))
                self.plot.addItem(band)
                self._marks.append(("band", band))
            color = "#f9a825" if a.outcome == "shown" else "#e53935"
            pen = pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine)
            tick = pg.InfiniteLine(a.decision.t_frame - t_now, angle=90, pen=pen)
            self.plot.addItem(tick)
            near_end = a.decision.t_frame - t_now > -0.2 * self.window_s  # keep the label inside
            name = pg.TextItem(f"{a.decision.rule}: {a.outcome}", color=color,
                               anchor=(1 if near_end else 0, 0))
            name.setPos(a.decision.t_frame - t_now, top - 0.12 * (drawn % 2))  # neighbours on two rows
            self.plot.addItem(name)
            self._marks += [("tick", tick), ("name", name)]
        self.plot.setXRange(-self.window_s, 0, padding=0.01)
        shown = sum(a.outcome == "shown" for a in self.actions)
        if not self.stopped:
            self.status.setText(f"{len(self.roi_ids)} ROIs · {len(self.samples)} frames · "
                                f"{len(self.actions)} rule events, {shown} lit")
