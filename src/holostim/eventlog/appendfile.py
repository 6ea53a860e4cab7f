"""An append-only file whose appends are all or nothing: the log's and the frame store's one write rule.

A full disk (``ENOSPC``), a quota or an I/O error can strike in the middle of a ``write`` and leave a
fragment, or after it, at ``fsync``, when the bytes are in the page cache but not durable. Either way
the file must look exactly as it did before the append, or the next record would be glued to the
fragment and a reader would lose both. So each append remembers the last good end of the file and, on
any ``OSError``, cuts the file back to it (``ftruncate`` + ``fsync``) before raising. Should even the
cut fail, the file is marked dirty and the cut is retried before the next append is written.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["AppendFile"]


class AppendFile:
    """A new file (never an existing one) that grows by whole, durable appends.

    Raises ``FileExistsError`` when ``path`` exists and ``OSError`` when it cannot be created; an
    :meth:`append` that fails raises the ``OSError`` after the file was cut back to its last good end.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        self._fd = os.open(self.path, flags, 0o644)
        self._end = 0  # where the last durable append ended
        self._dirty = False  # a cut-back failed: the bytes after _end are garbage

    @property
    def end(self) -> int:
        """The size of the file after the last successful append."""
        return self._end

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._fd is None

    def append(self, data: bytes) -> int:
        """Write ``data`` at the end and ``fsync`` it; returns the offset it starts at."""
        fd = self._require_open()
        if self._dirty:
            self._cut_back()
        start = self._end
        try:
            os.lseek(fd, start, os.SEEK_SET)
            view = memoryview(data)
            while view:  # one write in practice; a short write (full pipe/disk) goes on where it stopped
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        except OSError:
            self._dirty = True
            try:
                self._cut_back()
            except OSError:
                pass  # stays dirty: retried before the next append
            raise
        self._end = start + len(data)
        return start

    def truncate(self, offset: int) -> None:
        """Undo the appends after ``offset`` (an earlier :meth:`append`'s return value), durably."""
        self._require_open()
        if not 0 <= offset <= self._end:
            raise ValueError(f"offset {offset} is outside 0..{self._end}")
        self._end = offset
        self._dirty = True
        self._cut_back()

    def _cut_back(self) -> None:
        fd = self._require_open()
        os.ftruncate(fd, self._end)
        os.fsync(fd)
        self._dirty = False

    def _require_open(self) -> int:
        if self._fd is None:
            raise ValueError(f"{str(self.path)!r} is closed")
        return self._fd

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if getattr(self, "_fd", None) is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __del__(self) -> None:  # a forgotten file must not leak its descriptor
        try:
            self.close()
        except OSError:
            pass
