"""Patterns made concrete: each protocol pattern's list of targets, read and selected before the run.

A pattern's targets come from its ``targets_file`` (the GUI's CSV/JSON target files, read with
:mod:`holostim.session.target_files`) or, without one, from the session's own targets, and are then
selected by ``group`` or ``ids``. Everything that can be wrong with that — a missing or unreadable file,
a group with no targets, an id that is not there — is one :class:`ProtocolError` line naming the pattern,
raised before any mask is computed, so a run never stops half-way because of its own file.

Ids are the targets' stable numbers (the GUI's ``#`` column, also in the log). A file without ids gets
1 … n in file order, as the GUI numbers a loaded file; rows of a file that numbers only some targets get
the numbers after the largest one given, in file order. Two targets with one id in a file are refused:
``ids: [4]`` would not say which of them is meant.

Only the patterns the schedule shows are resolved; the others are reported by
:meth:`~holostim.protocol.model.ProtocolConfig.unused_patterns` and a :class:`UnusedPatternWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from holostim.protocol.errors import ProtocolError
from holostim.protocol.model import PatternSpec, ProtocolConfig
from holostim.session.result import Target
from holostim.session.target_files import TargetFileError, load_targets

__all__ = ["ResolvedPattern", "UnusedPatternWarning", "resolve_patterns"]


class UnusedPatternWarning(UserWarning):
    """A protocol defines a pattern that no step shows (perhaps a step names the wrong one)."""


@dataclass(frozen=True)
class ResolvedPattern:
    """A pattern ready to compute: its name, its targets (camera px) and its power per spot.

    ``power_mw_per_spot`` is the pattern's own; ``None`` means the laser at ``safety.laser_power_mw``
    (a step's power, when it has one, overrides either).
    """

    name: str
    targets: list[Target]
    power_mw_per_spot: float | None
    library: Any = None
    """The :class:`~holostim.library.playback.LibrarySet` a library pattern plays (``None``: computed)."""


def resolve_patterns(
    protocol: ProtocolConfig, session_targets: Sequence[Target] = ()
) -> dict[str, ResolvedPattern]:
    """The targets of every pattern the schedule shows, keyed by pattern name (in first-use order).

    Parameters
    ----------
    protocol : ProtocolConfig
    session_targets : sequence of Target
        The session's targets (the GUI's table), for patterns without a ``targets_file``.

    Raises
    ------
    ProtocolError
        One line naming the pattern: a missing or bad target file, no targets selected, an id not there.
    """
    unused = protocol.unused_patterns()
    if unused:
        warnings.warn(f"protocol {protocol.name!r}: no step shows pattern(s) {', '.join(map(repr, unused))}",
                      UnusedPatternWarning, stacklevel=2)
    files: dict[Path, list[Target]] = {}
    out: dict[str, ResolvedPattern] = {}
    for name in protocol.used_patterns():
        spec = protocol.patterns[name]
        if spec.library is not None:
            lib = _read_library(name, spec.library, spec.set)
            power = spec.power_mw_per_spot if spec.power_mw_per_spot is not None else lib.power_mw_per_spot
            out[name] = ResolvedPattern(name=name, targets=lib.targets, power_mw_per_spot=power, library=lib)
            continue
        if spec.targets_file is None:
            source, where = list(session_targets), "the session's targets"
        else:
            if spec.targets_file not in files:
                files[spec.targets_file] = _read_file(name, spec.targets_file)
            source, where = files[spec.targets_file], spec.targets_file.name
        out[name] = ResolvedPattern(name=name, targets=_select(name, spec, source, where),
                                    power_mw_per_spot=spec.power_mw_per_spot)
    return out


def _read_library(name: str, path: Path, set_id: str):  # type: ignore[no-untyped-def]
    """One set of a mask library: only its frame is read (zarr is imported only here, lazily)."""
    from holostim.errors import HolostimError
    from holostim.library.playback import load_library_set

    try:
        return load_library_set(path, set_id)
    except HolostimError as exc:
        raise ProtocolError(f"pattern {name!r}: {exc}") from None


def _read_file(name: str, path: Path) -> list[Target]:
    try:
        rows = load_targets(path)
    except TargetFileError as exc:
        raise ProtocolError(f"pattern {name!r}: {exc}") from None
    except OSError as exc:
        raise ProtocolError(f"pattern {name!r}: cannot read target file {str(path)!r}: {exc}") from None
    given = [r["id"] for r in rows if r["id"] is not None]
    twice = sorted({i for i in given if given.count(i) > 1})
    if twice:
        raise ProtocolError(f"pattern {name!r}: {path.name} has more than one target with id "
                            f"{', '.join(map(str, twice))}; ids must be unique within a file")
    next_id = max(given, default=0) + 1
    targets = []
    for r in rows:
        tid = r["id"]
        if tid is None:
            tid, next_id = next_id, next_id + 1
        targets.append(Target(x=float(r["x"]), y=float(r["y"]), weight=float(r["weight"]),
                              group=int(r["group"]), id=int(tid), z_um=float(r["z_um"])))
    return targets


def _select(name: str, spec: PatternSpec, source: list[Target], where: str) -> list[Target]:
    if spec.group is not None:
        chosen = [t for t in source if t.group == spec.group]
        if not chosen:
            groups = sorted({t.group for t in source})
            have = f" (groups there: {_ranges(groups)})" if groups else ""
            raise ProtocolError(f"pattern {name!r}: no targets in group {spec.group} of {where}{have}")
        return chosen
    if spec.ids is not None:
        by_id = {t.id: t for t in source if t.id is not None}
        missing = [i for i in spec.ids if i not in by_id]
        if missing:
            have = f"ids there: {_ranges(sorted(by_id))}" if by_id else "no target there has an id"
            raise ProtocolError(f"pattern {name!r}: target id {', '.join(map(str, missing))} not in {where} "
                                f"({have})")
        return [by_id[i] for i in spec.ids]
    if not source:
        raise ProtocolError(f"pattern {name!r}: no targets in {where}")
    return list(source)


def _ranges(values: Sequence[int]) -> str:
    """``[1, 2, 3, 5, 7, 8]`` → ``'1–3, 5, 7–8'`` (short enough for one line, capped)."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}–{values[j]}")
        i = j + 1
    return ", ".join(parts[:8]) + (", …" if len(parts) > 8 else "")
