"""The GUI's one list of targets, shared by the camera view and the table.

Both widgets edit the same :class:`TargetStore`; it tells them (and the main window, which sends the
targets to the session) through Qt signals. Each target carries the refusal reason the session gave for
it (``None`` when it may be stimulated), so refused targets stay visible and explain themselves instead
of vanishing.

Each target has its depth ``z_um`` (sample µm from the focal plane, positive deeper) wherever it has x
and y: a new target is placed at the depth the caller gives (the GUI's "new targets at z"), a move or drag
changes x and y only, and the refusal rule is asked about all three, so a depth the optics cannot reach
is flagged with its reason like a target in the zero order.

Each target has a stable ``id``: the store gives every new target the next number and never gives a
number out twice in a session, so "target 3" (the # column, the marker label, the log record) stays the
same neuron after others are deleted; list positions would renumber. A loaded set keeps the ids it has.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from holostim.errors import HolostimError


class TargetIndexError(HolostimError, IndexError):
    """A target number that does not exist in the current list."""


def _default_factory() -> Callable[..., Any]:
    from holostim.session import Target

    return Target


class TargetStore(QObject):
    """Ordered targets (camera px) with their refusal reasons and the current selection.

    Parameters
    ----------
    check:
        ``check(x, y, z_um) -> str | None``: the session's refusal rule (outside the addressable field,
        inside the zero-order exclusion, too deep, ...); a rule of ``(x, y)`` only judges the plane and
        leaves the depth alone. ``None`` accepts everything.
    make_target:
        Factory ``make_target(x, y, weight, group, id, z_um)`` for the session's frozen ``Target``.
    """

    changed = pyqtSignal()
    """Emitted after any change of positions, weights, groups or the number of targets."""
    selectionChanged = pyqtSignal()
    refused = pyqtSignal(float, float, str)
    """Emitted with (x, y, reason) whenever an added or moved target is refused."""
    refusedTarget = pyqtSignal(object, str)
    """The same refusal with the whole target (its depth too): (target, reason)."""

    def __init__(
        self,
        check: Callable[[float, float], str | None] | None = None,
        make_target: Callable[..., Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._check = _with_depth(check)
        self._make = make_target
        self._targets: list[Any] = []
        self._reasons: list[str | None] = []
        self._selection: set[int] = set()
        self._next_id = 1

    # -- reading -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._targets)

    @property
    def targets(self) -> list[Any]:
        """All targets, refused ones included, in order (each marker is labelled with its ``id``)."""
        return list(self._targets)

    @property
    def reasons(self) -> list[str | None]:
        """Refusal reason per target (``None`` = accepted)."""
        return list(self._reasons)

    def accepted(self) -> list[Any]:
        """The targets that may be sent to the session."""
        return [t for t, r in zip(self._targets, self._reasons, strict=True) if r is None]

    @property
    def selection(self) -> list[int]:
        """Selected indices, sorted."""
        return sorted(self._selection)

    # -- editing -------------------------------------------------------------------------------------
    def set_check(self, check: Callable[[float, float], str | None] | None) -> None:
        """Use a new refusal rule (e.g. after a calibration) and re-check every target."""
        self._check = _with_depth(check)
        self._reasons = [self._reason(t) for t in self._targets]
        self.changed.emit()

    def add(self, x: float, y: float, weight: float = 1.0, group: int = 0, z_um: float = 0.0) -> int:
        """Append a target at depth ``z_um`` with the next id; returns its index.

        A refused one is kept, flagged and announced.
        """
        t = self._new(x, y, weight, group, None, set(), z_um)
        self._targets.append(t)
        self._reasons.append(self._reason(t))
        self.changed.emit()
        return len(self._targets) - 1

    def move(self, index: int, x: float, y: float) -> None:
        """Move target ``index`` to (x, y) camera px (its depth stays)."""
        self._valid(index)
        t = dataclasses.replace(self._targets[index], x=float(x), y=float(y))
        self._targets[index] = t
        self._reasons[index] = self._reason(t)
        self.changed.emit()

    def move_many(self, positions: dict[int, tuple[float, float]]) -> None:
        """Move several targets at once (one change, so one new pattern, for a group drag)."""
        for i in positions:
            self._valid(i)
        for i, (x, y) in positions.items():
            t = dataclasses.replace(self._targets[i], x=float(x), y=float(y))
            self._targets[i] = t
            self._reasons[i] = self._reason(t)
        if positions:
            self.changed.emit()

    def update(self, index: int, **fields: Any) -> None:
        """Change fields (``x``, ``y``, ``z_um``, ``weight``, ``group``) of one target (its ``id`` stays)."""
        self._valid(index)
        if "id" in fields:
            raise TypeError("a target's id cannot be changed")
        t = dataclasses.replace(self._targets[index], **fields)
        self._targets[index] = t
        self._reasons[index] = self._reason(t)
        self.changed.emit()

    def remove(self, indices: Iterable[int]) -> None:
        """Remove the given targets (the rest keep their order and their ids)."""
        drop = set(indices)
        for i in drop:
            self._valid(i)
        if not drop:
            return
        keep = [i for i in range(len(self._targets)) if i not in drop]
        self._targets = [self._targets[i] for i in keep]
        self._reasons = [self._reasons[i] for i in keep]
        self._selection = set()
        self.changed.emit()
        self.selectionChanged.emit()

    def clear(self) -> None:
        """Remove every target."""
        self.remove(range(len(self._targets)))

    def set_targets(self, targets: Sequence[Any]) -> None:
        """Replace the whole list (loading a target set or a session); each keeps its ``id`` and depth.

        A target without an id, or with one an earlier target of the same set has, gets the next id.
        """
        taken: set[int] = set()
        self._targets = []
        for t in targets:
            new = self._new(t.x, t.y, t.weight, t.group, getattr(t, "id", None), taken,
                            getattr(t, "z_um", 0.0))
            taken.add(new.id)
            self._targets.append(new)
        self._reasons = [self._reason(t) for t in self._targets]
        self._selection = set()
        self.changed.emit()
        self.selectionChanged.emit()

    def set_selection(self, indices: Iterable[int]) -> None:
        """Select exactly ``indices`` (out-of-range ones are an error)."""
        sel = set(indices)
        for i in sel:
            self._valid(i)
        if sel != self._selection:
            self._selection = sel
            self.selectionChanged.emit()

    # -- helpers -------------------------------------------------------------------------------------
    def _new(self, x: float, y: float, weight: float, group: int, tid: int | None, taken: set[int],
             z_um: float = 0.0) -> Any:
        tid = self._next_id if tid is None or int(tid) in taken else int(tid)
        self._next_id = max(self._next_id, tid + 1)  # above every id seen: none is given out twice
        if self._make is None:
            self._make = _default_factory()
        return self._make(x=float(x), y=float(y), weight=float(weight), group=int(group), id=tid,
                          z_um=float(z_um))

    def _reason(self, t: Any) -> str | None:
        if self._check is None:
            return None
        reason = self._check(float(t.x), float(t.y), float(getattr(t, "z_um", 0.0)))
        if reason is not None:
            self.refused.emit(float(t.x), float(t.y), str(reason))
            self.refusedTarget.emit(t, str(reason))
        return reason

    def _valid(self, index: int) -> None:
        if not 0 <= index < len(self._targets):
            raise TargetIndexError(
                f"target index {index} does not exist; there are {len(self._targets)} targets "
                f"(valid indices 0..{len(self._targets) - 1})"
            )


def _with_depth(check: Callable[..., str | None] | None) -> Callable[..., str | None] | None:
    """``check`` as a rule of ``(x, y, z_um)``; a rule of ``(x, y)`` only is asked about the plane."""
    if check is None:
        return None
    try:
        inspect.signature(check).bind(0.0, 0.0, 0.0)
    except TypeError:
        return lambda x, y, _z: check(x, y)
    except ValueError:  # no signature to read (a builtin): assume the full rule
        pass
    return check
