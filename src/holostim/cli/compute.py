"""``holostim compute`` and ``holostim bench``: phase masks from spot files, and the engine benchmark.

Neither needs a rig: they run the hologram engine alone, on the backend and precision asked for.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from holostim.cli.errors import EXIT_OK, CLIError
from holostim.cli.progress import Progress

__all__ = ["cmd_bench", "cmd_compute"]


_FLAGS = {"iterations": "--iterations", "tolerance": "--tolerance", "budget_ms": "--budget-ms",
          "padding": "--padding"}
"""The numeric engine arguments, checked by the session schema (method and backend by the engine)."""


def _check_engine_args(args: argparse.Namespace) -> None:
    """The engine arguments through the session's own ``engine`` section: its caps (10 000 iterations)."""
    from pydantic import ValidationError

    from holostim.config import EngineConfig

    given = {k: getattr(args, k) for k in _FLAGS if getattr(args, k, None) is not None}
    try:
        EngineConfig.model_validate(given)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        flag = _FLAGS.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else "argument"
        raise CLIError(f"{flag} {err.get('input')!r}: {err['msg']} (the session's engine limits)") from None


def _check_spots(path: Path, xy, shape: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """The session's target limits for a spot file: at most ``max_spots``, none in the zero order."""
    import numpy as np

    from holostim.config import CalibrationConfig, SafetyConfig

    max_spots = SafetyConfig.model_fields["max_spots"].default
    radius = CalibrationConfig.model_fields["zero_order_radius_px"].default
    if len(xy) > max_spots:
        raise CLIError(f"spot file {str(path)!r} has {len(xy)} spots; at most {max_spots} "
                       "(the session's default safety.max_spots)")
    zero = np.array([shape[1] // 2, shape[0] // 2], dtype=np.float64)
    r = np.hypot(*(np.asarray(xy, dtype=np.float64) - zero).T)
    near = np.flatnonzero(r < radius)
    if near.size:
        i = int(near[0])
        raise CLIError(
            f"spot file {str(path)!r}: spot {i} at ({xy[i][0]:g}, {xy[i][1]:g}) is {r[i]:.1f} px from the "
            f"zero order ({zero[0]:g}, {zero[1]:g}), inside the {radius:g} px exclusion (the session's "
            "default calibration.zero_order_radius_px): unmodulated light lands there")


def cmd_compute(args: argparse.Namespace) -> int:
    """Compute one mask per ``--spots`` file, print the metrics and timings, save to ``--out``.

    Everything is checked before anything is computed, with the session's own limits (engine caps,
    ``max_spots``, the zero-order exclusion) and, in batch mode, that no two masks would have the same
    output name (``a/s.csv`` and ``b/s.csv`` would both write ``s.npy``, one over the other).
    """
    from holostim.holography import HologramEngine, SpotTarget
    from holostim.holography.io import load_spots, save_phase
    from holostim.holography.metrics import METRIC_NAMES

    spots: list[Path] = list(args.spots)
    shape = (int(args.shape[0]), int(args.shape[1]))
    _check_engine_args(args)
    seed = int(getattr(args, "seed", 0) or 0)
    if seed < 0 or seed >= 2**63:
        raise CLIError(f"--seed {seed}: give a whole number from 0 to 2**63 - 1")
    outs: list[Path | None] = [None] * len(spots)
    if len(spots) > 1:
        if args.out is None:
            raise CLIError("several --spots files need --out FOLDER for the masks")
        if args.out.suffix:
            raise CLIError(f"--out {str(args.out)!r}: with several --spots files, --out is a folder")
        outs = [args.out / f"{path.stem}.{args.format}" for path in spots]
        seen: dict[Path, Path] = {}
        for path, out in zip(spots, outs, strict=True):
            if out in seen:
                raise CLIError(f"--spots {str(seen[out])!r} and {str(path)!r} would both be saved as "
                               f"{str(out)!r}; give the spot files different names")
            seen[out] = path
    elif args.out is not None:
        outs = [args.out]
    targets = []
    for path in spots:
        xy, weights = load_spots(path)
        _check_spots(path, xy, shape)
        targets.append((len(xy), SpotTarget.from_pixels(xy, shape=shape, weights=weights)))
    if len(spots) > 1:
        args.out.mkdir(parents=True, exist_ok=True)
    engine = HologramEngine(shape=shape, backend=args.backend, precision=args.precision,
                            padding=args.padding)
    progress = Progress("compute") if len(spots) > 1 else None
    results = []
    for i, (path, out, (n, target)) in enumerate(zip(spots, outs, targets, strict=True)):
        result = engine.compute(
            target,
            method=args.method,
            iterations=args.iterations,
            tolerance=args.tolerance,
            budget_ms=args.budget_ms,
            seed=seed,
        )
        if out is not None:
            save_phase(out, result.phase)
        results.append((path, n, result, out))
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
