"""The live camera view: frames, levels, and the targets drawn and edited on top of them.

View coordinates equal camera pixel coordinates (x = column index, y = row index, pixel centres on
integers, row 0 at the top), so a target's (x, y) is exactly where its marker is drawn and where the
session receives it. Mouse handling lives in one ViewBox subclass so that click, drag, right click and
rubber band never fight each other:

* left click on empty image: add a target (optionally snapped to the local intensity centroid);
* left click on a marker: select it (Ctrl/Shift toggles);
* left drag on a marker: move it (all selected markers move together);
* Shift + left drag on empty image: rubber-band selection (and picks the ROI outlines inside it);
* left click inside an imported ROI outline: pick or unpick it (:mod:`holostim.gui.roi_overlay`);
* left drag elsewhere: pan; wheel: zoom;
* right click on a marker, or Delete/Backspace: remove.

The markers tell what the SLM lights from what is being edited: a target in the pattern on the SLM is a
solid ring, an edit not sent yet (manual mode, or after a test pattern) a dashed ring, a refused target a
red cross, and a target that was deleted or moved but is still lit by the SLM's pattern a violet dotted
ghost ring, labelled "(still on SLM)", where the light is, until the next pattern replaces it. While a
protocol runs, the targets of its step's pattern are thick filled amber rings
(:meth:`~CameraView.set_highlight`) and target edits are refused with the reason
(:meth:`~CameraView.set_locked`): the SLM is the protocol's.

Depth: the image is one plane of the sample, the camera's focus (:mod:`holostim.gui.depth_bar` above
the view says which and sets the depth new clicks get). A target within half the axial resolution of
that plane is drawn as above; one on another plane is drawn dimmer (translucent ring and label), with
its depth beside its number ("3 · +20 µm"), since the cell it names is not the one under it in the image.
Dragging moves a target in x and y only: its depth stays.

The image never moves under the cursor: the histogram has a fixed width (its axis labels change width
with the levels), so neither a level change nor a new result reflows the layout around the view.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QKeyEvent, QPen
from PyQt6.QtWidgets import QGraphicsEllipseItem, QGraphicsRectItem, QHBoxLayout, QVBoxLayout, QWidget

from holostim.gui.centroid import snap_to_centroid
from holostim.gui.depth_bar import DepthBar, depth_text
from holostim.gui.roi_overlay import RoiOverlay
from holostim.gui.target_store import TargetStore

pg.setConfigOptions(imageAxisOrder="row-major")

PICK_RADIUS_PX = 10.0
"""How close (screen px) a click must be to a marker to grab it."""
HISTOGRAM_REFRESH_MS = 500
"""The levels histogram follows the live image at 2 Hz."""
HISTOGRAM_WIDTH_PX = 120
"""Fixed width of the levels histogram (wide enough for 6-digit axis labels)."""

OK_COLOR = QColor(0, 230, 255)
SELECTED_COLOR = QColor(255, 210, 0)
REFUSED_COLOR = QColor(255, 60, 60)
UNSENT_COLOR = QColor(235, 235, 235)
GHOST_COLOR = QColor(200, 150, 255, 230)
FIELD_COLOR = QColor(120, 255, 120, 200)
ZERO_COLOR = QColor(255, 120, 40, 220)
HIGHLIGHT_COLOR = QColor(255, 190, 0)
OTHER_PLANE_ALPHA = 110
"""Opacity (of 255) of the markers of targets on another plane than the camera's."""
OTHER_PLANE_LABEL_ALPHA = 180
"""Opacity of their labels (on a dark box): dimmer than the plane's, still read at a glance."""


class _Markers(pg.ScatterPlotItem):
    """Scatter item that leaves every mouse gesture to :class:`TargetViewBox`."""

    def mouseClickEvent(self, ev) -> None:  # noqa: D102 - Qt override
        ev.ignore()

    def mouseDragEvent(self, ev) -> None:  # noqa: D102 - Qt override
        ev.ignore()


