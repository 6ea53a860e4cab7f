"""Save and load target sets as CSV or JSON (camera px, weight, group, stable id, depth).

CSV has a header ``x_camera_px,y_camera_px,weight,group,id,z_um`` (weight, group, id and z_um optional
when reading); JSON is ``{"targets": [{"x": .., "y": .., "weight": .., "group": .., "id": .., "z_um": ..},
...]}`` or a bare list of such objects. The id is the target's number in the GUI (and the log); a file
without one gets new numbers when loaded. ``z_um`` is the spot's depth in the sample, µm from the focal
plane (positive deeper); files written before targets had depths have no such column and load at
``z_um = 0``, the focal plane they were made for. A file name without a suffix is saved as CSV
(``name.csv``): a user typing "my targets" in the save dialog means a file, not an error. A file is
replaced all at once, so a crash while saving never leaves half a target set behind.

The CSV header names the unit: ``holostim compute`` reads spot files in *Fourier-plane* pixels
(``x_fourier_px,y_fourier_px[,weight]``), and when both used ``x,y`` either loaded into the other
silently, every target in the wrong place. A bare ``x,y`` header is refused with a message saying what
this reader wants. A weight that is given must be a usable one (0 is refused, not read as the default 1);
an empty cell means the default.

The module lives with the session, below the GUI, because more than the GUI reads these files: a
stimulation protocol's patterns name target files too (:mod:`holostim.protocol.patterns`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from holostim.checks import finite, non_negative, positive
from holostim.errors import HolostimError
from holostim.files import atomic_write_text
from holostim.holography.targets import weight_problem


class TargetFileError(HolostimError, ValueError):
    """A target file that cannot be read: wrong format, missing columns or bad values."""


FIELDS = ("x_camera_px", "y_camera_px", "weight", "group", "id", "z_um")
"""The CSV columns (``weight``, ``group``, ``id`` and ``z_um`` optional when reading)."""
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
         "id": None if getattr(t, "id", None) is None else int(t.id),
         "z_um": float(getattr(t, "z_um", 0.0))}
        for t in targets
    ]
    suffix = path.suffix.lower()
    if suffix == ".json":
        atomic_write_text(path, json.dumps({"targets": rows}, indent=2) + "\n")
    elif suffix == ".csv":
        buf = io.StringIO(newline="")
        w = csv.writer(buf)
        w.writerow(FIELDS)
        w.writerows([r["x"], r["y"], r["weight"], r["group"], "" if r["id"] is None else r["id"], r["z_um"]]
                    for r in rows)
        atomic_write_text(path, buf.getvalue())
    else:
        raise TargetFileError(f"cannot save targets as {path.name!r}: use a .csv or .json file name")
    return path


def load_targets(path: str | Path) -> list[dict[str, float | int]]:
    """Read targets from a ``.csv`` or ``.json`` file: dicts of x, y, weight, group, id (or None), z_um."""
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
                _check_header(path.name, reader.fieldnames)
                rows = [{_COLUMN.get(k.strip(), k.strip()): v for k, v in r.items() if k is not None}
                        for r in reader]
        else:
            raise TargetFileError(f"cannot read targets from {path.name!r}: use a .csv or .json file")
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise TargetFileError(f"{path.name}: not a valid {suffix[1:].upper()} file ({exc})") from None
    except RecursionError:
        raise TargetFileError(f"{path.name}: nested too deeply to be a target file") from None
    out = [_row(path.name, i, r) for i, r in enumerate(rows, start=1)]
    problem = weight_problem([r["weight"] for r in out])
    if problem is not None:
        raise TargetFileError(f"{path.name}: {problem}")
    return out


_COLUMN = {"x_camera_px": "x", "y_camera_px": "y"}


def _check_header(name: str, fieldnames: Any) -> None:
    cols = [c.strip().lower() for c in fieldnames or []]
    if {"x_camera_px", "y_camera_px"} <= set(cols):
        return
    want = ("this reader wants GUI target files in camera pixels, header "
            "x_camera_px,y_camera_px[,weight,group,id,z_um]")
    shown = ",".join(cols)[:80]
    if {"x_fourier_px", "y_fourier_px"} <= set(cols):
        raise TargetFileError(f"{name}: header {shown!r} is a `holostim compute` spot file (Fourier-plane "
                              f"pixels); {want}")
    if {"x", "y"} <= set(cols):
        raise TargetFileError(f"{name}: header {shown!r} does not say its units (camera or Fourier-plane "
                              f"pixels?); {want}: if these are camera pixels, rename the columns")
    raise TargetFileError(f"{name}: header {shown!r} is not a target file header; {want}")


def _row(name: str, i: int, r: Any) -> dict[str, float | int]:
    if not isinstance(r, dict):
        raise TargetFileError(f"{name}: target {i} must be an object with x and y, got {repr(r)[:80]}")
    for key in ("x", "y"):
        if key not in r:
            raise TargetFileError(f"{name}: target {i} has no {key!r} value")
    x = finite(r["x"], f"{name}: target {i} x", TargetFileError)
    y = finite(r["y"], f"{name}: target {i} y", TargetFileError)
    # A weight that is given is used (0 is refused, not read as "unset"); an empty cell is the default.
    err = TargetFileError
    w = 1.0 if _blank(r.get("weight")) else positive(r["weight"], f"{name}: target {i} weight", err)
    g = 0.0 if _blank(r.get("group")) else non_negative(r["group"], f"{name}: target {i} group", err)
    if g != int(g):
        raise TargetFileError(f"{name}: target {i} group={g!r} must be a whole number")
    tid = None if _blank(r.get("id")) else positive(r["id"], f"{name}: target {i} id", err)
    if tid is not None and tid != int(tid):
        raise TargetFileError(f"{name}: target {i} id={tid!r} must be a whole number")
    z = 0.0 if _blank(r.get("z_um")) else finite(r["z_um"], f"{name}: target {i} z_um", err)
    return {"x": x, "y": y, "weight": w, "group": int(g), "id": None if tid is None else int(tid), "z_um": z}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
