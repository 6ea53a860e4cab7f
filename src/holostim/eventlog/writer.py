"""Writing the stimulation log: an append-only JSON Lines file, one durable record at a time.

One file per run, in the session's log directory: line 1 is the header, then one record per pattern
shown (the fields are defined in :mod:`holostim.eventlog.records`). Each record is written with a single
``write`` and ``fsync``'d before :meth:`EventLog.append` returns, so a crash (even ``SIGKILL``) loses at
most the record being written and never corrupts the ones before it. An append is all or nothing
(:class:`~holostim.eventlog.appendfile.AppendFile`): a full disk or any I/O error during it raises
:class:`EventLogError` with the log exactly as it was, the sequence number unused, so the session can
block the laser and the next append after space returns continues cleanly. Optionally every frame is
also stored beside the log (``<name>.masks``, :mod:`holostim.eventlog.masks`), before its record and
under the same rule: a record whose line cannot be written takes its frame back out. A log is never
overwritten or appended to by a second run, and a log that cannot even get its header written is
removed again, so a full disk leaves no empty files behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from holostim import __version__
from holostim.eventlog.appendfile import AppendFile
from holostim.eventlog.masks import FrameStore, frame_name
from holostim.eventlog.records import FORMAT, FORMAT_VERSION, EventLogError, frame_hash, machine_info, now_iso
from holostim.files import fsync_dir

__all__ = ["EventLog"]


def _json_default(obj: Any) -> Any:
    """JSON for the values a record carries: numpy scalars and arrays, paths, dataclasses."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"cannot write {type(obj).__name__} to the event log")


def _finite(value: Any) -> Any:
    """Non-finite floats become ``null``: strict JSON has no NaN, and jq/pandas must read the log."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return [_finite(v) for v in value.tolist()]
    return value


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(_finite(record), default=_json_default, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


class _NameTaken(EventLogError):
    """The chosen log name exists already (another log started in the same second): try the next."""


def _failed(what: str, path: Path, exc: OSError) -> EventLogError:
    """One line naming the file and what the system said (e.g. "No space left on device")."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return EventLogError(f"cannot write {what} {str(path)!r}: {reason}")


