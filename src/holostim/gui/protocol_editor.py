"""The protocol editor: a protocol's patterns and schedule as widgets, read back as a ProtocolConfig.

The editor holds no protocol of its own: the widgets are the protocol, and :meth:`ProtocolEditor.protocol`
validates them with the protocol file's own model every time it is asked, so what the dock runs or saves
is exactly what a file with the same content would give (same bounds, same messages). A problem is one
line naming the step or pattern in the words of the editor ("step 2: duration ms: ..."), and nothing the
user typed is changed or dropped by a failed check.

Patterns are made from the target table's groups ("Patterns from groups": one pattern per group of the
current targets, named ``group g``), or come from a loaded file, which may also select targets by
``ids`` or from a ``targets_file``; those selections are kept as they were loaded (shown, not edited
here) and written back unchanged. The name and the power per spot of every pattern are editable;
renaming a pattern renames it in the steps that show it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from holostim.protocol.errors import ProtocolError
from holostim.protocol.model import MAX_INTERVAL_MS, MAX_RUN_STEPS, PatternSpec, ProtocolConfig

DEFAULT_STEP_MS = 100.0
"""Duration of the steps "Patterns from groups" makes when no step is left (one per pattern)."""
DEFAULT_NAME = "protocol"
ORDERS = ("fixed", "random")
TRIGGERS = ("timer", "ttl_per_step", "ttl_start")
TRIGGER_TEXT = {"timer": "timer (free running)", "ttl_per_step": "TTL-in per step",
                "ttl_start": "TTL-in to start"}
P_NAME, P_TARGETS, P_POWER = range(3)
S_PATTERN, S_DURATION, S_POWER = range(3)
_SPEC_ROLE = Qt.ItemDataRole.UserRole
"""Where a pattern row keeps its :class:`PatternSpec` (the selection; its power is the row's cell)."""


def describe_spec(spec: PatternSpec) -> str:
    """What a pattern selects, in a few words (the patterns table's "targets" cell)."""
    if spec.group is not None:
        what = f"group {spec.group}"
    elif spec.ids is not None:
        shown = ", ".join(map(str, spec.ids[:8])) + (", …" if len(spec.ids) > 8 else "")
        what = f"ids {shown}"
    else:
        what = "all targets"
    return what if spec.targets_file is None else f"{what} of {spec.targets_file.name}"


def _number(text: str, where: str) -> float | None:
    """A table cell as a number (``None`` when empty); a word that is not one is one clear line."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ProtocolError(f"{where}: {text!r} is not a finite number")
    return value


def _where(loc: Sequence[Any], steps: int) -> str:
    """A pydantic location in the editor's words: ``step 2: duration ms``, ``pattern 'a': power``."""
    loc = list(loc)
    words = {"duration_ms": "duration ms", "power_mw_per_spot": "mW per spot", "pattern": "pattern"}
    if loc[:2] == ["schedule", "steps"] and len(loc) > 2 and isinstance(loc[2], int) and loc[2] < steps:
        rest = ": ".join(words.get(str(p), str(p)) for p in loc[3:])
        return f"step {loc[2] + 1}" + (f": {rest}" if rest else "")
    if loc[:1] == ["patterns"] and len(loc) > 1:
        rest = ": ".join(words.get(str(p), str(p)) for p in loc[2:])
        return f"pattern {loc[1]!r}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in loc)


def validation_line(exc: ValidationError, steps: int) -> str:
    """One line for every problem pydantic found, each naming where in the editor it is."""
    parts = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        where = _where(err.get("loc", ()), steps)
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


class ProtocolEditor(QWidget):
    """Name, patterns table, steps table and schedule fields of one protocol."""

    edited = pyqtSignal()
    """Anything the user can change changed (the dock checks the protocol again)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []  # the pattern names as the step combos last knew them
        self._filling = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

        top = QFormLayout()
        self.name_edit = QLineEdit(DEFAULT_NAME)
        self.name_edit.setToolTip("the protocol's name (in the log's protocol record)")
        top.addRow("name", self.name_edit)
        lay.addLayout(top)

        lay.addWidget(QLabel("<b>Patterns</b> (mW per spot empty: the rig's laser power)"))
        self.patterns_table = QTableWidget(0, 3)
        self.patterns_table.setHorizontalHeaderLabels(["name", "targets", "mW per spot"])
        self._table_look(self.patterns_table)
        lay.addWidget(self.patterns_table, 1)
        prow = QHBoxLayout()
        self.groups_button = QPushButton("Patterns from groups")
        self.groups_button.setToolTip("one pattern per group of the current targets (the table's group "
                                      "column), named 'group g'")
        self.remove_pattern_button = QPushButton("Remove pattern")
        prow.addWidget(self.groups_button)
        prow.addStretch(1)
        prow.addWidget(self.remove_pattern_button)
        lay.addLayout(prow)

        lay.addWidget(QLabel("<b>Steps</b> of one trial (mW per spot empty: the pattern's)"))
        self.steps_table = QTableWidget(0, 3)
        self.steps_table.setHorizontalHeaderLabels(["pattern", "duration ms", "mW per spot"])
        self._table_look(self.steps_table)
        lay.addWidget(self.steps_table, 1)
        srow = QHBoxLayout()
        self.add_step_button = QPushButton("Add step")
        self.remove_step_button = QPushButton("Remove step")
        srow.addWidget(self.add_step_button)
        srow.addStretch(1)
        srow.addWidget(self.remove_step_button)
        lay.addLayout(srow)

        form = QFormLayout()
        self.repetitions_spin = QSpinBox()
        self.repetitions_spin.setRange(1, MAX_RUN_STEPS)
        self.inter_step_spin = self._ms_spin("gate closed between two steps of a trial")
        self.inter_trial_spin = self._ms_spin("gate closed between two trials")
        self.baseline_pre_spin = self._ms_spin("before the first step")
        self.baseline_post_spin = self._ms_spin("after the last step")
        self.order_combo = QComboBox()
        self.order_combo.addItems(ORDERS)
        self.order_combo.setToolTip("random: the steps of each trial shuffled with the seed")
        self.seed_edit = QLineEdit()
        self.seed_edit.setPlaceholderText("drawn and logged")
        self.seed_edit.setToolTip("an integer ≥ 0; the same seed gives the same order")
        self.trigger_combo = QComboBox()
        for t in TRIGGERS:
            self.trigger_combo.addItem(TRIGGER_TEXT[t], t)
        self.timeout_spin = QDoubleSpinBox()
        self.timeout_spin.setRange(0.001, 86_400.0)
        self.timeout_spin.setDecimals(3)
        self.timeout_spin.setValue(60.0)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setToolTip("the longest wait for a TTL-in before the run aborts")
        form.addRow("repetitions", self.repetitions_spin)
        form.addRow("inter-step", self.inter_step_spin)
        form.addRow("inter-trial", self.inter_trial_spin)
        form.addRow("baseline pre", self.baseline_pre_spin)
        form.addRow("baseline post", self.baseline_post_spin)
        order_row = QHBoxLayout()
        order_row.addWidget(self.order_combo)
        order_row.addWidget(QLabel("seed"))
        order_row.addWidget(self.seed_edit, 1)
        form.addRow("order", order_row)
        form.addRow("trigger", self.trigger_combo)
        form.addRow("trigger timeout", self.timeout_spin)
        lay.addLayout(form)

        self.remove_pattern_button.clicked.connect(self.remove_selected_patterns)
        self.add_step_button.clicked.connect(lambda: self.add_step())
        self.remove_step_button.clicked.connect(self.remove_selected_steps)
        self.patterns_table.itemChanged.connect(self._pattern_edited)
        self.steps_table.itemChanged.connect(lambda _item: self._changed())
        self.name_edit.textEdited.connect(lambda _t: self._changed())
        self.seed_edit.textEdited.connect(lambda _t: self._changed())
        for spin in (self.repetitions_spin, self.inter_step_spin, self.inter_trial_spin,
                     self.baseline_pre_spin, self.baseline_post_spin, self.timeout_spin):
            spin.valueChanged.connect(lambda _v: self._changed())
        for combo in (self.order_combo, self.trigger_combo):
            combo.currentIndexChanged.connect(lambda _i: self._changed())

    @staticmethod
    def _table_look(table: QTableWidget) -> None:
        table.verticalHeader().setVisible(False)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.setMinimumHeight(90)

    @staticmethod
    def _ms_spin(tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(0.0, MAX_INTERVAL_MS)
        spin.setDecimals(3)  # a loaded 0.25 ms interval must come back as 0.25, not 0.2
        spin.setSuffix(" ms")
        spin.setToolTip(tip)
        return spin

    def _changed(self) -> None:
        if not self._filling:
            self.edited.emit()

    # ========================================================================================== patterns
    def pattern_names(self) -> list[str]:
        """The pattern names as the table shows them, in order."""
        t = self.patterns_table
        return [t.item(r, P_NAME).text() for r in range(t.rowCount())]

    def _add_pattern_row(self, name: str, spec: PatternSpec) -> None:
        t = self.patterns_table
        r = t.rowCount()
        filling, self._filling = self._filling, True
        try:
            t.insertRow(r)
            t.setItem(r, P_NAME, QTableWidgetItem(name))
            what = QTableWidgetItem(describe_spec(spec))
            what.setFlags(what.flags() & ~Qt.ItemFlag.ItemIsEditable)
            what.setData(_SPEC_ROLE, spec.model_copy(update={"power_mw_per_spot": None}))
            t.setItem(r, P_TARGETS, what)
            power = spec.power_mw_per_spot
            t.setItem(r, P_POWER, QTableWidgetItem("" if power is None else f"{power:g}"))
        finally:
            self._filling = filling

    def patterns_from_groups(self, targets: Sequence[Any]) -> list[str]:
        """One pattern per target group (``group g``), replacing the patterns; returns their names.

        A pattern of the same name keeps the power per spot typed for it. Steps that show a pattern still
        there are kept; when none is left, each pattern gets one step of :data:`DEFAULT_STEP_MS`.
        """
        groups = sorted({int(t.group) for t in targets})
        if not groups:
            raise ProtocolError("no targets: click neurons on the camera image first, and give them groups "
                                "in the targets table")
        old_power = {self.pattern_names()[r]: self.patterns_table.item(r, P_POWER).text()
                     for r in range(self.patterns_table.rowCount())}
        self._filling = True
        try:
            self.patterns_table.setRowCount(0)
            for g in groups:
                name = f"group {g}"
                self._add_pattern_row(name, PatternSpec(group=g))
                if old_power.get(name):
                    self.patterns_table.item(self.patterns_table.rowCount() - 1, P_POWER).setText(
                        old_power[name])
            names = self.pattern_names()
            self._names = names
            for r in reversed(range(self.steps_table.rowCount())):
                if self._step_combo(r).currentText() not in names:
                    self.steps_table.removeRow(r)
            for r in range(self.steps_table.rowCount()):
                self._fill_combo(self._step_combo(r), self._step_combo(r).currentText())
            if self.steps_table.rowCount() == 0:
                for name in names:
                    self.add_step(name, DEFAULT_STEP_MS)
        finally:
            self._filling = False
        self.edited.emit()
        return self.pattern_names()

    def remove_selected_patterns(self) -> None:
        """Remove the selected patterns and the steps that show them."""
        rows = sorted({i.row() for i in self.patterns_table.selectedIndexes()}, reverse=True)
        if not rows:
            return
        gone = {self.pattern_names()[r] for r in rows}
        self._filling = True
        try:
            for r in rows:
                self.patterns_table.removeRow(r)
            for r in reversed(range(self.steps_table.rowCount())):
                if self._step_combo(r).currentText() in gone:
                    self.steps_table.removeRow(r)
            self._names = self.pattern_names()
            for r in range(self.steps_table.rowCount()):
                self._fill_combo(self._step_combo(r), self._step_combo(r).currentText())
        finally:
            self._filling = False
        self.edited.emit()

    def _pattern_edited(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        if item.column() == P_NAME:  # a rename: the steps showing the old name show the new one
            old = self._names[item.row()] if item.row() < len(self._names) else None
            new = item.text()
            self._names = self.pattern_names()
            for r in range(self.steps_table.rowCount()):
                combo = self._step_combo(r)
                current = combo.currentText()
                self._fill_combo(combo, new if current == old else current)
        self.edited.emit()

    # ============================================================================================= steps
    def _step_combo(self, row: int) -> QComboBox:
        return self.steps_table.cellWidget(row, S_PATTERN)

    def _fill_combo(self, combo: QComboBox, current: str) -> None:
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(self.pattern_names())
        if current and combo.findText(current) < 0:
            combo.addItem(current)  # a name no pattern has: kept, so the check can say which step
        combo.setCurrentText(current)
        combo.blockSignals(False)

    def add_step(self, pattern: str | None = None, duration_ms: float = DEFAULT_STEP_MS,
                 power_mw_per_spot: float | None = None) -> int:
        """Append a step (default: the first pattern, :data:`DEFAULT_STEP_MS`); returns its row."""
        names = self.pattern_names()
        pattern = pattern if pattern is not None else (names[0] if names else "")
        t = self.steps_table
        r = t.rowCount()
        filling, self._filling = self._filling, True  # a half-made row is not an edit to check
        try:
            t.insertRow(r)
            combo = QComboBox()
            self._fill_combo(combo, pattern)
            combo.currentIndexChanged.connect(lambda _i: self._changed())
            t.setCellWidget(r, S_PATTERN, combo)
            t.setItem(r, S_DURATION, QTableWidgetItem(f"{duration_ms:g}"))
            power = "" if power_mw_per_spot is None else f"{power_mw_per_spot:g}"
            t.setItem(r, S_POWER, QTableWidgetItem(power))
        finally:
            self._filling = filling
        self._changed()
        return r

    def set_step(self, row: int, *, pattern: str | None = None, duration_ms: str | float | None = None,
                 power_mw_per_spot: str | float | None = None) -> None:
        """Change a step's cells as the user would type them (strings are kept as typed)."""
        if pattern is not None:
            self._step_combo(row).setCurrentText(pattern)
        if duration_ms is not None:
            self.steps_table.item(row, S_DURATION).setText(str(duration_ms))
        if power_mw_per_spot is not None:
            self.steps_table.item(row, S_POWER).setText(str(power_mw_per_spot))

    def remove_selected_steps(self) -> None:
        """Remove the selected steps."""
        rows = sorted({i.row() for i in self.steps_table.selectedIndexes()}, reverse=True)
        for r in rows:
            self.steps_table.removeRow(r)
        if rows:
            self._changed()

    # ======================================================================================= whole thing
    def to_dict(self) -> dict[str, Any]:
        """The protocol as the file would hold it (no checks beyond reading the cells as numbers)."""
        patterns: dict[str, Any] = {}
        pt = self.patterns_table
        for r in range(pt.rowCount()):
            name = pt.item(r, P_NAME).text()
            if name in patterns:
                raise ProtocolError(f"pattern {name!r} is named twice; pattern names must differ")
            spec: PatternSpec = pt.item(r, P_TARGETS).data(_SPEC_ROLE)
            data = spec.model_dump(exclude_none=True)
            power = _number(pt.item(r, P_POWER).text(), f"pattern {name!r}: mW per spot")
            if power is not None:
                data["power_mw_per_spot"] = power
            patterns[name] = data
        steps = []
        st = self.steps_table
        for r in range(st.rowCount()):
            step: dict[str, Any] = {"pattern": self._step_combo(r).currentText()}
            duration = _number(st.item(r, S_DURATION).text(), f"step {r + 1}: duration ms")
            if duration is None:
                raise ProtocolError(f"step {r + 1}: duration ms is empty; give the step's length in ms")
            step["duration_ms"] = duration
            power = _number(st.item(r, S_POWER).text(), f"step {r + 1}: mW per spot")
            if power is not None:
                step["power_mw_per_spot"] = power
            steps.append(step)
        seed_text = self.seed_edit.text().strip()
        seed = None
        if seed_text:
            try:
                seed = int(seed_text)
            except ValueError:
                raise ProtocolError(f"seed: {seed_text!r} is not a whole number (empty: one is drawn and "
                                    "logged)") from None
        schedule: dict[str, Any] = {
            "steps": steps, "repetitions": self.repetitions_spin.value(),
            "inter_step_interval_ms": self.inter_step_spin.value(),
            "inter_trial_interval_ms": self.inter_trial_spin.value(),
            "baseline_pre_ms": self.baseline_pre_spin.value(),
            "baseline_post_ms": self.baseline_post_spin.value(),
            "order": self.order_combo.currentText(), "trigger": self.trigger_combo.currentData(),
            "trigger_timeout_s": self.timeout_spin.value(),
        }
        if seed is not None:
            schedule["seed"] = seed
        return {"version": 1, "name": self.name_edit.text(), "patterns": patterns, "schedule": schedule}

    def protocol(self) -> ProtocolConfig:
        """The protocol the widgets describe, checked by the protocol file's model.

        Raises
        ------
        ProtocolError
            One line naming every problem (the step or pattern, the field, what is wrong).
        """
        data = self.to_dict()
        if not data["patterns"]:
            raise ProtocolError("no patterns: press 'Patterns from groups' or load a protocol")
        if not data["schedule"]["steps"]:
            raise ProtocolError("no steps: press 'Add step'")
        try:
            return ProtocolConfig.model_validate(data)
        except ValidationError as exc:
            raise ProtocolError(validation_line(exc, len(data["schedule"]["steps"]))) from None

    def set_protocol(self, protocol: ProtocolConfig) -> None:
        """Show ``protocol`` in the widgets (replacing what they held)."""
        self._filling = True
        try:
            self.name_edit.setText(protocol.name)
            self.patterns_table.setRowCount(0)
            for name, spec in protocol.patterns.items():
                self._add_pattern_row(name, spec)
            self._names = self.pattern_names()
            self.steps_table.setRowCount(0)
            for step in protocol.schedule.steps:
                self.add_step(step.pattern, step.duration_ms, step.power_mw_per_spot)
            s = protocol.schedule
            self.repetitions_spin.setValue(s.repetitions)
            self.inter_step_spin.setValue(s.inter_step_interval_ms)
            self.inter_trial_spin.setValue(s.inter_trial_interval_ms)
            self.baseline_pre_spin.setValue(s.baseline_pre_ms)
            self.baseline_post_spin.setValue(s.baseline_post_ms)
            self.order_combo.setCurrentText(s.order)
            self.seed_edit.setText("" if s.seed is None else str(s.seed))
            self.trigger_combo.setCurrentIndex(TRIGGERS.index(s.trigger))
            self.timeout_spin.setValue(s.trigger_timeout_s)
        finally:
            self._filling = False
        self.edited.emit()
