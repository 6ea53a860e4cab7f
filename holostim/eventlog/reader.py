"""Reading a stimulation log back: every complete record, whatever happened to the writer.

The writer appends one line per record and fsyncs it, so a crash (even ``SIGKILL``) leaves at most a
truncated last line: :func:`read` skips it and says so, and never hides a good record. A damaged line
before the last one is an error that names the line, because silently skipping it would hide a pattern
that was shown. :func:`read_masks` recovers the stored frames even when the writer died while rewriting
the NPZ archive's central directory.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from holostim.eventlog.records import FORMAT, EventLogError

__all__ = ["LogContents", "read", "read_masks"]


@dataclass(frozen=True)
class LogContents:
    """What :func:`read` returns.

    Attributes
    ----------
    header : dict
        The first record.
    records : list of dict
        Every complete record after the header, in order.
    truncated : bool
        True when the last line was incomplete (the writer died mid-record) and was skipped.
    """

    path: Path
    header: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)


def read(path: str | Path) -> LogContents:
    """Read a log written by :class:`EventLog`, tolerating a truncated last line.

    Raises
    ------
    EventLogError
        The file is missing, empty, has no holostim header, or is damaged before its last line.
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
    records: list[dict[str, Any]] = []
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EventLogError(
                f"{path}:{i}: damaged log record ({exc}); the records before it are intact"
            ) from None
        records.append(rec)
    if not records or records[0].get("type") != "header" or records[0].get("format") != FORMAT:
        raise EventLogError(f"{str(path)!r} is not a holostim event log (no header record on line 1)")
    return LogContents(path=path, header=records[0], records=records[1:], truncated=truncated)


def read_masks(path: str | Path) -> dict[str, np.ndarray]:
    """All frames stored beside a log: ``{"frame_000001": uint8 array, ...}``.

    ``path`` may be the ``.jsonl`` log or its ``.masks.npz``.  Appending to a zip rewrites its central
    directory, so a writer killed at that moment leaves an archive that ``np.load`` rejects; the frames
    are then recovered from the members' local headers, skipping only the one being written.
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        path = path.with_suffix(".masks.npz")
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
