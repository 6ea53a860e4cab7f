"""What a build worker runs: one chunk of sets, computed with a worker-local engine, written to the store.

A task carries only small things (the engine's and the SLM's settings, each set's SLM-pixel spots,
weights and seed) and returns only metrics and hashes: the masks go from the worker straight into the
Zarr store, never through the scheduler. Each worker process builds its engine and its phase→gray
converter once, on its first task, and keeps them in a cache keyed by their settings, so a worker
serving two libraries (or a rebuilt one) never mixes them up.

The converter is the SLM's own (:class:`holostim.hardware.slm.SLM`, the base class every backend
shares: corrections, wrap, wavelength scaling, LUT), built from the session's ``slm`` section with no
device, window or Qt behind it; so a library frame is byte for byte what the session's SLM would make.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from holostim.library import store

__all__ = ["ChunkJob", "compute_set", "compute_sets", "run_chunk"]

_CACHE: dict[str, Any] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class ChunkJob:
    """One task: sets ``start:start+len(spots)`` of the library at ``path``."""

    path: str
    chunk: int
    start: int
    output: str
    engine: dict[str, Any]  # HologramEngine kwargs (backend a name), threads = FFTW threads
    slm: dict[str, Any] | None  # SLM kwargs for frames (None: phases are stored)
    method: str
    iterations: int
    spots: tuple[np.ndarray, ...]  # per set, (n, 2) SLM Fourier px
    weights: tuple[np.ndarray, ...]
    seeds: tuple[int, ...]
    batch: int = 1  # sets per FFT stack (holostim.library.batch); never changes a mask


def _key(kind: str, settings: dict[str, Any]) -> str:
    return kind + json.dumps(settings, sort_keys=True, default=str)


def engine_for(settings: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The engine of this process for ``settings`` (made on first use, FFTW threads as asked)."""
    from holostim.backend import Backend, get_backend
    from holostim.holography import HologramEngine

    key = _key("engine", settings)
    with _CACHE_LOCK:
        if key not in _CACHE:
            kw = dict(settings)
            threads = int(kw.pop("threads"))
            be = get_backend(kw.pop("backend"), kw["precision"])
            if be.name == "numpy" and be.threads != threads:
                be = Backend("numpy", be.precision, threads)
            source = kw.pop("source")
            kw["source"] = tuple(source) if isinstance(source, list) else source
            if isinstance(kw.get("defocus"), dict):  # sent as plain data (build._plain)
                from holostim.holography.defocus import DefocusModel

                kw["defocus"] = DefocusModel(**kw["defocus"])
            _CACHE[key] = HologramEngine(backend=be, **kw)
        return _CACHE[key]


def gray_for(settings: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The phase→gray converter of this process: the SLM base class from the session's ``slm`` settings."""
    from holostim.hardware.slm.base import SLM

    key = _key("slm", settings)
    with _CACHE_LOCK:
        if key not in _CACHE:
            slm = SLM(**settings)
            slm.kernel_threads = 1  # one core per worker: the workers are the parallelism
            _CACHE[key] = slm
        return _CACHE[key]


def compute_set(engine, method: str, iterations: int, spots: np.ndarray, weights: np.ndarray,  # type: ignore[no-untyped-def]
                seed: int):
    """One set's engine result: exactly what ``holostim compute`` runs for these spots and seed."""
    from holostim.library.batch import set_target

    return engine.compute(set_target(engine, spots, weights), method=method, iterations=iterations,
                          seed=int(seed))


def compute_sets(engine, job: ChunkJob) -> list:  # type: ignore[no-untyped-def]
    """The chunk's engine results, ``job.batch`` sets per FFT stack: each one :func:`compute_set`'s bytes."""
    from holostim.library.batch import set_target

    targets = [set_target(engine, xy, w) for xy, w in zip(job.spots, job.weights, strict=True)]
    return engine.compute_batch(targets, job.method, job.iterations, seeds=[int(s) for s in job.seeds],
                                batch=int(job.batch))


def run_chunk(job: ChunkJob) -> dict[str, Any]:
    """Compute and store one chunk unless the store already holds it intact; returns its record.

    The record is ``{"chunk", "computed", "sets": [{"sha256", metrics...}, ...]}``; ``computed`` is
    False when the chunk was found complete (its hashes checked against the data).
    """
    from holostim.holography.metrics import METRIC_NAMES

    path = Path(job.path)
    stop = job.start + len(job.spots)
    done = store.read_chunk_record(path, job.chunk, job.output, job.start, stop)
    if done is not None:
        return {**done, "computed": False}
    engine = engine_for(job.engine)
    gray = gray_for(job.slm) if job.slm is not None else None
    ny, nx = engine.shape
    data = np.empty((len(job.spots), ny, nx), dtype=np.uint8 if gray is not None else np.float32)
    sets = []
    for i, res in enumerate(compute_sets(engine, job)):
        if gray is not None:
            gray.phase_to_gray(res.phase, out=data[i])
        else:
            data[i] = res.phase
        entry = {name: float(getattr(res.metrics, name)) for name in METRIC_NAMES}
        entry.update(sha256=store.data_hash(data[i]), iterations=int(res.iterations),
                     compute_ms=float(res.timings.total_ms), batch=int(job.batch))
        sets.append(entry)
    record = {"chunk": job.chunk, "sets": sets}
    store.write_chunk(path, job.chunk, job.output, job.start, data, record)
    return {**record, "computed": True}
