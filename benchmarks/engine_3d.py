"""3-D spots and the direct-sum engine (issue 14): ms per iteration, quality, and where the FFT wins.

Usage::

    python benchmarks/engine_3d.py [--quick] [--sizes 512,1024] [--spots 10,50,200] [--planes 1,3,5]
                                   [--model high_na|paraxial] [--iterations 20] [--repeats 3]
                                   [--backend numpy|cupy|auto] [--cross 8,32,128] [--json FILE]

Table 1: the direct sum (WGS, single precision) for N spots spread over P planes (depths evenly over
-20..20 µm; one plane = 2-D, z = 0), best ms per iteration of ``--repeats`` runs, and the uniformity and
efficiency reached after ``--iterations``; beside it the FFT engine on the same spots in 2-D (its cost
does not depend on N or on depth, but it cannot do depth at all).
Table 2: the crossover: ms per iteration of both engines for 2-D targets of growing N, and the largest N
at which the direct sum is still faster (what ``engine.spot_algorithm: auto`` approximates with
:func:`holostim.holography.spot_algorithm.direct_sum_crossover`).

Each line prints the load average beside it: the numbers of a loaded machine are inflated, and BLAS
threads suffer most (spinning OpenBLAS threads on busy cores; ``OPENBLAS_NUM_THREADS=1`` helps there).
``--quick``: 512² only, 10 and 50 spots on 1 and 3 planes, one repeat, 10 iterations, a short crossover.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from holostim.holography import HologramEngine, SpotTarget
from holostim.holography.defocus import DefocusModel
from holostim.holography.spot_algorithm import direct_sum_crossover


def load() -> str:
    """The 1-minute load average (what every number is printed beside)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def spots(size: int, n: int, planes: int, seed: int = 0) -> SpotTarget:
    """``n`` distinct integer spots in the central half of the grid, off the zero order, on ``planes``."""
    rng = np.random.default_rng(seed)
    lo, w = size // 4, size // 2
    yy, xx = np.mgrid[lo:lo + w, lo:lo + w]
    ok = np.hypot(yy - size // 2, xx - size // 2) > 10
    cand = np.stack([xx[ok], yy[ok]], 1)
    xy = cand[rng.choice(len(cand), n, replace=False)]
    depths = np.linspace(-20.0, 20.0, planes) if planes > 1 else np.zeros(1)
    return SpotTarget.from_pixels(xy, shape=(size, size), z=depths[np.arange(n) % planes])


def best(engine: HologramEngine, target: SpotTarget, iterations: int, repeats: int):
    """The fastest of ``repeats`` WGS runs (ms per iteration) and the result's quality (deterministic)."""
    engine.compute(target, method="wgs", iterations=2)  # warm: plans, kernels, caches
    runs = [engine.compute(target, method="wgs", iterations=iterations) for _ in range(repeats)]
    r = runs[-1]
    return min(x.timings.per_iteration_ms for x in runs), r.metrics.uniformity, r.metrics.efficiency


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sizes", default=None)
    p.add_argument("--spots", default=None)
    p.add_argument("--planes", default=None)
    p.add_argument("--model", default="high_na", choices=("high_na", "paraxial"))
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--backend", default="numpy")
    p.add_argument("--cross", default=None, help="spot counts of the crossover table")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    sizes = [int(s) for s in (a.sizes or ("512" if a.quick else "512,1024")).split(",")]
    counts = [int(s) for s in (a.spots or ("10,50" if a.quick else "10,50,200")).split(",")]
    planes = [int(s) for s in (a.planes or ("1,3" if a.quick else "1,3,5")).split(",")]
    iterations = a.iterations or (10 if a.quick else 20)
    repeats = a.repeats or (1 if a.quick else 3)
    cross_n = [int(s) for s in (a.cross or ("8,32,128" if a.quick else "8,16,24,32,48,64,96,128,192,256"))
               .split(",")]
    out: dict = {"quality": [], "crossover": [], "model": a.model, "iterations": iterations}

    print(f"direct sum vs FFT engine, WGS, single precision, {a.backend}, {a.model} defocus, "
          f"{iterations} iterations, best of {repeats}")
    print(f"{'size':>5} {'N':>4} {'planes':>6} | {'direct ms/it':>12} {'unif':>7} {'eff':>6} | "
          f"{'FFT ms/it':>9} {'unif':>7} {'eff':>6} | load")
    for size in sizes:
        model = DefocusModel(a.model, 1.04, 200_000.0, 50.0, 9.2, 0.8, 1.33)
        direct = HologramEngine((size, size), backend=a.backend, spot_algorithm="direct", defocus=model)
        fft = HologramEngine((size, size), backend=a.backend, spot_algorithm="fft")
        for n in counts:
            flat = spots(size, n, 1)
            f_ms, f_u, f_e = best(fft, flat, iterations, repeats)
            for p_ in planes:
                d_ms, d_u, d_e = best(direct, spots(size, n, p_), iterations, repeats)
                fft_cols = (f"{f_ms:9.2f} {f_u:7.4f} {f_e:6.3f}" if p_ == 1 else f"{'(2-D only)':>24}")
                row = f"{size:>5} {n:>4} {p_:>6} | {d_ms:12.2f} {d_u:7.4f} {d_e:6.3f} | {fft_cols}"
                print(f"{row} | {load()}", flush=True)
                out["quality"].append({"size": size, "spots": n, "planes": p_, "direct_ms": d_ms,
                                       "direct_uniformity": d_u, "direct_efficiency": d_e,
                                       "fft_ms": f_ms, "fft_uniformity": f_u, "fft_efficiency": f_e,
                                       "load": load()})

    print("\ncrossover (2-D spots, ms per WGS iteration)")
    for size in sizes:
        direct = HologramEngine((size, size), backend=a.backend, spot_algorithm="direct")
        fft = HologramEngine((size, size), backend=a.backend, spot_algorithm="fft")
        faster = 0
        for n in cross_n:
            t = spots(size, n, 1, seed=1)
            d_ms = best(direct, t, 10, repeats)[0]
            f_ms = best(fft, t, 10, repeats)[0]
            if d_ms < f_ms:
                faster = n
            print(f"{size:>5} N={n:<4} direct {d_ms:8.2f}  fft {f_ms:8.2f}  load {load()}", flush=True)
            out["crossover"].append({"size": size, "spots": n, "direct_ms": d_ms, "fft_ms": f_ms,
                                     "load": load()})
        print(f"{size:>5}: direct sum faster up to N = {faster} of those measured "
              f"(auto's rule: {direct_sum_crossover((size, size))})")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
