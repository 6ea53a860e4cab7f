"""``holostim compute`` and ``holostim bench``: phase masks from spot files, and the engine benchmark.

Neither needs a rig: they run the hologram engine alone, on the backend and precision asked for.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from holostim.cli.errors import EXIT_OK, CLIError
from holostim.cli.progress import Progress

__all__ = ["cmd_bench", "cmd_compute"]


def cmd_compute(args: argparse.Namespace) -> int:
    """Compute one mask per ``--spots`` file, print the metrics and timings, save to ``--out``."""
    from holostim.holography import HologramEngine, SpotTarget
    from holostim.holography.io import load_spots, save_phase
    from holostim.holography.metrics import METRIC_NAMES

    spots: list[Path] = list(args.spots)
    shape = (int(args.shape[0]), int(args.shape[1]))
    if len(spots) > 1:
        if args.out is None:
            raise CLIError("several --spots files need --out FOLDER for the masks")
        if args.out.suffix:
            raise CLIError(f"--out {str(args.out)!r}: with several --spots files, --out is a folder")
        args.out.mkdir(parents=True, exist_ok=True)
    engine = HologramEngine(shape=shape, backend=args.backend, precision=args.precision,
                            padding=args.padding)
    progress = Progress("compute") if len(spots) > 1 else None
    results = []
    for i, path in enumerate(spots):
        xy, weights = load_spots(path)
        target = SpotTarget.from_pixels(xy, shape=shape, weights=weights)
        result = engine.compute(
            target,
            method=args.method,
            iterations=args.iterations,
            tolerance=args.tolerance,
            budget_ms=args.budget_ms,
        )
        out = None
        if args.out is not None:
            out = args.out / f"{path.stem}.{args.format}" if len(spots) > 1 else args.out
            save_phase(out, result.phase)
        results.append((path, len(xy), result, out))
        if progress is not None:
            progress(i + 1, len(spots), path.name)

    print(f"backend      {engine.backend.describe()}")
    for path, n, result, out in results:
        m, t = result.metrics, result.timings
        if len(results) > 1:
            print(f"\n{path}")
        size = f"{shape[0]}x{shape[1]}"
        print(f"method       {args.method}, {result.iterations} iterations, {n} spots on {size}")
        for name in METRIC_NAMES:
            print(f"{name:<16} {float(getattr(m, name)):.6g}")
        print(f"total_ms     {t.total_ms:.2f}")
        print(f"ms/iteration {t.per_iteration_ms:.3f}")
        print(f"transfer_ms  {t.transfer_ms:.3f}")
        if out is not None:
            print(f"saved        {out}")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark with the arguments after ``bench``."""
    from holostim.holography.benchmark import main as bench_main

    return int(bench_main(args.bench_args) or 0)
