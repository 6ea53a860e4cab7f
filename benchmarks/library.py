"""Mask-library build benchmark: masks per second against Dask workers and sets per task, at 512² and 1024².

Usage::

    python benchmarks/library.py [--sizes 512 1024] [--workers 1 2] [--chunks 1 4] [--sets 16]
                                 [--iterations 30] [--json out.json]

For each SLM size, a LocalCluster of W spawned worker processes (one thread, one FFTW thread each) is
started once and warmed (every worker builds its engine on a first small library), then libraries of
``--sets`` random ensembles of 5 cells are built with C sets per task (= per Zarr chunk) into fresh
stores; the time is from the first task submitted to the manifest written. It prints masks per second
and the estimated time of a 10 000-set library at the best setting. The engine computes one mask at a
time (it has no batched (B, N, N) FFT), so "sets per task" only amortises the per-task overhead
(scheduling, store open, record write): it is the batch size that exists.

The simulated session (``config/simulation.yaml``) supplies the SLM settings; an identity calibration
(camera px = SLM px) stands in for a measured one, which changes nothing in the compute. Record the
machine's load (``cat /proc/loadavg``) with the numbers: it is printed with the table.
"""

from __future__ import annotations

import argparse
import csv
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


def _session(n: int, folder: Path):
    from holostim.calibration import Calibration
    from holostim.config import parse_config

    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [n, n]
    data["simulation"]["shape"] = [n, n]
    data["calibration"]["file"] = None
    cfg = parse_config(yaml.safe_dump(data), base_dir=folder)
    cal = Calibration(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (n, n), (n, n))
    rng = np.random.default_rng(0)
    cells = []
    while len(cells) < 40:
        x, y = rng.uniform(0.15 * n, 0.85 * n, 2)
        if np.hypot(x - n // 2, y - n // 2) > 0.1 * n:
            cells.append((x, y))
    with (folder / "cells.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x_camera_px", "y_camera_px", "weight", "group", "id"])
        w.writerows([x, y, 1.0, 0, i + 1] for i, (x, y) in enumerate(cells))
    return cfg, cal


def _plan(cfg, cal, folder: Path, n_sets: int, chunk: int, iterations: int, seed: int):
    from holostim.library.build import plan_library
    from holostim.library.spec import parse_spec

    spec = parse_spec(yaml.safe_dump({
        "version": 1, "name": "bench", "targets_file": "cells.csv",
        "sets": {"random": {"count": n_sets, "k": 5, "seed": seed}},
        "compute": {"method": "wgs", "iterations": iterations, "seed": 0}, "chunk_sets": chunk,
    }), base_dir=folder)
    return plan_library(spec, cfg, cal)


def main() -> None:
    """Run the table (see the module docstring)."""
    from distributed import Client, LocalCluster

    from holostim.library.build import build_library

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--chunks", type=int, nargs="+", default=[1, 4])
    p.add_argument("--sets", type=int, default=16)
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    rows = []
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}  cores: {os.cpu_count()}")
    print(f"{'size':>6} {'workers':>7} {'sets/task':>9} {'sets':>5} {'s':>8} {'masks/s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            cfg, cal = _session(n, folder)
            for w in args.workers:
                env = {"HOLOSTIM_THREADS": "1", "HOLOSTIM_FFTW_EFFORT": os.environ["HOLOSTIM_FFTW_EFFORT"]}
                with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=env) as cluster, Client(cluster) as client:
                    warm = _plan(cfg, cal, folder, w, 1, 1, seed=99)  # every worker builds its engine
                    build_library(warm, folder / f"warm-{w}.zarr", client=client)
                    for c in args.chunks:
                        plan = _plan(cfg, cal, folder, args.sets, c, args.iterations, seed=c)
                        t = time.perf_counter()
                        build_library(plan, folder / f"lib-{w}-{c}.zarr", client=client)
                        dt = time.perf_counter() - t
                        rows.append({"size": n, "workers": w, "sets_per_task": c, "sets": args.sets,
                                     "seconds": dt, "masks_per_s": args.sets / dt})
                        print(f"{n:>6} {w:>7} {c:>9} {args.sets:>5} {dt:>8.2f} {args.sets / dt:>8.2f}")
    print(f"\n10 000-set library ({args.iterations} WGS iterations, 5 spots), at the best setting measured:")
    for n in args.sizes:
        best = max((r for r in rows if r["size"] == n), key=lambda r: r["masks_per_s"])
        hours = 10_000 / best["masks_per_s"] / 3600
        print(f"  {n}²: {best['masks_per_s']:.2f} masks/s ({best['workers']} workers, "
              f"{best['sets_per_task']} sets/task) → {hours:.2f} h, "
              f"{10_000 * n * n / 2**30:.1f} GiB of frames")
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "iterations": args.iterations}, indent=2) + "\n")


if __name__ == "__main__":
    main()
