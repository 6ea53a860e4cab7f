"""The napari dock: a holostim session's camera and targets as napari layers, kept in sync both ways.

Labs that analyse in napari pick cells there; this dock lets them do it on the rig. It opens a session
file (the simulation by default), shows the live camera as an Image layer and the session's targets as a
Points layer ``holostim targets``: adding, moving or deleting points (napari's own tools) becomes the
session's target list, each point keeping its target id and depth (features ``id`` and ``z_um``: the
points are 2-D over the camera's one plane, and a moved point keeps its target's depth); whenever the
session shows a pattern (from this dock or any other caller) the points become its targets again.
Every point is coloured by the session's own check — cyan accepted, red refused (outside the SLM's
field, in the zero order, too deep) with the reason in the dock. *Send* computes and shows the
accepted targets through the session's one path (``Session.apply``: the safety gate and the log), on a
worker thread. ROI files import as Labels and Shapes layers; *Targets from outlines* turns the selected
outlines (or every cell) into targets at their centroids, id = ROI id + 1.

The camera is polled on napari's thread with ``Camera.latest()`` (the acquisition runs on the camera's
own thread; only new frames are drawn), so napari stays responsive.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from holostim.errors import HolostimError
from holostim.napari.layers import roi_layers

__all__ = ["POINTS", "CAMERA", "HolostimDock", "default_session"]

POINTS = "holostim targets"
CAMERA = "holostim camera"
OK_RGBA = (0.0, 0.9, 1.0, 1.0)
REFUSED_RGBA = (1.0, 0.24, 0.24, 1.0)
CAMERA_POLL_MS = 50


def default_session() -> Path:
    """The simulation session shipped with the package."""
    return Path(str(resources.files("holostim") / "data" / "simulation.yaml"))


class HolostimDock(QWidget):
    """Session file · Connect · Send · Import ROIs · Targets from outlines, and one status line."""

    _sent = pyqtSignal(str, bool)  # message, is_error: from the send thread to napari's
    _shown = pyqtSignal()  # the session showed a pattern (from any thread): its targets are the truth

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session: Any = None
        self.reasons: list[str | None] = []
        self.rois: Any = None  # the last imported ROISet, for Targets from outlines
        self._outlines: Any = None
        self._syncing = False
        self._last_counter = -1
        self._send_thread: threading.Thread | None = None

        self.path_edit = QLineEdit(str(default_session()))
        self.connect_button = QPushButton("Connect")
        self.send_button = QPushButton("Send")
        self.import_button = QPushButton("Import ROIs…")
        self.outline_button = QPushButton("Targets from outlines")
        self.status = QLabel("not connected")
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.connect_button)
        lay.addLayout(row)
        for w in (self.send_button, self.import_button, self.outline_button, self.status):
            lay.addWidget(w)
        lay.addStretch(1)
        self.send_button.setEnabled(False)
        self.connect_button.clicked.connect(
            lambda: self._guard(lambda: self.connect_session(self.path_edit.text())))
        self.send_button.clicked.connect(self.send)
        self.import_button.clicked.connect(self._import_dialog)
        self.outline_button.clicked.connect(lambda: self._guard(self.targets_from_outlines))
        self._sent.connect(self._show)
        self._shown.connect(self.pull_targets)
        self._unlisten: Any = None
        self._timer = QTimer(self)
        self._timer.setInterval(CAMERA_POLL_MS)
        self._timer.timeout.connect(self._poll_camera)

    # -- session ---------------------------------------------------------------------------------
    def connect_session(self, path: str | Path | None = None) -> None:
        """Open the session file (default: the simulation), start its camera, add the two layers."""
        from holostim.session import Session

        self.disconnect_session()
        self.session = Session.open(Path(path) if path else default_session())
        self.session.camera.start()
        h, w = self.session.camera.shape[:2]
        if CAMERA in self.viewer.layers:
            self.viewer.layers.remove(CAMERA)
        self.viewer.add_image(np.zeros((h, w), dtype=np.float32), name=CAMERA, colormap="gray")
        points = self._points()
        points.events.data.connect(self._points_changed)
        self._unlisten = self.session.add_listener("result", lambda _result: self._shown.emit())
        self.pull_targets()
        self._timer.start()
        self.send_button.setEnabled(True)
        self._show(f"connected to {self.session.path or path}: camera {w}×{h}", False)

    def disconnect_session(self) -> None:
        """Stop polling and close the session (its log's last record written); layers stay."""
        self._timer.stop()
        if self._send_thread is not None:
            self._send_thread.join(timeout=30)
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self.session is not None and not self.session.closed:
            self.session.close()
        self.session = None
        self.send_button.setEnabled(False)

    def _poll_camera(self) -> None:
        frame = self.session.camera.latest() if self.session is not None else None
        if frame is not None and frame.counter != self._last_counter and CAMERA in self.viewer.layers:
            self._last_counter = frame.counter
            self.viewer.layers[CAMERA].data = frame.image

    # -- targets <-> points ----------------------------------------------------------------------
    def _points(self) -> Any:
        if POINTS not in self.viewer.layers:
            self.viewer.add_points(np.empty((0, 2)), name=POINTS, size=12,
                                   features={"id": np.empty(0, int), "z_um": np.empty(0, float)},
                                   border_color="white")
        return self.viewer.layers[POINTS]

    def pull_targets(self) -> None:
        """Show the session's targets as the points (session → napari)."""
        targets = list(self.session.targets) if self.session is not None else []
        layer = self._points()
        self._syncing = True
        try:
            layer.data = np.array([(t.y, t.x) for t in targets], dtype=float).reshape(-1, 2)
            layer.features = {"id": np.array([t.id if t.id is not None else -1 for t in targets], dtype=int),
                              "z_um": np.array([t.z_um for t in targets], dtype=float)}
        finally:
            self._syncing = False
        self._color(targets)

    def _points_changed(self, event: Any = None) -> None:
        action = str(getattr(event, "action", "changed"))
        if self._syncing or self.session is None or action in ("adding", "changing", "removing"):
            return
        from holostim.session import Target

        layer = self._points()
        ids = [int(i) for i in np.asarray(layer.features.get("id", []), dtype=float).astype(int)] \
            if len(layer.features) == len(layer.data) else [-1] * len(layer.data)
        taken = {i for i in ids if i > 0}
        old = {t.id: t for t in self.session.targets}
        nxt = max(taken | set(old) | {0}) + 1
        targets, seen = [], set()
        for (r, c), tid in zip(np.asarray(layer.data, float), ids, strict=True):
            if tid <= 0 or tid in seen:  # a new point (or a copy): the next id
                tid, nxt = nxt, nxt + 1
            seen.add(tid)
            prev = old.get(tid)
            targets.append(Target(float(c), float(r), prev.weight if prev else 1.0,
                                  prev.group if prev else 0, tid, prev.z_um if prev else 0.0))
        self.session.targets = targets
        self._syncing = True
        try:
            layer.features = {"id": np.array([t.id for t in targets], dtype=int),
                              "z_um": np.array([t.z_um for t in targets], dtype=float)}
        finally:
            self._syncing = False
        self._color(targets)

    def _color(self, targets: list[Any]) -> None:
        self.reasons = [self.session.check_target(t.x, t.y, t.z_um) if self.session is not None else None
                        for t in targets]
        layer = self._points()
        if len(targets):
            layer.face_color = np.array([REFUSED_RGBA if r else OK_RGBA for r in self.reasons])
        refused = [(t.id, r) for t, r in zip(targets, self.reasons, strict=True) if r]
        if refused:
            self._show("; ".join(f"target {i} refused: {r}" for i, r in refused), True)

    # -- send ------------------------------------------------------------------------------------
    def send(self) -> None:
        """Compute and show the accepted targets on the SLM (through the session), off napari's thread."""
        if self.session is None or (self._send_thread is not None and self._send_thread.is_alive()):
            return
        accepted = [t for t, r in zip(self.session.targets, self.reasons, strict=False) if r is None]
        session = self.session

        def work() -> None:
            try:
                res = session.apply(accepted)
                eff = res.metrics.efficiency if res.metrics is not None else float("nan")
                laser = "permitted" if session.laser_permitted else f"blocked: {session.permit_reason}"
                self._sent.emit(f"sent {len(res.targets)} spots (efficiency {eff:.2f}); laser {laser}", False)
            except HolostimError as exc:
                self._sent.emit(str(exc), True)

        self._send_thread = threading.Thread(target=work, name="holostim-napari-send", daemon=True)
        self._send_thread.start()

    # -- ROIs ------------------------------------------------------------------------------------
    def import_rois(self, path: str | Path) -> list[Any]:
        """Add an ROI file's Labels and Shapes layers; remembered for *Targets from outlines*."""
        from holostim.interop import read_rois

        p = Path(path)
        self.rois = read_rois(p)
        added = []
        for data, meta, kind in roi_layers(self.rois, p.parent.name if p.name == "stat.npy" else p.stem):
            layer = getattr(self.viewer, f"add_{kind}")(data, **meta)
            added.append(layer)
            if kind == "shapes":
                self._outlines = layer
        self._show(f"imported {len(self.rois)} {self.rois.format} ROIs from {p.name}", False)
        return added

    def targets_from_outlines(self) -> int:
        """Targets at the selected outlines' centroids (none selected: the analysis's cells)."""
        from holostim.interop import to_targets

        if self.rois is None or self._outlines is None or self.session is None:
            raise HolostimError("import ROIs and connect a session first")
        roi_ids = list(np.asarray(self._outlines.features["roi_id"], int))
        chosen = sorted(self._outlines.selected_data)
        cells = {r.id for r in self.rois if r.is_cell is not False}
        wanted = {roi_ids[i] for i in chosen} if chosen else cells
        from dataclasses import replace

        new = to_targets(replace(self.rois, rois=tuple(r for r in self.rois if r.id in wanted)))
        new_ids = {t.id for t in new}
        self.session.targets = [t for t in self.session.targets if t.id not in new_ids] + new
        self.pull_targets()
        return len(new)

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import ROIs", "",
                                              "ROIs (stat.npy *.hdf5 *.h5 *.zip *.roi *.nwb);;All files (*)")
        if path:
            self._guard(lambda: self.import_rois(path))

    # -- messages --------------------------------------------------------------------------------
    def _show(self, text: str, error: bool) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #ff6060" if error else "")

    def _guard(self, fn: Any) -> None:
        try:
            fn()
        except (HolostimError, OSError) as exc:
            self._show(str(exc), True)