def _check_directory(directory: Path) -> None:
    """Create the log folder, or say plainly why it cannot be one (a file, a device such as /dev/null)."""
    if directory.exists() and not directory.is_dir():
        kind = "a file" if directory.is_file() else "a device or special file"
        raise EventLogError(
            f"log.directory {str(directory)!r} is {kind}, not a folder; set log.directory to a folder"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EventLogError(
            f"cannot create the log folder {str(directory)!r}: {exc.strerror or exc}"
        ) from None


class EventLog:
    """Append-only JSONL log of one run.

    Parameters
    ----------
    path : path
        The ``.jsonl`` file to create; it must not exist (a log is never overwritten or appended to
        by a second run).
    header : dict
        Extra header fields (``config``, ``calibration``, ``backend``, ...); the format, version,
        holostim version, start time and machine are added.
    masks : {"none", "npz"}
        ``"npz"`` (the session key's historical name) also stores every frame in ``<stem>.masks``
        beside the log (:mod:`holostim.eventlog.masks`).
    """

    def __init__(self, path: str | Path, header: dict[str, Any] | None = None, *, masks: str = "none"):
        if masks not in ("none", "npz"):
            raise EventLogError(f"masks={masks!r} is not supported; use 'none' or 'npz'")
        self.path = Path(path)
        self.masks_path: Path | None = self.path.with_suffix(".masks") if masks == "npz" else None
        self._lock = threading.Lock()
        self._seq = 0
        self._file: AppendFile | None = None
        self._store: FrameStore | None = None
        _check_directory(self.path.parent)
        self.header = {
            "type": "header",
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "holostim_version": __version__,
            "started": now_iso(),
            "machine": machine_info(),
            **(header or {}),
        }
        if self.masks_path is not None:
            self.header["masks_file"] = self.masks_path.name
        line = (_dumps(self.header) + "\n").encode("utf-8")
        try:
            self._file = AppendFile(self.path)
        except FileExistsError:
            raise _NameTaken(
                f"log file {str(self.path)!r} already exists; logs are never overwritten"
            ) from None
        except OSError as exc:
            raise EventLogError(f"cannot create the log file {str(self.path)!r}: {exc.strerror}") from None
        try:
            if self.masks_path is not None:
                try:
                    self._store = FrameStore(self.masks_path)
                except FileExistsError:
                    raise _NameTaken(f"masks file {str(self.masks_path)!r} already exists") from None
                except OSError as exc:
                    raise _failed("the masks file", self.masks_path, exc) from None
            try:
                self._file.append(line)
            except OSError as exc:
                raise _failed("the log", self.path, exc) from None
        except BaseException:
            self._discard()
            raise
        # Make the new directory entries themselves durable, so the files survive a power cut.
        fsync_dir(self.path.parent)

    def _discard(self) -> None:
        """Remove what a failed creation made: a full disk must not leave empty logs behind."""
        for handle in (self._store, self._file):
            if handle is not None:
                try:
                    handle.close()
                    handle.path.unlink(missing_ok=True)
                except OSError:
                    pass
        self._file = self._store = None
        fsync_dir(self.path.parent)

    @classmethod
    def create(
        cls, directory: str | Path, header: dict[str, Any] | None = None, *, masks: str = "none",
        prefix: str = "holostim",
    ) -> EventLog:
        """A new log in ``directory`` named ``<prefix>-<YYYYmmdd-HHMMSS>-<pid>[-n].jsonl``.

        Only a name that is taken makes it try the next one; any other failure (a full disk, a folder
        that is a file) is raised at once, after removing what it created.
        """
        directory = Path(directory)
        _check_directory(directory)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = f"{prefix}-{stamp}-{os.getpid()}"
        for n in range(1000):
            path = directory / (f"{base}.jsonl" if n == 0 else f"{base}-{n}.jsonl")
            try:
                return cls(path, header, masks=masks)
            except _NameTaken:
                continue  # lost a race with another log in the same second
        raise EventLogError(f"cannot find a free log file name in {str(directory)!r} (1000 taken)")

    @property
    def n_records(self) -> int:
        """Records written after the header."""
        return self._seq

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._file is None or self._file.closed

    def append(self, record: dict[str, Any], frame: np.ndarray | None = None) -> dict[str, Any]:
        """Write one record durably and return it as written (with ``seq`` and ``type`` filled in).

        ``frame`` (uint8), when given, adds ``frame_hash`` to the record and, with ``masks="npz"``,
        stores the frame itself (named by the record's ``mask``, at its ``mask_offset``).

        Raises
        ------
        EventLogError
            The record (or its frame) could not be made durable; the log and the frame store are
            exactly as they were before the call, and the sequence number is not used.
        """
        with self._lock:
            if self.closed:
                raise EventLogError(f"log {str(self.path)!r} is closed")
            assert self._file is not None
            seq = self._seq + 1
            out = {"type": "pattern", "seq": seq, **record}
            out["seq"] = seq
            mask_offset: int | None = None
            if frame is not None:
                out.setdefault("frame_hash", frame_hash(frame))
                out.setdefault("frame_shape", list(frame.shape))
                if self._store is not None:
                    out["mask"] = frame_name(seq)
                    out["mask_offset"] = self._store.end
            line = (_dumps(out) + "\n").encode("utf-8")  # a record that cannot be written fails here
            if frame is not None and self._store is not None:
                try:
                    mask_offset = self._store.append(seq, frame)
                except OSError as exc:
                    raise _failed("the masks file", self._store.path, exc) from None
            try:
                self._file.append(line)
            except OSError as exc:
                if mask_offset is not None and self._store is not None:
                    try:
                        self._store.undo(mask_offset)
                    except OSError:
                        pass  # an orphan frame; the reader keeps the last frame of a name
                raise _failed("the log", self.path, exc) from None
            self._seq = seq
            return out

    def close(self) -> None:
        """Close the files; further appends raise."""
        with self._lock:
            for handle in (self._file, self._store):
                if handle is not None:
                    handle.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
