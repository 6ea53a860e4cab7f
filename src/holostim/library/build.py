"""Build a mask library on Dask: plan the sets against the session, compute chunks on workers, resume.

:func:`plan_library` does everything that can fail on the user's input before a worker starts: it reads
the spec's sets, checks every target with the session's own rules (calibrated, inside the SLM's field,
outside the zero-order exclusion, at most ``safety.max_spots`` per set), maps them camera → SLM →
sample, and derives each set's seed from its id (:func:`~holostim.library.spec.set_seed`).
:func:`build_library` then creates (or reopens) the store and submits one task per chunk
(:func:`holostim.library.worker.run_chunk`). A task finds its chunk intact (record present, hashes
match) and returns at once, or computes it; so a rerun after a kill computes only the missing or
corrupt chunks, and the result does not depend on the number of workers or the order of the tasks.

The cluster is a ``LocalCluster`` of spawned worker processes (``threads_per_worker=1``: each worker
runs one FFTW thread, the workers are the parallelism) unless a scheduler address is given. Before any
worker starts, the client plans the engine's FFT once, so FFTW's wisdom is on disk and every worker
plans the same transform (a FFTW_MEASURE plan measured separately in each process could round
differently), and settles how many sets each worker stacks into one FFT (``compute.batch``,
:mod:`holostim.library.batch`; the manifest records it). dask and distributed are imported here only,
when a build runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from holostim.calibration import Calibration
from holostim.config import SessionConfig
from holostim.geometry import SLMGeometry, target_refusal
from holostim.library import store
from holostim.library.sets import TargetSet, resolve_sets
from holostim.library.spec import LibrarySpec, LibrarySpecError, set_seed
from holostim.library.worker import ChunkJob, run_chunk

__all__ = ["BuildReport", "LibraryPlan", "build_library", "plan_batch", "plan_library", "slm_fingerprint",
           "text_progress"]


@dataclass(frozen=True)
class LibraryPlan:
    """Everything a build needs, checked: the sets in SLM pixels, their seeds, the settings, the manifest."""

    spec: LibrarySpec
    sets: list[TargetSet]
    spots_slm: list[np.ndarray]
    seeds: list[int]
    engine: dict[str, Any]
    slm: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def n_chunks(self) -> int:
        """Tasks of the build (the last chunk may be short)."""
        c = self.spec.chunk_sets
        return (len(self.sets) + c - 1) // c


@dataclass(frozen=True)
class BuildReport:
    """What a build did: chunks computed now, chunks found done, and the store's path."""

    path: Path
    n_sets: int
    n_chunks: int
    computed_chunks: int
    skipped_chunks: int


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # the engine's DefocusModel
        return _plain(dataclasses.asdict(value))
    return value


