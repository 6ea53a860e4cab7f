"""Files: written so that a crash never leaves half of one; named relative to the session that names them.

A session, a calibration or a cache file is written to a temporary file beside the target, flushed and
fsync'd, renamed over the target, and the directory is fsync'd so the rename itself is durable. A failure
at any step leaves the previous file as it was and removes the temporary one.

Paths inside a session resolve relative to the session file's folder (the pydantic validation context's
``base_dir``), so a rig folder can be moved as a whole. The two path types live here, below the
configuration and the devices, because both use them: the session schema and every device backend whose
options name a file (a replay recording, a Micro-Manager configuration).

Small YAML files that are not sessions (a calibration, an imaging registration) are read by one strict
reader, :func:`read_small_yaml`: a size cap, UTF-8, the safe loader without aliases.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import yaml
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


MAX_SMALL_YAML_BYTES = 1 << 20
"""A calibration or a registration is well under a kilobyte; anything above a megabyte is not one."""


class _NoAliasLoader(yaml.SafeLoader):
    """The safe loader without aliases (``*name``).

    Such files never need one, and nine lines of nested aliases expand to 10⁹ nodes (the session loader
    refuses them for the same reason).
    """

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed in this file",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def read_small_yaml(path: str | Path, *, what: str, kind: str,
                    error: type[Exception]) -> tuple[Any, dict[str, int]]:
    """``(data, line of each top-level key)`` of a small YAML file; anything wrong is one ``error`` line.

    ``what`` starts every message ("calibration file '<path>'"); ``kind`` says what a huge, binary or
    too deeply nested file is not ("a holostim calibration").
    """
    p = Path(path)
    try:
        if p.stat().st_size > MAX_SMALL_YAML_BYTES:
            raise error(f"{what} is over {MAX_SMALL_YAML_BYTES >> 20} MiB: not {kind}")
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text: not {kind}") from None
    except OSError as exc:
        raise error(f"{what} cannot be read: {exc.strerror or exc}") from None
    loader = None
    try:
        loader = _NoAliasLoader(text)  # the reader refuses control characters already here
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = ({k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
                 if isinstance(node, yaml.MappingNode) else {})
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        raise error(f"{what} is not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply: not {kind}") from None
    finally:
        if loader is not None:
            loader.dispose()
