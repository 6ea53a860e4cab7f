"""The target table: x, y (camera px), z (µm), weight and group, editable, selection shared with the view.

The z column is the target's depth in the sample (µm from the focal plane, positive deeper); an edit is
checked by the store's rule like a move, so a depth the optics cannot reach (past
``safety.max_depth_um`` or the SLM's defocus range) is kept, flagged "refused: too deep" and explained
in the tooltip. It is the model's last column, shown after y (:data:`Z_COLUMN`, moved in the header), so
the older columns keep their model indices.

The # column is the target's stable id (deleting one does not renumber the rest); the status column
says whether the target is on the SLM now or is an edit not sent yet, so the table, like the markers,
tells what is lit from what is being edited. The mW column is the power the session predicts at the
sample for each target of the pattern on the SLM (the safety gate's number: the laser power × the
spot's share of the light × its diffraction efficiency — what the per-spot limit checks); it is empty
for a target the SLM does not light, and "?" while ``safety.laser_power_mw`` is not stated.
"""

from __future__ import annotations

import math
from typing import Any

from PyQt6.QtCore import QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex, Qt
from PyQt6.QtGui import QBrush, QColor, QKeyEvent
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from holostim.gui.target_store import TargetStore

COLUMNS = ("#", "x", "y", "weight", "group", "status", "mW", "z (µm)")
POWER_COLUMN = 6
STATUS_COLUMN = 5
Z_COLUMN = 7
"""The depth column: last in the model, shown third, after x and y."""
ON_SLM, NOT_SENT = "on SLM", "not sent"
_EDITABLE = {1: "x", 2: "y", 3: "weight", 4: "group", Z_COLUMN: "z_um"}


def short_reason(reason: str) -> str:
    """A few words for the table cell (the full reason is the cell's tooltip)."""
    r = reason.lower()
    if "zero-order" in r or "zero order" in r:
        return "zero order"
    if "outside" in r:
        return "outside SLM field"
    if "calibration" in r:
        return "no calibration"
    if "depth" in r:
        return "too deep"
    return reason if len(reason) <= 30 else reason[:29] + "…"


class TargetTableModel(QAbstractTableModel):
    """Qt model over a :class:`TargetStore` (one row per target)."""

    def __init__(self, store: TargetStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.on_slm: frozenset = frozenset()
        self.power_mw: dict[Any, float | None] = {}
        store.changed.connect(self._reset)

    def set_on_slm(self, targets: Any) -> None:
        """The targets the SLM's pattern lights now (the rows that say "on SLM")."""
        self.on_slm = frozenset(targets)
        self.power_mw = {t: p for t, p in self.power_mw.items() if t in self.on_slm}
        self._reset()

    def set_power(self, targets: Any, power_mw: Any) -> None:
        """The predicted power (mW) at each target of the pattern shown; ``power_mw`` None: not stated."""
        targets = list(targets)
        values = [None] * len(targets) if power_mw is None else [float(p) for p in power_mw]
        self.power_mw = dict(zip(targets, values, strict=True))
        self._reset()

    def _reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, D102 - Qt signature
        return 0 if parent.isValid() else len(self.store)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, D102
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:  # noqa: D102
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = 0) -> Any:  # noqa: D102
        if not index.isValid():
            return None
        t = self.store.targets[index.row()]
        reason = self.store.reasons[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == 0:
                return index.row() + 1 if t.id is None else int(t.id)
            if col in (1, 2):
                v = getattr(t, _EDITABLE[col])
                return f"{v:.1f}" if role == Qt.ItemDataRole.DisplayRole else float(v)
            if col == 3:
                return f"{t.weight:g}" if role == Qt.ItemDataRole.DisplayRole else float(t.weight)
            if col == 4:
                return int(t.group)
            if col == Z_COLUMN:
                z = float(getattr(t, "z_um", 0.0))
                return f"{z:+.1f}" if role == Qt.ItemDataRole.DisplayRole else z
            if col == POWER_COLUMN:
                if t not in self.power_mw or t not in self.on_slm:
                    return ""
                p = self.power_mw[t]
                return "?" if p is None else f"{p:.2f}"
            if reason is not None:
                return f"refused: {short_reason(reason)}"
            return ON_SLM if t in self.on_slm else NOT_SENT
        if role == Qt.ItemDataRole.ToolTipRole and col == POWER_COLUMN:
            return ("predicted power at the sample: safety.laser_power_mw × this spot's share × its "
                    "diffraction efficiency (what safety.max_power_per_spot_mw checks)")
        if role == Qt.ItemDataRole.ForegroundRole and reason is not None:
            return QBrush(QColor(200, 30, 30))
        if role == Qt.ItemDataRole.ToolTipRole and reason is not None:
            return f"not sent to the SLM: {reason}"
        if role == Qt.ItemDataRole.ToolTipRole and t not in self.on_slm:
            return "an edit the SLM does not show yet: Send (Ctrl+Return) puts it there"
        if role == Qt.ItemDataRole.ToolTipRole and col == Z_COLUMN:
            return "depth in the sample, µm from the focal plane (positive: deeper); double-click to edit"
        if role == Qt.ItemDataRole.TextAlignmentRole and col != STATUS_COLUMN:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:  # noqa: D102
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() in _EDITABLE:
            f |= Qt.ItemFlag.ItemIsEditable
        return f

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: D102
        if role != Qt.ItemDataRole.EditRole or index.column() not in _EDITABLE:
            return False
        name = _EDITABLE[index.column()]
        try:
            v = int(value) if name == "group" else float(value)
        except (TypeError, ValueError):
            return False
        if (name == "weight" and not v > 0) or (name == "group" and v < 0) or not math.isfinite(v):
            return False  # weights must be positive, groups non-negative, numbers finite: keep the old value
        self.store.update(index.row(), **{name: v})
        return True


class TargetTable(QTableView):
    """Editable table of targets; its row selection and the view's marker selection follow each other."""

    def __init__(self, store: TargetStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.table_model = TargetTableModel(store, self)
        self.setModel(self.table_model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setStretchLastSection(True)
        hh.moveSection(hh.visualIndex(Z_COLUMN), 3)  # x, y, z (µm) side by side
        self._syncing = False
        self.selectionModel().selectionChanged.connect(self._table_selection_changed)
        store.selectionChanged.connect(self._store_selection_changed)
        store.changed.connect(self._store_selection_changed)

    def _table_selection_changed(self, *_: QItemSelection) -> None:
        if self._syncing:
            return
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        self._syncing = True
        try:
            self.store.set_selection(rows)
        finally:
            self._syncing = False

    def _store_selection_changed(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            sm = self.selectionModel()
            sel = QItemSelection()
            last = self.table_model.columnCount() - 1
            for r in self.store.selection:
                sel.select(self.table_model.index(r, 0), self.table_model.index(r, last))
            sm.select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if self.store.selection:
                self.scrollTo(self.table_model.index(self.store.selection[0], 0))
        finally:
            self._syncing = False

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: D102 - Qt override
        if ev.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.store.selection:
            if self.state() != QAbstractItemView.State.EditingState:
                self.store.remove(self.store.selection)
                ev.accept()
                return
        super().keyPressEvent(ev)