class TargetViewBox(pg.ViewBox):
    """ViewBox that turns mouse gestures into target edits on a :class:`TargetStore`."""

    def __init__(self, store: TargetStore, view: CameraView) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._store = store
        self._camera_view = view
        self._drag: list[int] | None = None
        self._drag_origin: dict[int, tuple[float, float]] = {}
        self._band_start: QPointF | None = None
        self._band = QGraphicsRectItem()
        self._band.setPen(pg.mkPen(SELECTED_COLOR, width=1, style=Qt.PenStyle.DashLine))
        self._band.setBrush(pg.mkBrush(255, 210, 0, 40))
        self._band.setZValue(1e9)
        self._band.hide()
        self.addItem(self._band, ignoreBounds=True)

    # -- hit testing ---------------------------------------------------------------------------------
    def marker_at(self, scene_pos: QPointF) -> int | None:
        """Index of the marker nearest to ``scene_pos`` within :data:`PICK_RADIUS_PX`, else ``None``."""
        best, best_d = None, PICK_RADIUS_PX
        for i, t in enumerate(self._store.targets):
            p = self.mapViewToScene(QPointF(t.x, t.y))
            d = float(np.hypot(p.x() - scene_pos.x(), p.y() - scene_pos.y()))
            if d <= best_d:
                best, best_d = i, d
        return best

    # -- mouse ---------------------------------------------------------------------------------------
    def mouseClickEvent(self, ev) -> None:  # noqa: D102 - Qt override
        if self._camera_view.refuse_edit() and ev.button() in (Qt.MouseButton.LeftButton,
                                                              Qt.MouseButton.RightButton):
            ev.accept()
            return
        hit = self.marker_at(ev.scenePos())
        mods = ev.modifiers()
        toggle = bool(mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            if hit is not None:
                sel = set(self._store.selection)
                if toggle:
                    sel ^= {hit}
                else:
                    sel = {hit}
                self._store.set_selection(sel)
            else:
                p = self.mapSceneToView(ev.scenePos())
                if not self._camera_view.rois.click(p.x(), p.y()):
                    self._camera_view.add_target_at(p.x(), p.y())
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            if hit is not None:
                self._store.remove([hit])
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: D102 - Qt override
        if ev.button() != Qt.MouseButton.LeftButton or (self._camera_view.locked and self._drag is None):
            super().mouseDragEvent(ev, axis)  # locked: a drag pans, it moves no target
            return
        if ev.isStart():
            hit = self.marker_at(ev.buttonDownScenePos())
            if hit is not None:
                sel = self._store.selection
                self._drag = sel if hit in sel else [hit]
                if hit not in sel:
                    self._store.set_selection([hit])
                targets = self._store.targets
                self._drag_origin = {i: (targets[i].x, targets[i].y) for i in self._drag}
            elif ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self._band_start = self.mapSceneToView(ev.buttonDownScenePos())
                self._band.show()
            else:
                self._drag = None
                self._band_start = None
        if self._drag is not None:
            ev.accept()
            start = self.mapSceneToView(ev.buttonDownScenePos())
            now = self.mapSceneToView(ev.scenePos())
            dx, dy = now.x() - start.x(), now.y() - start.y()
            if ev.isFinish():
                moved = {i: (x0 + dx, y0 + dy) for i, (x0, y0) in self._drag_origin.items()}
                self._drag = None
                self._camera_view.set_drag_preview(None)
                self._store.move_many(moved)
            else:
                self._camera_view.set_drag_preview(
                    {i: (x0 + dx, y0 + dy) for i, (x0, y0) in self._drag_origin.items()}
                )
            return
        if self._band_start is not None:
            ev.accept()
            now = self.mapSceneToView(ev.scenePos())
            rect = QRectF(self._band_start, now).normalized()
            self._band.setRect(rect)
            if ev.isFinish():
                self._band.hide()
                self._band_start = None
                self._camera_view.rois.band(rect)
                inside = [i for i, t in enumerate(self._store.targets) if rect.contains(QPointF(t.x, t.y))]
                self._store.set_selection(inside)
            return
        super().mouseDragEvent(ev, axis)


class CameraView(QWidget):
    """Camera image with histogram/levels, numbered target markers, field outline and zero order."""

    frameShown = pyqtSignal(int)
    """Emitted with the frame counter after a frame has been put on screen."""
    editRefused = pyqtSignal(str)
    """A click, drag or Delete that would edit the targets while :attr:`locked` (with the reason)."""

    def __init__(self, store: TargetStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.snap_enabled = False
        self.snap_radius = 6
        self._frame: np.ndarray | None = None
        self._levels_set = False
        self._drag_preview: dict[int, tuple[float, float]] | None = None
        self._on_slm: tuple = ()
        self.locked: str | None = None
        self.focus_z_um = 0.0
        self.plane_half_width_um = 0.0
        self._marker_depths: list[tuple[str, bool]] = []
        self.depth_bar = DepthBar()
        self.depth_bar.focusChanged.connect(self.set_focus)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(QColor(16, 16, 20))
        self.viewbox = TargetViewBox(store, self)
        self.graphics.addItem(self.viewbox)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.image)
        self.histogram = pg.HistogramLUTWidget(image=self.image)
        self.histogram.setFixedWidth(HISTOGRAM_WIDTH_PX)
        # pyqtgraph recomputes and redraws the histogram for every new image; at the camera's frame rate
        # that costs the GUI thread more than the image itself and takes CPU from the hologram engine.
        # A histogram refreshed a few times a second reads the same.
        self.image.sigImageChanged.disconnect(self.histogram.item.imageChanged)
        self._histogram_stale = False
        self._histogram_timer = QTimer(self)
        self._histogram_timer.setInterval(HISTOGRAM_REFRESH_MS)
        self._histogram_timer.timeout.connect(self._refresh_histogram)
        self._histogram_timer.start()

        self._field = pg.PlotCurveItem(pen=pg.mkPen(FIELD_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self._field.setZValue(10)
        self.viewbox.addItem(self._field, ignoreBounds=True)
        self._zero = QGraphicsEllipseItem()
        pen = QPen(ZERO_COLOR)
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        self._zero.setPen(pen)
        self._zero.setZValue(10)
        self._zero.hide()
        self.viewbox.addItem(self._zero, ignoreBounds=True)
        self._zero_cross = _Markers(
            symbol="+", size=12, pen=pg.mkPen(ZERO_COLOR, width=1.5), brush=None
        )
        self._zero_cross.setZValue(10)
        self.viewbox.addItem(self._zero_cross, ignoreBounds=True)

        self._ghosts = _Markers(pxMode=True)
        self._ghosts.setZValue(19)
        self.viewbox.addItem(self._ghosts, ignoreBounds=True)
        self._markers = _Markers(pxMode=True)
        self._markers.setZValue(20)
        self.viewbox.addItem(self._markers, ignoreBounds=True)
        self._labels: list[pg.TextItem] = []
        self._highlight = _Markers(pxMode=True)
        self._highlight.setZValue(22)
        self.viewbox.addItem(self._highlight, ignoreBounds=True)
        self.rois = RoiOverlay(self.viewbox, store)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.depth_bar)
        lay = QHBoxLayout()
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.histogram)
        outer.addLayout(lay, 1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        store.changed.connect(self.redraw_targets)
        store.selectionChanged.connect(self.redraw_targets)

    # -- image ---------------------------------------------------------------------------------------
    @property
    def frame(self) -> np.ndarray | None:
        """The frame on screen (camera dtype), or ``None`` before the first one."""
        return self._frame

    def set_frame(self, frame: np.ndarray, counter: int = 0) -> None:
        """Show a camera frame; the first one sets the view range and automatic levels."""
        first = self._frame is None or self._frame.shape != frame.shape
        self._frame = frame
        self.image.setImage(frame, autoLevels=not self._levels_set)
        if first:
            h, w = frame.shape[:2]
            self.image.setRect(QRectF(-0.5, -0.5, w, h))
            self.viewbox.setRange(xRange=(-0.5, w - 0.5), yRange=(-0.5, h - 0.5), padding=0.01)
        if not self._levels_set:
            lo, hi = np.percentile(frame, (0.5, 99.8))
            self.histogram.setLevels(float(lo), float(max(hi, lo + 1)))
            self._levels_set = True
        self._histogram_stale = True
        if first:
            self._refresh_histogram()
        self.frameShown.emit(int(counter))

    def _refresh_histogram(self) -> None:
        if self._histogram_stale:
            self._histogram_stale = False
            self.histogram.item.imageChanged()

    def auto_levels(self) -> None:
        """Set levels from the current frame's 0.5 and 99.8 percentiles (ignores hot pixels)."""
        if self._frame is not None:
            lo, hi = np.percentile(self._frame, (0.5, 99.8))
            self.histogram.setLevels(float(lo), float(max(hi, lo + 1)))

    def fit_image(self) -> None:
        """Zoom and pan so the whole frame fills the view."""
        if self._frame is not None:
            h, w = self._frame.shape[:2]
            self.viewbox.setRange(xRange=(-0.5, w - 0.5), yRange=(-0.5, h - 0.5), padding=0.01)

    # -- overlays ------------------------------------------------------------------------------------
    def set_field_outline(self, outline_xy: np.ndarray | None) -> None:
        """Draw the SLM's addressable field as a closed polygon ((n, 2) camera px), or hide it."""
        if outline_xy is None or len(outline_xy) == 0:
            self._field.setData([], [])
            return
        xy = np.asarray(outline_xy, dtype=float)
        xy = np.vstack([xy, xy[:1]])
        self._field.setData(xy[:, 0], xy[:, 1])

    def set_zero_order(self, xy: tuple[float, float] | None, radius: float = 0.0) -> None:
        """Mark the zero order (camera px) with a cross and its exclusion circle of ``radius`` px."""
        if xy is None:
            self._zero.hide()
            self._zero_cross.setData([], [])
            return
        x, y = float(xy[0]), float(xy[1])
        self._zero_cross.setData([x], [y])
        if radius > 0:
            self._zero.setRect(QRectF(x - radius, y - radius, 2 * radius, 2 * radius))
            self._zero.show()
        else:
            self._zero.hide()

    # -- targets -------------------------------------------------------------------------------------
    def add_target_at(self, x: float, y: float) -> int:
        """Add a target where the user clicked (snapped if enabled), at the bar's new-target depth."""
        if self.snap_enabled and self._frame is not None:
            x, y = snap_to_centroid(self._frame, x, y, radius=self.snap_radius)
        return self.store.add(x, y, z_um=self.depth_bar.new_depth_um)

    # -- depth ---------------------------------------------------------------------------------------
    def attach_depth(self, session) -> None:
        """Depths for ``session``: how deep clicks may go, which plane its camera images, how thick it is.

        New targets may go as deep as ``safety.max_depth_um`` and the SLM's defocus range allow (the
        focal plane only without a defocus model); a target counts as on the camera's plane within half
        the axial resolution of the objective (:func:`~holostim.holography.defocus.axial_resolution_um`).
        """
        cfg = session.config
        reach = session.depth_range_um
        limit = 0.0 if reach is None else min(float(cfg.safety.max_depth_um), reach)
        why = ("no defocus model: optics.objective_na is not below the medium index" if reach is None else
               "safety.max_depth_um" if limit < reach else "the SLM's defocus range")
        self.depth_bar.set_limit(limit, why)
        model = cfg.defocus_model()
        self.set_plane_half_width(0.0 if model is None else model.axial_resolution_um / 2)
        self.depth_bar.attach(session.camera)

    def set_focus(self, z_um: float) -> None:
        """The plane the camera images (sample µm): targets elsewhere are drawn dimmer."""
        self.focus_z_um = float(z_um)
        self.redraw_targets()

    def set_plane_half_width(self, half_width_um: float) -> None:
        """How far (µm) from the camera's plane a target still counts as on it (half the axial resolution)."""
        self.plane_half_width_um = max(0.0, float(half_width_um))
        self.redraw_targets()

    def on_camera_plane(self, target) -> bool:
        """Whether ``target`` is within :attr:`plane_half_width_um` of the plane the camera images."""
        return abs(float(getattr(target, "z_um", 0.0)) - self.focus_z_um) <= self.plane_half_width_um + 1e-9

    def marker_depths(self) -> list[tuple[str, bool]]:
        """(label, dim) of every target's marker, in target order: dim = drawn as on another plane."""
        return list(self._marker_depths)

    def set_drag_preview(self, positions: dict[int, tuple[float, float]] | None) -> None:
        """Draw markers at provisional positions while a drag is in progress."""
        self._drag_preview = positions
        self.redraw_targets()

    def set_on_slm(self, targets: tuple) -> None:
        """The targets the SLM's pattern lights now; the others are drawn as unsent edits or ghosts."""
        self._on_slm = tuple(targets)
        self.redraw_targets()

    def set_locked(self, reason: str | None) -> None:
        """Refuse target edits with ``reason`` (a protocol owns the SLM), or allow them (``None``)."""
        self.locked = reason

    def refuse_edit(self) -> bool:
        """Whether an edit must be refused now (it is then announced by :attr:`editRefused`)."""
        if self.locked is not None:
            self.editRefused.emit(self.locked)
            return True
        return False

    def set_highlight(self, targets: tuple) -> None:
        """Draw the targets of the pattern that is on (a protocol step) distinctly; ``()`` clears."""
        self._highlight.setData([{"pos": (t.x, t.y), "size": 34, "symbol": "o",
                                  "pen": pg.mkPen(HIGHLIGHT_COLOR, width=4),
                                  "brush": pg.mkBrush(255, 190, 0, 60)} for t in targets])

    def highlighted(self) -> list[tuple[float, float]]:
        """Where the highlight rings are drawn (camera px)."""
        return [(float(p["x"]), float(p["y"])) for p in self._highlight.data]

    def marker_positions(self) -> list[tuple[float, float]]:
        """Where each marker is drawn (camera px), in target order."""
        pts = self._markers.data
        return [(float(p["x"]), float(p["y"])) for p in pts]

    def marker_states(self) -> list[tuple[float, float, str]]:
        """(x, y, kind) of every marker drawn, the targets in order, then the ghosts.

        A target's kind is "on SLM", "unsent" or "refused"; a ghost ("ghost") is lit by the SLM's pattern
        but no longer among the targets.
        """
        kinds = [self._kind(t, r) for t, r in zip(self.store.targets, self.store.reasons, strict=True)]
        out = [(x, y, k) for (x, y), k in zip(self.marker_positions(), kinds, strict=True)]
        return out + [(float(p["x"]), float(p["y"]), "ghost") for p in self._ghosts.data]

    def _kind(self, target, reason: str | None) -> str:
        if reason is not None:
            return "refused"
        return "on SLM" if target in self._on_slm else "unsent"

    def _label(self, text: str, x: float, y: float, color: QColor, italic: bool = False,
               backed: bool = False) -> None:
        font = QFont()
        font.setPointSize(10)
        font.setBold(not italic)
        font.setItalic(italic)
        # A dim label is backed by a dark box: its translucent text must stay legible over a bright soma.
        fill = pg.mkBrush(0, 0, 0, 150) if backed else None
        label = pg.TextItem(text, color=color, anchor=(-0.35, 1.2), fill=fill)
        label.setFont(font)
        label.setPos(x, y)
        label.setZValue(21)
        label.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.viewbox.addItem(label, ignoreBounds=True)
        self._labels.append(label)

    def redraw_targets(self) -> None:
        """Redraw the markers, labelled with the targets' ids (see the module docstring for the kinds)."""
        targets = self.store.targets
        reasons = self.store.reasons
        sel = set(self.store.selection)
        spots = []
        for label in self._labels:
            self.viewbox.removeItem(label)
        self._labels = []
        self._marker_depths = []
        for i, (t, reason) in enumerate(zip(targets, reasons, strict=True)):
            x, y = t.x, t.y
            if self._drag_preview and i in self._drag_preview:
                x, y = self._drag_preview[i]
            kind = self._kind(t, reason)
            color = QColor(REFUSED_COLOR if kind == "refused" else SELECTED_COLOR if i in sel
                           else OK_COLOR if kind == "on SLM" else UNSENT_COLOR)
            name = str(i + 1 if t.id is None else t.id)
            dim = not self.on_camera_plane(t)
            label_color = QColor(color)
            if dim:  # another plane: the cell it names is not the one under it in this image
                color.setAlpha(OTHER_PLANE_ALPHA)
                label_color.setAlpha(OTHER_PLANE_LABEL_ALPHA)
                name = f"{name} · {depth_text(t.z_um)}"
            self._marker_depths.append((name, dim))
            style = Qt.PenStyle.DashLine if kind == "unsent" else Qt.PenStyle.SolidLine
            spots.append(
                {
                    "pos": (x, y),
                    "size": 24 if reason is None else 14,
                    "symbol": "x" if reason else "o",
                    "pen": pg.mkPen(color, width=3 if i in sel else 2, style=style),
                    "brush": pg.mkBrush(color) if reason else None,
                    "data": i,
                }
            )
            self._label(name, x, y, label_color, backed=dim)
        current = set(targets)
        ghosts = []
        for t in self._on_slm:
            if t not in current:  # deleted or moved since it was sent: its light is still there
                ghosts.append({"pos": (t.x, t.y), "size": 24, "symbol": "o", "brush": None,
                               "pen": pg.mkPen(GHOST_COLOR, width=2.5, style=Qt.PenStyle.DotLine)})
                name = "" if t.id is None else f"{t.id} "
                self._label(f"{name}(still on SLM)", t.x, t.y, GHOST_COLOR, italic=True)
        self._ghosts.setData(ghosts)
        self._markers.setData(spots)

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: D102 - Qt override
        if ev.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.store.selection:
            if self.refuse_edit():
                ev.accept()
                return
            self.store.remove(self.store.selection)
            ev.accept()
            return
        super().keyPressEvent(ev)

    # -- helpers for tests and scripts ---------------------------------------------------------------
    def viewport_pos(self, x: float, y: float):
        """Widget position on :attr:`graphics`' viewport of camera pixel (x, y) (for synthetic clicks)."""
        scene = self.viewbox.mapViewToScene(QPointF(float(x), float(y)))
        return self.graphics.mapFromScene(scene)

