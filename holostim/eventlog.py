"""The stimulation log: an append-only JSON Lines record of every pattern that reached the SLM.

An experiment is only analysable and reproducible if we know exactly what light went where and when.
One file per run, in the session's log directory:

* line 1 is a header record (``"type": "header"``): holostim version, the resolved session, the
  calibration, the machine and the compute backend;
* then one ``"type": "pattern"`` record per pattern shown: timestamps, targets, method, metrics,
  a SHA-256 of the exact uint8 frame, and the interlock state.

Each record is written with a single ``write``, flushed and ``fsync``'d before :meth:`EventLog.append`
returns, so a crash (even ``SIGKILL``) loses at most the record being written and never corrupts the
ones before it; :func:`read` skips a truncated last line.  Optionally every frame is also stored in an
NPZ file beside the log (``<name>.masks.npz``, one ``frame_<seq>.npy`` member per record, appended and
closed per record so that it survives a crash too).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import threading
import zipfile
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from holostim import __version__
from holostim.errors import HolostimError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "EventLog",
    "EventLogError",
    "LogContents",
    "frame_hash",
    "machine_info",
    "read",
    "read_masks",
]

FORMAT = "holostim-eventlog"
FORMAT_VERSION = 1


class EventLogError(HolostimError, OSError):
    """The log cannot be written, or a file is not a readable holostim log."""


def frame_hash(frame: np.ndarray) -> str:
    """``"sha256:<hex>"`` of the exact bytes of a uint8 frame (row-major), with its shape mixed in.

    The shape is part of the digest so that two frames with the same bytes but different geometry
    (1152 × 1920 versus 1920 × 1152) never compare equal.
    """
    a = np.ascontiguousarray(frame)
    if a.dtype != np.uint8:
        raise EventLogError(f"frame_hash expects a uint8 frame, got dtype {a.dtype}")
    h = hashlib.sha256()
    h.update(("x".join(str(n) for n in a.shape) + ";").encode())
    h.update(a.data)
    return "sha256:" + h.hexdigest()


def machine_info() -> dict[str, Any]:
    """Where the run happened: host, OS, Python, CPU count."""
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def now_iso() -> str:
    """Wall-clock time with the UTC offset, microsecond resolution."""
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="microseconds")


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
        _fsync_dir(self.path.parent)

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


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
