"""The library's Zarr store: one array of masks chunked by sets, a record per finished chunk, a manifest.

Layout of ``LIB.zarr`` (a Zarr group; zarr is imported here only, and lazily)::

    frames | phases      (n_sets, ny, nx) uint8 frames as the SLM shows them, or float32 phases;
                         chunk (chunk_sets, ny, nx): one chunk is one task of the build
    holostim-chunks/     ``<chunk>.json`` per finished chunk: each set's metrics and SHA-256, written
                         (atomically) only after the chunk's data, so a record means the data was complete
    attrs["holostim"]    the manifest: sets (camera, SLM and sample coordinates), compute, the resolved
                         session and calibration, holostim version, the spec's fingerprint; once complete,
                         every set's metrics and hash

A chunk is done when its record exists *and* the data in the store still has the recorded hashes; any
other chunk (never written, half written when the build was killed, or corrupted since) is computed
again. Writes of one chunk touch only that chunk's file, so workers write in parallel without locks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from holostim.errors import HolostimError
from holostim.eventlog import frame_hash
from holostim.files import atomic_write_text

__all__ = ["LibraryStoreError", "chunk_record_path", "create_store", "data_hash", "open_manifest",
           "read_chunk_record", "read_set", "write_chunk", "write_manifest"]

RECORDS = "holostim-chunks"
"""The folder of chunk records inside the store."""
MANIFEST_KEY = "holostim"


class LibraryStoreError(HolostimError, ValueError):
    """A library store that cannot be used (missing, not a library, built from another spec, corrupt)."""


def data_hash(a: np.ndarray) -> str:
    """The SHA-256 of one set's mask: the log's frame hash for uint8 frames, the same rule for phases."""
    if a.dtype == np.uint8:
        return frame_hash(a)
    a = np.ascontiguousarray(a, dtype=np.float32)
    h = hashlib.sha256()
    h.update(("x".join(str(n) for n in a.shape) + ";float32;").encode())
    h.update(a.data)
    return "sha256:" + h.hexdigest()


def _zarr():
    try:
        import zarr
    except ImportError:  # pragma: no cover - zarr is a dependency of the library extra
        raise LibraryStoreError("mask libraries need zarr: pip install 'holostim[library]'") from None
    return zarr


def create_store(path: Path, manifest: dict[str, Any], shape: tuple[int, int, int], chunk_sets: int,
                 output: str) -> None:
    """Make the store (or check an existing one is this library's) and write its first manifest.

    Idempotent: the manifest is written first, then the array and the records folder are made where
    missing, so a build killed while it created the store resumes like any other.

    Raises
    ------
    LibraryStoreError
        ``path`` holds a library built from another spec or session (other fingerprint).
    """
    zarr = _zarr()
    path = Path(path)
    if path.exists():
        old = open_manifest(path)
        if old.get("fingerprint") != manifest["fingerprint"]:
            raise LibraryStoreError(
                f"{path} holds library {old.get('name')!r} built from another spec, session or calibration; "
                "give a new --out, or delete it to rebuild")
    else:
        zarr.open_group(str(path), mode="w").attrs[MANIFEST_KEY] = manifest
    group = zarr.open_group(str(path), mode="r+")
    if output not in group:
        dtype = np.uint8 if output == "frames" else np.float32
        chunks = (chunk_sets, shape[1], shape[2])
        if hasattr(group, "create_array"):  # zarr >= 3
            group.create_array(output, shape=shape, chunks=chunks, dtype=dtype, fill_value=0)
        else:  # pragma: no cover - zarr 2.18
            group.create_dataset(output, shape=shape, chunks=chunks, dtype=dtype, fill_value=0)
    (path / RECORDS).mkdir(exist_ok=True)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest (the group's ``holostim`` attribute)."""
    group = _zarr().open_group(str(path), mode="r+")
    group.attrs[MANIFEST_KEY] = manifest


def open_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of the library at ``path``.

    Raises
    ------
    LibraryStoreError
        No store there, or a Zarr store that is not a holostim library.
    """
    path = Path(path)
    if not path.is_dir():
        raise LibraryStoreError(f"library {str(path)!r} does not exist (build it with `holostim library "
                                "build`)")
    try:
        group = _zarr().open_group(str(path), mode="r")
        manifest = group.attrs.get(MANIFEST_KEY)
    except Exception as exc:  # zarr raises several types for a folder that is not a store
        raise LibraryStoreError(f"{str(path)!r} is not a Zarr store ({type(exc).__name__}: {exc})") from None
    if not isinstance(manifest, dict):
        raise LibraryStoreError(f"{str(path)!r} is a Zarr store but not a holostim mask library")
    return manifest


def _array(path: Path, output: str, mode: str):
    return _zarr().open_array(store=str(path), path=output, mode=mode)


def chunk_record_path(path: Path, chunk: int) -> Path:
    """Where the record of chunk ``chunk`` is kept."""
    return Path(path) / RECORDS / f"{chunk:06d}.json"


def read_chunk_record(path: Path, chunk: int, output: str, start: int, stop: int) -> dict | None:
    """The chunk's record if it exists and the data in the store still has its hashes, else ``None``."""
    rec_path = chunk_record_path(path, chunk)
    try:
        record = json.loads(rec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    sets = record.get("sets") if isinstance(record, dict) else None
    if not isinstance(sets, list) or len(sets) != stop - start:
        return None
    data = _array(path, output, "r")[start:stop]
    for a, s in zip(data, sets, strict=True):
        if not isinstance(s, dict) or data_hash(np.asarray(a)) != s.get("sha256"):
            return None
    return record


def write_chunk(path: Path, chunk: int, output: str, start: int, data: np.ndarray, record: dict) -> None:
    """Write one chunk's masks, then (atomically) its record: a record always means complete data."""
    _array(path, output, "r+")[start:start + data.shape[0]] = data
    atomic_write_text(chunk_record_path(path, chunk), json.dumps(record) + "\n")


def _names_like(name: str, ids: list[str]) -> str:
    """The ids closest to a mistyped one (or the first few), and how many sets there are."""
    import difflib

    close = difflib.get_close_matches(name, ids, n=6, cutoff=0.5)
    count = f"{len(ids)} sets"
    if close:
        return f"close: {', '.join(close)}; {count}"
    return f"sets: {', '.join(ids[:8])}" + (f", … ({count})" if len(ids) > 8 else "")


def read_set(path: str | Path, set_id: str) -> tuple[np.ndarray, dict, dict]:
    """One set's mask (only its own rows are read), its manifest entry and the whole manifest.

    Raises
    ------
    LibraryStoreError
        No such set, an incomplete library, or a mask whose hash is not the manifest's (corrupt store).
    """
    path = Path(path)
    manifest = open_manifest(path)
    ids = [s["id"] for s in manifest["sets"]]
    try:
        i = ids.index(str(set_id))
    except ValueError:
        raise LibraryStoreError(f"library {path.name} has no set {set_id!r} ({_names_like(str(set_id), ids)})"
                                ) from None
    results = manifest.get("results")
    if not manifest.get("complete") or not results:
        raise LibraryStoreError(f"library {path.name} is not complete: run `holostim library build` again "
                                "to finish it")
    a = np.asarray(_array(path, manifest["output"], "r")[i])
    if data_hash(a) != results[i]["sha256"]:
        raise LibraryStoreError(f"library {path.name}: set {set_id!r} has changed on disk since it was built "
                                "(hash mismatch); rebuild it with `holostim library build`")
    entry = {**manifest["sets"][i], **results[i]}
    return a, entry, manifest
