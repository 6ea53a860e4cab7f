"""Disk faults on demand: ``os.write``/``os.fsync`` that fail (after a partial write) for one file only.

A full disk cannot be made here (no tmpfs or loop device for the tests), so the faults are injected where
the kernel would report them: ``os.write`` writes a fragment of what it was given and raises ``ENOSPC``,
``os.fsync`` raises ``ENOSPC`` after a complete write (delayed allocation reports a full disk there).
Only descriptors whose file name matches are affected, so pytest's own writes go on as usual.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass


def fd_path(fd: int) -> str:
    """The file an open descriptor names (Linux: /proc/self/fd)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


@dataclass
class DiskFaults:
    """Arm with :meth:`fail_write` / :meth:`fail_fsync`; each fault fires once, on the matching file."""

    write_suffix: str | None = None
    write_keep: int = 0  # bytes written before the fault (a fragment)
    fsync_suffix: str | None = None
    writes_failed: int = 0
    fsyncs_failed: int = 0
    full: bool = False  # every write to a matching file fails until cleared

    def fail_write(self, suffix: str, keep: int = 7, *, until_cleared: bool = False) -> None:
        self.write_suffix, self.write_keep, self.full = suffix, keep, until_cleared

    def fail_fsync(self, suffix: str) -> None:
        self.fsync_suffix = suffix

    def clear(self) -> None:
        self.write_suffix = self.fsync_suffix = None
        self.full = False


def install(monkeypatch) -> DiskFaults:
    """Patch ``os.write`` and ``os.fsync`` for the test; returns the switchboard."""
    faults = DiskFaults()
    real_write, real_fsync = os.write, os.fsync

    def write(fd, data):
        if faults.write_suffix and fd_path(fd).endswith(faults.write_suffix):
            keep = min(faults.write_keep, len(data))
            if keep:
                real_write(fd, bytes(memoryview(data)[:keep]))
            faults.writes_failed += 1
            if not faults.full:
                faults.write_suffix = None
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def fsync(fd):
        if faults.fsync_suffix and fd_path(fd).endswith(faults.fsync_suffix):
            faults.fsync_suffix = None
            faults.fsyncs_failed += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)
    return faults
