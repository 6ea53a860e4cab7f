"""Files: written so that a crash never leaves half of one; named relative to the session that names them.

A session, a calibration or a cache file is written to a temporary file beside the target, flushed and
fsync'd, renamed over the target, and the directory is fsync'd so the rename itself is durable. A failure
at any step leaves the previous file as it was and removes the temporary one.

Paths inside a session resolve relative to the session file's folder (the pydantic validation context's
``base_dir``), so a rig folder can be moved as a whole. The two path types live here, below the
configuration and the devices, because both use them: the session schema and every device backend whose
options name a file (a replay recording, a Micro-Manager configuration).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo


def fsync_dir(directory: str | Path) -> None:
    """Make a rename or a new file in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened; NTFS journals the rename
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` by ``data`` all at once (creating its folder); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` by ``text`` all at once (creating its folder); returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))


# ------------------------------------------------------------------------- session-relative paths
def _base_dir(info: ValidationInfo) -> Path:
    ctx = info.context or {}
    return Path(ctx.get("base_dir") or Path.cwd())


def _resolve(value: Path, info: ValidationInfo) -> Path:
    p = Path(os.path.expanduser(str(value)))
    if not p.is_absolute():
        p = _base_dir(info) / p
    return Path(os.path.normpath(p))


def _resolve_existing(value: Path, info: ValidationInfo) -> Path:
    p = _resolve(value, info)
    if not p.is_file():
        raise ValueError(
            f"file {str(p)!r} does not exist (relative paths start at the session file's folder)"
        )
    return p


ResolvedPath = Annotated[Path, AfterValidator(_resolve)]
"""A path that may not exist yet (calibration output, log folder)."""

ExistingFile = Annotated[Path, AfterValidator(_resolve_existing)]
"""A path that must name an existing file when the session is loaded."""
