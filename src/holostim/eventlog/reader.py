"""Reading a stimulation log back: every good record, whatever happened to the writer or the disk.

The writer appends one line per record, all or nothing, and fsyncs it, so a crash (even ``SIGKILL``)
leaves at most a truncated last line. Older logs, a disk error or a hand edit can still damage a line in
the middle; :func:`read` never lets one damaged line hide the good records around it: it returns every
record it can parse and lists each damaged line (number and reason) in :attr:`LogContents.damaged`.
Only a file that cannot be read, or one without a holostim header on line 1, is an error.
:func:`read_masks` reads the frame store beside the log (and the zip of logs written before it).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from holostim.eventlog.masks import read_frames
from holostim.eventlog.records import FORMAT, EventLogError

__all__ = ["DamagedLine", "LogContents", "read", "read_masks"]


@dataclass(frozen=True)
class DamagedLine:
    """One line of a log that is not a record: where (1-based) and why."""

    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class LogContents:
    """What :func:`read` returns.

    Attributes
    ----------
    header : dict
        The first record.
    records : list of dict
        Every good record after the header, in order.
    truncated : bool
        True when the last line was incomplete (the writer died mid-record) and was skipped.
    damaged : list of DamagedLine
        Every line that is not a record (the truncated last line included), with its reason.
    """

    path: Path
    header: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    damaged: list[DamagedLine] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not one JSON record ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return None, "not one JSON record (nested too deeply)"
    if not isinstance(rec, dict):
        return None, f"not a JSON object (a {type(rec).__name__})"
    return rec, ""


def read(path: str | Path) -> LogContents:
    """Read a log written by :class:`EventLog`: every good record, and a list of the damaged lines.

    Raises
    ------
    EventLogError
        The file is missing or unreadable, or has no holostim header on line 1.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EventLogError(f"cannot read the log {str(path)!r}: {exc.strerror}") from None
    lines = data.split(b"\n")
    # A complete file ends with "\n", so the final split element is empty; anything else there is a
    # record the writer did not finish.
    tail = lines.pop()
    truncated = bool(tail.strip())
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    damaged: list[DamagedLine] = []
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        rec, reason = _parse(raw)
        if i == 1:
            if rec is None or rec.get("type") != "header" or rec.get("format") != FORMAT:
                break
            header = rec
        elif rec is None:
            damaged.append(DamagedLine(path, i, reason))
        else:
            records.append(rec)
    if header is None:
        raise EventLogError(f"{str(path)!r} is not a holostim event log (no header record on line 1)")
    if truncated:
        reason = "incomplete last line (the writer stopped mid-record)"
        damaged.append(DamagedLine(path, len(lines) + 1, reason))
    return LogContents(path=path, header=header, records=records, truncated=truncated, damaged=damaged)


def read_masks(path: str | Path) -> dict[str, np.ndarray]:
    """All frames stored beside a log: ``{"frame_000001": uint8 array, ...}`` (a record's ``mask``).

    ``path`` may be the ``.jsonl`` log, its ``.masks`` frame store, or the ``.masks.npz`` of a log
    written before the frame store existed. A frame cut short or damaged is skipped, never the others.
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        store = path.with_suffix(".masks")
        path = store if store.exists() or not path.with_suffix(".masks.npz").exists() else \
            path.with_suffix(".masks.npz")
    if path.suffix != ".npz":
        return read_frames(path)[0]
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except zipfile.BadZipFile:
        pass
    except (OSError, ValueError) as exc:
        raise EventLogError(f"cannot read the masks file {str(path)!r}: {exc}") from None
    return _recover_members(path)

def _recover_members(path: Path) -> dict[str, np.ndarray]:
    """Walk the local file headers of a stored (uncompressed) zip whose central directory is damaged."""
    import io
    import struct

    data = path.read_bytes()
    out: dict[str, np.ndarray] = {}
    pos = 0
    while data.startswith(b"PK\x03\x04", pos) and pos + 30 <= len(data):
        (_, _, flags, method, _, _, _, csize, usize, n_name, n_extra) = struct.unpack(
            "<IHHHHHIIIHH", data[pos : pos + 30]
        )
        name = data[pos + 30 : pos + 30 + n_name].decode("utf-8", "replace")
        extra = data[pos + 30 + n_name : pos + 30 + n_name + n_extra]
        e = 0
        while e + 4 <= len(extra):  # zip64 sizes live in extra field 0x0001
            tag, size = struct.unpack("<HH", extra[e : e + 4])
            if tag == 1 and size >= 16:
                usize, csize = struct.unpack("<QQ", extra[e + 4 : e + 20])
            e += 4 + size
        start = pos + 30 + n_name + n_extra
        if method != zipfile.ZIP_STORED or flags & 0x8 or csize == 0 or start + csize > len(data):
            break  # the member being written when the writer died (its sizes were never filled in)
        try:
            arr = np.lib.format.read_array(io.BytesIO(data[start : start + csize]), allow_pickle=False)
        except (ValueError, OSError):
            break
        out[name.removesuffix(".npy")] = arr
        pos = start + csize
    if not out and data:
        raise EventLogError(f"cannot read the masks file {str(path)!r}: no intact frame in it")
    return out
