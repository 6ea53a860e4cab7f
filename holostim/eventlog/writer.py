"""Writing the stimulation log: an append-only JSON Lines file, one durable record at a time.

One file per run, in the session's log directory: line 1 is the header, then one record per pattern
shown (the fields are defined in :mod:`holostim.eventlog.records`). Each record is written with a single
``write``, flushed and ``fsync``'d before :meth:`EventLog.append` returns, so a crash (even ``SIGKILL``)
loses at most the record being written and never corrupts the ones before it. Optionally every frame is
also stored in an NPZ file beside the log (``<name>.masks.npz``, one ``frame_<seq>.npy`` member per
record, appended and closed per record so that it survives a crash too). A log is never overwritten or
appended to by a second run.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
import zipfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from holostim import __version__
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
        Also store each frame in ``<stem>.masks.npz`` beside the log.
    """

    def __init__(self, path: str | Path, header: dict[str, Any] | None = None, *, masks: str = "none"):
        if masks not in ("none", "npz"):
            raise EventLogError(f"masks={masks!r} is not supported; use 'none' or 'npz'")
        self.path = Path(path)
        self.masks_path: Path | None = self.path.with_suffix(".masks.npz") if masks == "npz" else None
        self._lock = threading.Lock()
        self._seq = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError:
            raise EventLogError(
                f"log file {str(self.path)!r} already exists; logs are never overwritten"
            ) from None
        except OSError as exc:
            raise EventLogError(f"cannot create the log file {str(self.path)!r}: {exc.strerror}") from None
        self._fd: int | None = fd
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
        self._write_line(self.header)
        # Make the new directory entry itself durable, so the file survives a power cut.
        fsync_dir(self.path.parent)

    @classmethod
    def create(
        cls, directory: str | Path, header: dict[str, Any] | None = None, *, masks: str = "none",
        prefix: str = "holostim",
    ) -> EventLog:
        """A new log in ``directory`` named ``<prefix>-<YYYYmmdd-HHMMSS>-<pid>[-n].jsonl``."""
        directory = Path(directory)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = f"{prefix}-{stamp}-{os.getpid()}"
        for n in range(1000):
            path = directory / (f"{base}.jsonl" if n == 0 else f"{base}-{n}.jsonl")
            if not path.exists():
                try:
                    return cls(path, header, masks=masks)
                except EventLogError:
                    if path.exists():  # lost a race with another log in the same second
                        continue
                    raise
        raise EventLogError(f"cannot find a free log file name in {str(directory)!r}")

    @property
    def n_records(self) -> int:
        """Records written after the header."""
        return self._seq

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._fd is None

    def append(self, record: dict[str, Any], frame: np.ndarray | None = None) -> dict[str, Any]:
        """Write one record durably and return it as written (with ``seq`` and ``type`` filled in).

        ``frame`` (uint8), when given, adds ``frame_hash`` to the record and, with ``masks="npz"``,
        stores the frame itself under ``frame_<seq>.npy``.
        """
        with self._lock:
            if self._fd is None:
                raise EventLogError(f"log {str(self.path)!r} is closed")
            self._seq += 1
            out = {"type": "pattern", "seq": self._seq, **record}
            out["seq"] = self._seq
            if frame is not None:
                out.setdefault("frame_hash", frame_hash(frame))
                out.setdefault("frame_shape", list(frame.shape))
                if self.masks_path is not None:
                    self._append_mask(self._seq, frame)
                    out["mask"] = f"frame_{self._seq:06d}"
            self._write_line(out)
            return out

    def _write_line(self, record: dict[str, Any]) -> None:
        data = (_dumps(record) + "\n").encode("utf-8")
        assert self._fd is not None
        try:
            view = memoryview(data)
            while view:  # one write in practice; loop only for a short write on a full pipe/disk
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)
        except OSError as exc:
            raise EventLogError(f"cannot write the log {str(self.path)!r}: {exc.strerror}") from None

    def _append_mask(self, seq: int, frame: np.ndarray) -> None:
        assert self.masks_path is not None
        try:
            with zipfile.ZipFile(self.masks_path, mode="a", compression=zipfile.ZIP_STORED) as zf:
                with zf.open(f"frame_{seq:06d}.npy", mode="w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(frame), allow_pickle=False)
            with open(self.masks_path, "rb+") as fh:
                os.fsync(fh.fileno())
        except OSError as exc:
            raise EventLogError(f"cannot write the masks file {str(self.masks_path)!r}: {exc}") from None

    def close(self) -> None:
        """Close the file; further appends raise."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten log must not leak its descriptor
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