def slm_fingerprint(slm_settings: dict[str, Any], calibration: dict[str, Any] | None) -> str:
    """A hash of what decides a frame's light: the SLM's settings (LUT, corrections) and the calibration."""
    text = json.dumps(_plain({"slm": slm_settings, "calibration": calibration}), sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def frame_settings(cfg: SessionConfig) -> dict[str, Any]:
    """The SLM settings that make a frame (no interlock timings: they decide when, not what, is shown)."""
    kw = cfg.slm.slm_kwargs(None)
    for k in ("refresh_hz", "settle_tau_ms"):
        kw.pop(k, None)
    return _plain(kw)


def plan_library(spec: LibrarySpec, cfg: SessionConfig, calibration: Calibration | None = None,
                 *, fft_threads: int = 1) -> LibraryPlan:
    """Resolve and check the sets against the session; nothing is computed.

    Raises
    ------
    LibrarySpecError
        A target the session would refuse (naming the set and the target), a bad file, no calibration.
    """
    from holostim import __version__

    if spec.output == "frames" and cfg.slm.bits != 8:
        raise LibrarySpecError(f"this session's SLM has {cfg.slm.bits}-bit frames and a library stores "
                               "8-bit frames; use `output: phases` (each step then converts its phase)")
    if calibration is None:
        path = cfg.calibration.file
        if path is None or not Path(path).is_file():
            raise LibrarySpecError(f"the session has no calibration file ({path}); a library maps camera "
                                   "targets to the SLM with it: run `holostim calibrate` first")
        calibration = Calibration.load(path)
    sets = resolve_sets(spec)
    geometry = SLMGeometry(shape=tuple(cfg.slm.shape), pitch_um=cfg.slm.pitch_um,
                           wavelength_um=cfg.slm.wavelength_um, focal_length_um=cfg.optics.focal_length_um,
                           magnification=cfg.optics.magnification,
                           blaze=tuple(float(b) for b in cfg.slm.blaze))
    radius = cfg.calibration.zero_order_radius_px
    spots, seeds, entries = [], [], []
    for s in sets:
        if len(s.xy_camera) > cfg.safety.max_spots:
            raise LibrarySpecError(f"set {s.id!r} has {len(s.xy_camera)} targets; the session allows at most "
                                   f"{cfg.safety.max_spots} (safety.max_spots)")
        for (x, y), tid in zip(s.xy_camera, s.target_ids, strict=True):
            why = target_refusal(calibration, geometry, float(x), float(y), radius)
            if why is not None:
                raise LibrarySpecError(f"set {s.id!r}, target {tid} at camera ({x:g}, {y:g}): {why}")
        xy_slm = np.asarray(calibration.camera_to_slm(s.xy_camera), dtype=np.float64).reshape(-1, 2)
        seed = set_seed(spec.compute.seed, s.id)
        spots.append(xy_slm)
        seeds.append(seed)
        entries.append({"id": s.id, "target_ids": list(s.target_ids), "weights": s.weights.tolist(),
                        "camera_px": s.xy_camera.tolist(), "slm_px": xy_slm.tolist(),
                        "sample_um": geometry.slm_to_sample_um(xy_slm).tolist(),
                        "power_mw_per_spot": s.power_mw_per_spot, "seed": seed})
    engine = _plain({**cfg.engine_kwargs(), "threads": int(fft_threads)})
    slm = frame_settings(cfg)
    cal = calibration.to_dict()
    compute = spec.compute.model_dump()
    # the batch changes no mask (holostim.library.batch): a library rebuilt with another B is the same one
    made_by = {k: v for k, v in compute.items() if k != "batch"}
    fingerprint_src = json.dumps(_plain({"sets": entries, "compute": made_by, "engine": engine, "slm": slm,
                                         "calibration": cal, "output": spec.output,
                                         "chunk_sets": spec.chunk_sets}), sort_keys=True)
    manifest = {
        "format": "holostim-mask-library", "format_version": 1, "name": spec.name, "holostim": __version__,
        "fingerprint": "sha256:" + hashlib.sha256(fingerprint_src.encode()).hexdigest(),
        "slm_fingerprint": slm_fingerprint(slm, cal),
        "output": spec.output, "shape": list(cfg.slm.shape), "chunk_sets": spec.chunk_sets,
        "compute": compute, "engine": engine, "slm": slm, "calibration": cal,
        "session": _plain(cfg.to_dict()), "sets": entries, "complete": False,
    }
    return LibraryPlan(spec, sets, spots, seeds, engine, slm, _plain(manifest))


def _jobs(plan: LibraryPlan, path: Path, batch: int) -> list[ChunkJob]:
    c, n = plan.spec.chunk_sets, len(plan.sets)
    return [ChunkJob(str(path), k, i, plan.spec.output, plan.engine,
                     plan.slm if plan.spec.output == "frames" else None, plan.spec.compute.method,
                     plan.spec.compute.iterations, tuple(plan.spots_slm[i:i + c]),
                     tuple(s.weights for s in plan.sets[i:i + c]), tuple(plan.seeds[i:i + c]), batch)
            for k, i in enumerate(range(0, n, c))]


def plan_batch(plan: LibraryPlan, engine: Any) -> dict[str, Any]:
    """The build's B (:mod:`holostim.library.batch`), as the manifest records it (``size``, ``reason``...)."""
    from holostim.library.batch import resolve_batch

    comp = plan.spec.compute
    probe = slice(0, 64)  # the measurement looks for its few FFT-loop sets among the first ones
    choice = resolve_batch(comp.batch, engine, comp.method, comp.iterations, plan.spots_slm[probe],
                           [s.weights for s in plan.sets[probe]], plan.seeds[probe], plan.spec.chunk_sets)
    return _plain(choice.to_dict())


def build_library(plan: LibraryPlan, out: str | Path, *, scheduler: str | None = None, workers: int = 2,
                  dashboard: bool = False, on_futures: Callable[[list], None] | None = None,
                  client: Any = None) -> BuildReport:
    """Compute every missing chunk of ``plan`` into the store ``out`` and complete its manifest.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); otherwise a ``LocalCluster`` of
        ``workers`` spawned processes, one thread each, is started and closed.
    dashboard : bool
        Serve the local cluster's dashboard (its address is printed by the CLI).
    on_futures : callable, optional
        Called with the futures before they are waited on (the CLI's progress bar).
    client : distributed.Client, optional
        Use this client (tests); neither started nor closed here.
    """
    from holostim.library.worker import engine_for

    out = Path(out)
    # plans (and saves FFTW wisdom) before any worker plans the same transform; measures B if asked
    batch = plan_batch(plan, engine_for(plan.engine))
    manifest = dict(plan.manifest, batch=batch)
    store.create_store(out, manifest, (len(plan.sets), *plan.manifest["shape"]), plan.spec.chunk_sets,
                       plan.spec.output)
    jobs = _jobs(plan, out, int(batch["size"]))
    own = client is None
    cluster = None
    if own:
        from distributed import Client, LocalCluster

        if scheduler is not None:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                   dashboard_address=":8787" if dashboard else None,
                                   env={"HOLOSTIM_THREADS": "1",
                                        "HOLOSTIM_FFTW_EFFORT": os.environ.get("HOLOSTIM_FFTW_EFFORT",
                                                                               "FFTW_MEASURE")})
            client = Client(cluster)
    try:
        tag = plan.manifest["fingerprint"][7:19]
        keys = [f"holostim-chunk-{tag}-{j.chunk}" for j in jobs]
        futures = client.map(run_chunk, jobs, key=keys, pure=False)
        if on_futures is not None:
            on_futures(futures)
        records = client.gather(futures)
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    results: list[dict] = []
    for rec in sorted(records, key=lambda r: r["chunk"]):
        results.extend({k: v for k, v in s.items()} for s in rec["sets"])
    manifest = dict(manifest, results=results, complete=True)
    store.write_manifest(out, manifest)
    computed = sum(1 for r in records if r["computed"])
    return BuildReport(out, len(plan.sets), len(jobs), computed, len(jobs) - computed)


def text_progress(futures: list) -> None:
    """Dask's text progress bar over the build's futures; returns when all are done."""
    from distributed import progress

    progress(futures)
