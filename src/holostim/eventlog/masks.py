"""The frame store beside a log: every uint8 SLM frame, appended to one file that a full disk cannot break.

Why not the zip (``.masks.npz``) it replaces: appending to a zip rewrites its central directory, and a
write that fails half-way (``ENOSPC``) leaves a second, partial archive behind the first, so that six of
seven acknowledged frames became unreachable. Why not one ``.npy`` per frame in a folder: that is two
fsyncs and a directory entry per frame (tens of thousands of files per run), and a crash can still leave
an orphan. A single append-only file has the log's own rule (:class:`~holostim.eventlog.appendfile.
AppendFile`): an append is all or nothing, so after a fault the file is exactly what was acknowledged.

Layout (little-endian): the 16-byte file magic ``HOLOSTIM-FRAMES1``, then per frame a 32-byte head
(``HSFRAME1``, ``seq`` u64, payload length u64, CRC-32 of the payload u32, 4 pad bytes) and the frame as
an ``.npy`` payload (``np.lib.format``, no pickles). The store describes itself, so
:func:`read_frames` needs no log; each record also carries its frame's ``mask_offset``. A frame cut
short by ``SIGKILL`` is the last one and is skipped; a damaged frame is skipped, the reader resyncs on
the next head and reports it.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np

from holostim.eventlog.appendfile import AppendFile
from holostim.eventlog.records import EventLogError

__all__ = ["FILE_MAGIC", "FrameStore", "frame_name", "read_frames"]

FILE_MAGIC = b"HOLOSTIM-FRAMES1"
_HEAD = struct.Struct("<8sQQI4x")
_FRAME_MAGIC = b"HSFRAME1"


def frame_name(seq: int) -> str:
    """The name a record's ``mask`` field gives its frame: ``frame_000042``."""
    return f"frame_{seq:06d}"


def _payload(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(frame), allow_pickle=False)
    return buf.getvalue()


class FrameStore:
    """Append-only frame file; :meth:`append` returns the frame's offset, :meth:`undo` takes it back."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = AppendFile(self.path)
        try:
            self._file.append(FILE_MAGIC)
        except OSError:
            self._file.close()
            self.path.unlink(missing_ok=True)
            raise

    @property
    def end(self) -> int:
        """Where the next frame will start."""
        return self._file.end

    def append(self, seq: int, frame: np.ndarray) -> int:
        """Store ``frame`` durably under ``seq``; raises ``OSError`` with the store as it was before."""
        payload = _payload(frame)
        head = _HEAD.pack(_FRAME_MAGIC, seq, len(payload), zlib.crc32(payload))
        return self._file.append(head + payload)

    def undo(self, offset: int) -> None:
        """Remove the frame appended at ``offset`` (its record could not be written)."""
        self._file.truncate(offset)

    def close(self) -> None:
        """Close the file (idempotent)."""
        self._file.close()


def read_frames(path: str | Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every intact frame of a store, ``{frame_name(seq): array}``, and what was damaged (one line each)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EventLogError(f"cannot read the masks file {str(path)!r}: {exc.strerror}") from None
    if not data.startswith(FILE_MAGIC):
        raise EventLogError(f"{str(path)!r} is not a holostim frame store (no {FILE_MAGIC.decode()} magic)")
    frames: dict[str, np.ndarray] = {}
    damaged: list[str] = []
    pos = len(FILE_MAGIC)
    while pos < len(data):
        if len(data) - pos < _HEAD.size:
            damaged.append(f"{path}@{pos}: incomplete last frame (the writer stopped mid-frame)")
            break
        magic, seq, size, crc = _HEAD.unpack_from(data, pos)
        if magic != _FRAME_MAGIC:
            nxt = data.find(_FRAME_MAGIC, pos + 1)
            damaged.append(f"{path}@{pos}: damaged bytes up to {nxt if nxt >= 0 else len(data)}")
            if nxt < 0:
                break
            pos = nxt
            continue
        start, end = pos + _HEAD.size, pos + _HEAD.size + size
        if end > len(data):
            damaged.append(f"{path}@{pos}: incomplete last frame {frame_name(seq)} (the writer stopped)")
            break
        payload = data[start:end]
        if zlib.crc32(payload) != crc:
            damaged.append(f"{path}@{pos}: frame {frame_name(seq)} fails its CRC; skipped")
        else:
            try:
                frames[frame_name(seq)] = np.lib.format.read_array(io.BytesIO(payload), allow_pickle=False)
            except (ValueError, OSError) as exc:
                damaged.append(f"{path}@{pos}: frame {frame_name(seq)} unreadable ({exc}); skipped")
        pos = end
    return frames, damaged
