"""Mask-library benchmark: masks per second against batch size and Dask workers, at 512² and 1024².

Usage::

    python benchmarks/library.py [--quick] [--sizes 512 1024] [--workers 1 2] [--batches 1 2 4 8]
                                 [--sets 16] [--spots 20] [--iterations 30] [--backend numpy|cupy]
                                 [--json out.json]

Two tables per SLM size:

``engine``
    One process, one FFT thread, no Dask: ``HologramEngine.compute_batch`` over ``--sets`` targets with B
    sets per (B, N, N) FFT stack, after one untimed batch (planning). The ``same`` column checks every
    set's phase bytes against B = 1: the batch must never change a mask.
``build``
    A LocalCluster of W spawned worker processes (one thread, one FFT thread each), started once per W
    and warmed (every worker builds its engine on a first small library); then a library of ``--sets``
    random ensembles of ``--spots`` cells is built with ``compute.batch: B`` and chunks of
    ``max(--batches)`` sets into a fresh store, timed from the first task submitted to the manifest
    written (``--sets`` is raised to one chunk per worker if it is less).

Then the estimate for a 10 000-set library at each size's best build setting, and the speed-up of
the best B over B = 1. ``--spots 20`` keeps the sets on the FFT loop (the session's ``auto`` sends up to
13 spots at 512², 15 at 1024², to the direct sum, which a batch does not touch). ``--quick``: B 1 and 4,
8 sets of 10 iterations (a few minutes on the 2-core machine). ``--backend cupy`` runs the same on a GPU
(use ``--workers 1`` there: one process owns the device).

The simulated session (``config/simulation.yaml``) supplies the SLM settings; an identity calibration
(camera px = SLM px) stands in for a measured one, which changes nothing in the compute. The machine's
load (``/proc/loadavg``) is printed with the tables and stored in the JSON (default
``benchmarks/results/library-<cpu|gpu>-<date>.json``).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

os.environ.setdefault("HOLOSTIM_FFTW_EFFORT", "FFTW_ESTIMATE")
os.environ["HOLOSTIM_THREADS"] = "1"

ROOT = Path(__file__).resolve().parent.parent
POOL = 40


def _load() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def _session(n: int, folder: Path, backend: str):
    from holostim.calibration import Calibration
    from holostim.config import parse_config

    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [n, n]
    data["simulation"]["shape"] = [n, n]
    data["calibration"]["file"] = None
    data["engine"]["backend"] = backend
    cfg = parse_config(yaml.safe_dump(data), base_dir=folder)
    cal = Calibration(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (n, n), (n, n))
    rng = np.random.default_rng(0)
    cells: list[tuple[float, float]] = []
    while len(cells) < POOL:
        x, y = rng.integers(int(0.15 * n), int(0.85 * n), 2)
        if np.hypot(x - n // 2, y - n // 2) > 0.1 * n and (x, y) not in cells:
            cells.append((float(x), float(y)))
    with (folder / "cells.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x_camera_px", "y_camera_px", "weight", "group", "id"])
        w.writerows([x, y, 1.0, 0, i + 1] for i, (x, y) in enumerate(cells))
    return cfg, cal


def _plan(cfg, cal, folder: Path, n_sets: int, k: int, chunk: int, iterations: int, batch, seed: int):
    from holostim.library.build import plan_library
    from holostim.library.spec import parse_spec

    spec = parse_spec(yaml.safe_dump({
        "version": 1, "name": "bench", "targets_file": "cells.csv",
        "sets": {"random": {"count": n_sets, "k": k, "seed": seed}},
        "compute": {"method": "wgs", "iterations": iterations, "seed": 0, "batch": batch},
        "chunk_sets": chunk,
    }), base_dir=folder)
    return plan_library(spec, cfg, cal)


def engine_table(plan, batches: list[int], iterations: int) -> list[dict]:
    """masks/s of compute_batch at each B in this process (one FFT thread), and the bytes against B = 1."""
    from holostim.library.batch import set_target
    from holostim.library.worker import engine_for

    engine = engine_for(plan.engine)
    targets = [set_target(engine, xy, s.weights) for xy, s in zip(plan.spots_slm, plan.sets, strict=True)]
    seeds = list(plan.seeds)
    rows, ref = [], None
    for b in batches:
        engine.compute_batch(targets[:b], "wgs", 1, seeds=seeds[:b], batch=b)  # plans the stack
        t = time.perf_counter()
        res = engine.compute_batch(targets, "wgs", iterations, seeds=seeds, batch=b)
        dt = time.perf_counter() - t
        got = [r.phase.tobytes() for r in res]
        ref = got if ref is None else ref
        rows.append({"batch": b, "sets": len(targets), "seconds": dt, "masks_per_s": len(targets) / dt,
                     "same_as_b1": got == ref, "load": _load()})
    return rows


def main() -> None:
    """Run the tables (see the module docstring)."""
    from distributed import Client, LocalCluster

    from holostim.library.build import build_library

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="B 1 and 4, 8 sets of 10 iterations")
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batches", type=int, nargs="+")
    p.add_argument("--sets", type=int)
    p.add_argument("--spots", type=int, default=20)
    p.add_argument("--iterations", type=int)
    p.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    batches = args.batches or ([1, 4] if args.quick else [1, 2, 4, 8])
    n_sets = args.sets or (8 if args.quick else 16)
    iterations = args.iterations or (10 if args.quick else 30)
    chunk = max(batches)
    n_sets = max(n_sets, max(args.workers) * chunk)  # at least one chunk per worker, or a worker idles
    kind = "gpu" if args.backend == "cupy" else "cpu"
    out = args.json or ROOT / "benchmarks" / "results" / f"library-{kind}-{datetime.date.today()}.json"
    print(f"load average: {_load()}  cores: {os.cpu_count()}  backend: {args.backend}  "
          f"FFTW effort: {os.environ['HOLOSTIM_FFTW_EFFORT']}")
    print(f"{n_sets} sets of {args.spots} spots, WGS x{iterations}, chunks of {chunk} sets\n")
    engine_rows, build_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            cfg, cal = _session(n, folder, args.backend)
            plan = _plan(cfg, cal, folder, n_sets, args.spots, chunk, iterations, 1, seed=1)
            print(f"engine {n}²: {'B':>3} {'s':>8} {'masks/s':>8}  same bytes as B=1")
            for r in engine_table(plan, batches, iterations):
                engine_rows.append({"size": n, **r})
                print(f"{'':>12} {r['batch']:>3} {r['seconds']:>8.2f} {r['masks_per_s']:>8.2f}  "
                      f"{r['same_as_b1']}")
            print(f"build  {n}²: {'W':>3} {'B':>3} {'s':>8} {'masks/s':>8}")
            for w in args.workers:
                env = {"HOLOSTIM_THREADS": "1", "HOLOSTIM_FFTW_EFFORT": os.environ["HOLOSTIM_FFTW_EFFORT"]}
                with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=env) as cluster, Client(cluster) as client:
                    warm = _plan(cfg, cal, folder, w, args.spots, 1, 1, 1, seed=99)
                    build_library(warm, folder / f"warm-{w}.zarr", client=client)
                    for j, b in enumerate(batches):  # new sets each time: a store never holds them yet
                        lib = _plan(cfg, cal, folder, n_sets, args.spots, chunk, iterations, b, seed=1 + j)
                        t = time.perf_counter()
                        build_library(lib, folder / f"lib-{w}-{j}.zarr", client=client)
                        dt = time.perf_counter() - t
                        build_rows.append({"size": n, "workers": w, "batch": b, "sets": n_sets, "seconds": dt,
                                           "masks_per_s": n_sets / dt, "load": _load()})
                        print(f"{'':>12} {w:>3} {b:>3} {dt:>8.2f} {n_sets / dt:>8.2f}")
            print()
    print(f"10 000-set library ({iterations} WGS iterations, {args.spots} spots), at the best build setting:")
    estimates = []
    for n in args.sizes:
        rows = [r for r in build_rows if r["size"] == n]
        best = max(rows, key=lambda r: r["masks_per_s"])
        b1 = max((r for r in rows if r["batch"] == 1), key=lambda r: r["masks_per_s"], default=None)
        hours = 10_000 / best["masks_per_s"] / 3600
        gain = best["masks_per_s"] / b1["masks_per_s"] if b1 else float("nan")
        estimates.append({"size": n, "workers": best["workers"], "batch": best["batch"],
                          "masks_per_s": best["masks_per_s"], "hours": hours, "gain_over_b1": gain,
                          "frames_gib": 10_000 * n * n / 2**30})
        print(f"  {n}²: {best['masks_per_s']:.2f} masks/s ({best['workers']} workers, B = {best['batch']}; "
              f"x{gain:.2f} over B = 1) → {hours:.2f} h, {10_000 * n * n / 2**30:.1f} GiB of frames")
    print(f"load average: {_load()}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"backend": args.backend, "iterations": iterations, "spots": args.spots,
                               "sets": n_sets, "chunk_sets": chunk, "cores": os.cpu_count(),
                               "fftw_effort": os.environ["HOLOSTIM_FFTW_EFFORT"], "engine": engine_rows,
                               "build": build_rows, "estimate_10000": estimates}, indent=1) + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
