"""Imported ROI outlines on the camera view, and picking which of them become targets.

After *Targets → Import ROIs…* the analysis's outlines (registered into camera px) lie over the live
image, so the user sees which cells the segmentation found and picks the ones to stimulate:

* click inside an outline: pick it (a target at its centroid, id = ROI id + 1) or, if picked, unpick it;
* Shift + rubber band: pick every outline lying wholly inside the band;
* :meth:`RoiOverlay.pick_probability`: exactly the cells with probability ≥ P (hand-placed targets stay).

An outline is *picked* while the target store holds a target with its id, so deleting that marker, or
undoing an import, is seen here at once: the store is the one truth, this overlay only draws it. All
outlines of one state are one curve (NaN-separated), so a thousand ROIs draw as fast as one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QObject, QRectF, pyqtSignal
from PyQt6.QtGui import QColor

from holostim.gui.target_store import TargetStore

PICKED_COLOR = QColor(80, 255, 120, 230)
UNPICKED_COLOR = QColor(150, 170, 255, 170)


@dataclass(frozen=True)
class ShownRoi:
    """One outline as drawn: the ROI's target (camera px), its outline (camera px), its probability."""

    target_id: int
    x: float
    y: float
    outline: np.ndarray
    probability: float | None

    def contains(self, x: float, y: float) -> bool:
        """Whether camera px (x, y) lies inside the outline (even-odd rule)."""
        px, py = self.outline[:, 0], self.outline[:, 1]
        qx, qy = np.roll(px, -1), np.roll(py, -1)
        crosses = (py > y) != (qy > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = px + (y - py) * (qx - px) / (qy - py)
        return bool(np.count_nonzero(crosses & (x < at)) % 2)

    def area(self) -> float:
        """The outline's area (px²): the innermost of nested outlines is the one a click means."""
        x, y = self.outline[:, 0], self.outline[:, 1]
        return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2


class RoiOverlay(QObject):
    """Draws :class:`ShownRoi` outlines on a view box and turns picks into edits of the target store."""

    changed = pyqtSignal(int, int)
    """(outlines shown, outlines picked), after every change of either."""

    def __init__(self, viewbox: pg.ViewBox, store: TargetStore) -> None:
        super().__init__(viewbox)
        self.store = store
        self.rois: list[ShownRoi] = []
        self._curves = {}
        for picked, color in ((False, UNPICKED_COLOR), (True, PICKED_COLOR)):
            curve = pg.PlotCurveItem(pen=pg.mkPen(color, width=2 if picked else 1.2), connect="finite")
            curve.setZValue(15)
            viewbox.addItem(curve, ignoreBounds=True)
            self._curves[picked] = curve
        store.changed.connect(self.redraw)

    def set_rois(self, rois: list[ShownRoi]) -> None:
        """Show these outlines (replacing any shown); ``[]`` hides them."""
        self.rois = [r for r in rois if r.outline is not None and len(r.outline) >= 3]
        self.redraw()

    def picked_ids(self) -> list[int]:
        """Target ids of the outlines picked now (in the order shown)."""
        held = {t.id for t in self.store.targets}
        return [r.target_id for r in self.rois if r.target_id in held]

    def redraw(self) -> None:
        """Redraw both curves from the store's targets."""
        held = {t.id for t in self.store.targets}
        n_picked = 0
        for picked, curve in self._curves.items():
            parts = [np.vstack([r.outline, r.outline[:1], [[np.nan, np.nan]]])
                     for r in self.rois if (r.target_id in held) == picked]
            n_picked += len(parts) if picked else 0
            xy = np.vstack(parts) if parts else np.empty((0, 2))
            curve.setData(xy[:, 0], xy[:, 1], connect="finite")
        self.changed.emit(len(self.rois), n_picked)

    # -- picking -------------------------------------------------------------------------------------
    def roi_at(self, x: float, y: float) -> ShownRoi | None:
        """The innermost outline containing camera px (x, y)."""
        inside = [r for r in self.rois if r.contains(x, y)]
        return min(inside, key=ShownRoi.area) if inside else None

    def click(self, x: float, y: float) -> bool:
        """Toggle the outline under (x, y); ``False`` if there is none (the click is the view's)."""
        roi = self.roi_at(x, y)
        if roi is None:
            return False
        if roi.target_id in self.picked_ids():
            self.store.remove([i for i, t in enumerate(self.store.targets) if t.id == roi.target_id])
        else:
            self._add([roi])
        return True

    def band(self, rect: QRectF) -> list[int]:
        """Pick every outline wholly inside ``rect`` (camera px); returns the ids newly picked."""
        x0, x1, y0, y1 = rect.left(), rect.right(), rect.top(), rect.bottom()
        held = set(self.picked_ids())
        new = [r for r in self.rois if r.target_id not in held
               and np.all((r.outline[:, 0] >= x0) & (r.outline[:, 0] <= x1)
                          & (r.outline[:, 1] >= y0) & (r.outline[:, 1] <= y1))]
        self._add(new)
        return [r.target_id for r in new]

    def pick_probability(self, p: float) -> int:
        """Make the picked outlines exactly those with probability ≥ ``p``; returns how many.

        Targets that are not outlines (clicked by hand) stay; an ROI without a probability (an ImageJ
        one) is not a cell the classifier judged, so this leaves it as it is.
        """
        judged = {r.target_id for r in self.rois if r.probability is not None}
        want = [r for r in self.rois if r.probability is not None and r.probability >= p]
        keep = [t for t in self.store.targets if t.id not in judged]
        have = {t.id for t in keep}
        self.store.set_targets(keep + [self._target(r) for r in want if r.target_id not in have])
        return len(want)

    def _add(self, rois: list[ShownRoi]) -> None:
        if rois:
            self.store.set_targets(list(self.store.targets) + [self._target(r) for r in rois])

    def _target(self, r: ShownRoi):  # noqa: ANN202 - the store's own target type
        from holostim.session.result import Target

        return Target(x=r.x, y=r.y, weight=1.0, group=0, id=r.target_id)


def shown_rois(rois, registration=None) -> list[ShownRoi]:  # noqa: ANN001 - interop's ROISet/Registration
    """The outlines of an imported :class:`~holostim.interop.ROISet` in camera px (ROIs without one: none)."""
    from holostim.interop import to_targets

    out = []
    for roi, t in zip(rois.rois, to_targets(rois, registration), strict=True):
        if roi.outline is None:
            continue
        outline = np.asarray(roi.outline, dtype=np.float64)
        if registration is not None:
            outline = registration.apply(outline)
        out.append(ShownRoi(target_id=int(t.id), x=t.x, y=t.y, outline=outline, probability=roi.probability))
    return out
