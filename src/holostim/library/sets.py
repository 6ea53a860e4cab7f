"""A library spec's target sets made concrete: each set's id, targets (camera px), weights and power.

Everything that can be wrong with the files a spec names — missing, unreadable, a table row without a
set, more subsets than a library holds — is one :class:`~holostim.library.spec.LibrarySpecError` line
naming the file (and row), raised before anything is computed. Target files are read by the session's
reader (:func:`holostim.session.target_files.load_targets`), so a library takes the GUI's files.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from holostim.library.spec import MAX_SETS, LibrarySpec, LibrarySpecError
from holostim.session.target_files import TargetFileError, load_targets

__all__ = ["TargetSet", "resolve_sets"]


@dataclass(frozen=True)
class TargetSet:
    """One set of targets lit together: its id, camera-px positions ``(n, 2)``, weights and target ids."""

    id: str
    xy_camera: np.ndarray
    weights: np.ndarray
    target_ids: tuple[int, ...]
    power_mw_per_spot: float | None


def resolve_sets(spec: LibrarySpec) -> list[TargetSet]:
    """The spec's sets in library order (set ``i`` is row ``i`` of the store).

    Raises
    ------
    LibrarySpecError
        One line naming the file (and row): a missing or bad file, a set with no targets, too many sets.
    """
    kind = spec.sets.kind
    if kind == "files":
        out = [_file_set(path, spec.power_mw_per_spot) for path in spec.sets.files]
    elif kind == "table":
        out = _table_sets(spec.sets.table.file, spec.sets.table.set_column, spec.power_mw_per_spot)
    else:
        pool = _read(spec.targets_file)
        out = _generated(kind, spec, pool)
    seen: dict[str, int] = {}
    for i, s in enumerate(out):
        if s.id in seen:
            raise LibrarySpecError(f"sets {seen[s.id] + 1} and {i + 1} are both named {s.id!r}; set ids must "
                                   "be unique (rename one of the files)")
        seen[s.id] = i
    return out


def _read(path: Path) -> list[dict]:
    try:
        rows = load_targets(path)
    except TargetFileError as exc:
        raise LibrarySpecError(f"library target file: {exc}") from None
    except OSError as exc:
        raise LibrarySpecError(f"cannot read target file {str(path)!r}: {exc}") from None
    if not rows:
        raise LibrarySpecError(f"target file {str(path)!r} has no targets")
    deep = [i for i, r in enumerate(rows, start=1) if r["z_um"] != 0.0]
    if deep:  # a library set is a 2-D target set: dropping the depths would light the wrong cells
        z = rows[deep[0] - 1]["z_um"]
        raise LibrarySpecError(f"target file {str(path)!r}: target {deep[0]} has z_um = {z:g} µm; mask "
                               "libraries hold focal-plane targets only (z_um 0)")
    next_id = max((r["id"] for r in rows if r["id"] is not None), default=0) + 1
    for r in rows:  # ids as the GUI numbers a loaded file: given ones kept, the others after the largest
        if r["id"] is None:
            r["id"], next_id = next_id, next_id + 1
    return rows


def _make(set_id: str, rows: list[dict], power: float | None) -> TargetSet:
    xy = np.array([[r["x"], r["y"]] for r in rows], dtype=np.float64).reshape(-1, 2)
    w = np.array([r["weight"] for r in rows], dtype=np.float64)
    return TargetSet(set_id, xy, w, tuple(int(r["id"]) for r in rows), power)


def _file_set(path: Path, power: float | None) -> TargetSet:
    return _make(path.stem, _read(path), power)


def _table_sets(path: Path, column: str, power: float | None) -> list[TargetSet]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
            header = [c.strip() for c in (rows[0].keys() if rows else [])]
    except FileNotFoundError:
        raise LibrarySpecError(f"set table {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LibrarySpecError(f"cannot read set table {str(path)!r}: {exc}") from None
    if not rows:
        raise LibrarySpecError(f"set table {str(path)!r} has no rows")
    need = {"x_camera_px", "y_camera_px", column}
    if not need <= set(header):
        raise LibrarySpecError(f"{path.name}: header {','.join(header)!r} lacks "
                               f"{', '.join(sorted(need - set(header)))} (a set table has x_camera_px, "
                               f"y_camera_px, [weight,] [power_mw_per_spot,] {column})")
    groups: dict[str, list[dict]] = {}
    powers: dict[str, float | None] = {}
    for line, raw in enumerate(rows, start=2):
        r = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        sid = r[column]
        if not sid:
            raise LibrarySpecError(f"{path.name}:{line}: {column}: empty; every row names its set")
        try:
            x, y = float(r["x_camera_px"]), float(r["y_camera_px"])
            w = float(r["weight"]) if r.get("weight") else 1.0
            p = float(r["power_mw_per_spot"]) if r.get("power_mw_per_spot") else power
        except ValueError as exc:
            raise LibrarySpecError(f"{path.name}:{line}: not a number ({exc})") from None
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(w) and w > 0):
            raise LibrarySpecError(f"{path.name}:{line}: x, y must be finite and weight > 0")
        if p is not None and not (math.isfinite(p) and 0 < p <= 1000):
            raise LibrarySpecError(f"{path.name}:{line}: power_mw_per_spot {p!r} must be in (0, 1000] mW")
        if sid in powers and powers[sid] != p:
            raise LibrarySpecError(f"{path.name}:{line}: set {sid!r} has power_mw_per_spot {p} here and "
                                   f"{powers[sid]} on an earlier row; one power per set")
        powers[sid] = p
        rows_of = groups.setdefault(sid, [])
        rows_of.append({"x": x, "y": y, "weight": w, "id": len(rows_of) + 1})
    if len(groups) > MAX_SETS:
        raise LibrarySpecError(f"{path.name}: {len(groups)} sets; a library holds at most {MAX_SETS}")
    return [_make(sid, rs, powers[sid]) for sid, rs in groups.items()]


def _generated(kind: str, spec: LibrarySpec, pool: list[dict]) -> list[TargetSet]:
    n, name = len(pool), spec.targets_file.name
    gen = spec.sets.subsets if kind == "subsets" else spec.sets.random
    k = gen.k
    if k > n:
        raise LibrarySpecError(f"sets.{kind}.k = {k} but {name} has only {n} targets")
    total = math.comb(n, k)
    if kind == "subsets":
        if total > MAX_SETS:
            raise LibrarySpecError(f"sets.subsets: {n} targets choose {k} is {total} sets; a library holds "
                                   f"at most {MAX_SETS} (use sets.random with a count)")
        combos = list(itertools.combinations(range(n), k))
        width = len(str(total - 1))
        return [_make(f"s{i:0{width}d}", [pool[j] for j in c], spec.power_mw_per_spot)
                for i, c in enumerate(combos)]
    count = spec.sets.random.count
    if count > total:
        raise LibrarySpecError(f"sets.random.count = {count} but {name}'s {n} targets make only {total} "
                               f"distinct ensembles of {k}")
    rng = np.random.default_rng(spec.sets.random.seed)
    drawn: dict[tuple[int, ...], None] = {}
    while len(drawn) < count:
        drawn.setdefault(tuple(sorted(int(i) for i in rng.choice(n, size=k, replace=False))), None)
    width = len(str(count - 1))
    return [_make(f"r{i:0{width}d}", [pool[j] for j in c], spec.power_mw_per_spot)
            for i, c in enumerate(drawn)]
