"""Save and load target sets as CSV or JSON (camera px, weight, group, stable id).

CSV has a header ``x,y,weight,group,id`` (weight, group and id optional when reading); JSON is
``{"targets": [{"x": .., "y": .., "weight": .., "group": .., "id": ..}, ...]}`` or a bare list of such
objects. The id is the target's number in the GUI (and the log); a file without one gets new numbers
when loaded. A file name without a suffix is saved as CSV (``name.csv``): a user typing "my targets" in
the save dialog means a file, not an error. A file is replaced all at once, so a crash while saving
never leaves half a target set behind.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from holostim.checks import non_negative, number_pair, positive
from holostim.errors import HolostimError
from holostim.files import atomic_write_text


class TargetFileError(HolostimError, ValueError):
    """A target file that cannot be read: wrong format, missing columns or bad values."""


FIELDS = ("x", "y", "weight", "group", "id")
DEFAULT_SUFFIX = ".csv"
"""What a target file name without a suffix is saved as."""


def save_targets(path: str | Path, targets: Iterable[Any]) -> Path:
    """Write targets to ``path``; the suffix (``.csv`` or ``.json``, none = ``.csv``) picks the format.

    Returns the path written (with the suffix added where there was none).
    """
    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + DEFAULT_SUFFIX)
    rows = [
        {"x": float(t.x), "y": float(t.y), "weight": float(t.weight), "group": int(t.group),
         "id": None if getattr(t, "id", None) is None else int(t.id)}
        for t in targets
    ]
    suffix = path.suffix.lower()
    if suffix == ".json":
        atomic_write_text(path, json.dumps({"targets": rows}, indent=2) + "\n")
    elif suffix == ".csv":
        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(path, buf.getvalue())
    else:
        raise TargetFileError(f"cannot save targets as {path.name!r}: use a .csv or .json file name")
    return path


def load_targets(path: str | Path) -> list[dict[str, float | int]]:
    """Read targets from a ``.csv`` or ``.json`` file as dicts with x, y, weight, group, id (or None)."""
    path = Path(path)
    if not path.is_file():
        raise TargetFileError(f"target file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data.get("targets") if isinstance(data, dict) else data
            if not isinstance(rows, list):
                raise TargetFileError(
                    f"{path.name}: expected a list of targets or {{'targets': [...]}}, "
                    f"got {type(data).__name__}"
                )
        elif suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or not {"x", "y"} <= {c.strip() for c in reader.fieldnames}:
                    raise TargetFileError(
                        f"{path.name}: the CSV header must name columns x and y (optional weight, group); "
                        f"found {reader.fieldnames}"
                    )
                rows = [{k.strip(): v for k, v in r.items() if k is not None} for r in reader]
        else:
            raise TargetFileError(f"cannot read targets from {path.name!r}: use a .csv or .json file")
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise TargetFileError(f"{path.name}: not a valid {suffix[1:].upper()} file ({exc})") from None
    return [_row(path.name, i, r) for i, r in enumerate(rows, start=1)]


def _row(name: str, i: int, r: Any) -> dict[str, float | int]:
    if not isinstance(r, dict):
        raise TargetFileError(f"{name}: target {i} must be an object with x and y, got {r!r}")
    try:
        x, y = float(r["x"]), float(r["y"])
        w = float(r.get("weight") or 1.0)
        g = int(float(r.get("group") or 0))
        tid = r.get("id")
        tid = None if tid is None or tid == "" else float(tid)
    except KeyError as exc:
        raise TargetFileError(f"{name}: target {i} has no {exc.args[0]!r} value") from None
    except (TypeError, ValueError):
        raise TargetFileError(f"{name}: target {i} has a non-numeric value: {r!r}") from None
    number_pair((x, y), f"{name}: target {i} position", TargetFileError)
    positive(w, f"{name}: target {i} weight", TargetFileError)
    non_negative(g, f"{name}: target {i} group", TargetFileError)
    if tid is not None:
        positive(tid, f"{name}: target {i} id", TargetFileError)
        if tid != int(tid):
            raise TargetFileError(f"{name}: target {i} id={tid} must be a whole number")
        tid = int(tid)
    return {"x": x, "y": y, "weight": w, "group": g, "id": tid}
