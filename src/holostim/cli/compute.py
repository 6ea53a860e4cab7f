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
          "padding": "--padding", "spot_algorithm": "--spot-algorithm"}
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


def _settings(args: argparse.Namespace) -> dict:
    """The engine settings: the flags given, else the ``--config`` session's, else the schema defaults.

    A session also brings its SLM shape, its source beam and its defocus model (what a ``z_um`` column
    needs: wavelength, focal length, magnification, NA, medium index).
    """
    from holostim.config import EngineConfig, load_config

    if args.config is not None:
        cfg = load_config(args.config)
        engine, shape = cfg.engine, tuple(cfg.slm.shape)
        kw = cfg.engine_kwargs()
        source, defocus = kw["source"], kw["defocus"]
    else:
        cfg, engine, shape, source, defocus = None, EngineConfig(), (1024, 1024), "uniform", None
    pick = {k: getattr(args, k) if getattr(args, k) is not None else getattr(engine, k)
            for k in ("method", "iterations", "backend", "precision", "padding", "spot_algorithm")}
    if args.shape is not None:
        shape = (int(args.shape[0]), int(args.shape[1]))
    return {**pick, "shape": shape, "source": source, "defocus": defocus, "config": cfg}


def _depths_usable(path: Path, z, settings: dict) -> None:  # type: ignore[no-untyped-def]
    """A ``z_um`` column needs a session's optics; refuse it, with the fix, when there are none."""
    if z is None or not (z != 0).any() or settings["defocus"] is not None:
        return
    if settings["config"] is None:
        raise CLIError(f"spot file {str(path)!r} has spot depths (z_um): they need the rig's optics "
                       "(wavelength, focal length, magnification, NA, medium index); "
                       "give --config SESSION.yaml")
    optics = settings["config"].optics
    raise CLIError(f"spot file {str(path)!r} has spot depths (z_um), but optics.objective_na "
                   f"{optics.objective_na:g} is not below the medium index {optics.index:g}: set "
                   "optics.medium_index in the session (oil 1.518)")


def cmd_compute(args: argparse.Namespace) -> int:
    """Compute one mask per ``--spots`` file, print the metrics and timings, save to ``--out``.

    Everything is checked before anything is computed, with the session's own limits (engine caps,
    ``max_spots``, the zero-order exclusion) and, in batch mode, that no two masks would have the same
    output name (``a/s.csv`` and ``b/s.csv`` would both write ``s.npy``, one over the other).
    """
    from holostim.holography import HologramEngine, SpotTarget
    from holostim.holography.io import load_spots, save_phase
    from holostim.holography.metrics import METRIC_NAMES
    from holostim.holography.spot_algorithm import choose_spot_algorithm

    spots: list[Path] = list(args.spots)
    _check_engine_args(args)
    st = _settings(args)
    shape = st["shape"]
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
        xy, weights, z = load_spots(path, depth=True)
        _check_spots(path, xy, shape)
        _depths_usable(path, z, st)
        targets.append((len(xy), SpotTarget.from_pixels(xy, shape=shape, weights=weights, z=z)))
    if len(spots) > 1:
        args.out.mkdir(parents=True, exist_ok=True)
    engine = HologramEngine(shape=shape, backend=st["backend"], precision=st["precision"],
                            padding=st["padding"], source=st["source"], spot_algorithm=st["spot_algorithm"],
                            defocus=st["defocus"])
    progress = Progress("compute") if len(spots) > 1 else None
    results = []
    for i, (path, out, (n, target)) in enumerate(zip(spots, outs, targets, strict=True)):
        result = engine.compute(
            target,
            method=st["method"],
            iterations=st["iterations"],
            tolerance=args.tolerance,
            budget_ms=args.budget_ms,
            seed=seed,
        )
        if out is not None:
            save_phase(out, result.phase)
        algorithm = choose_spot_algorithm(engine.spot_algorithm, target, st["method"], shape, engine.padding,
                                          args.tolerance)
        results.append((path, n, result, out, algorithm, target.is_3d))
        if progress is not None:
            progress(i + 1, len(spots), path.name)

    print(f"backend      {engine.backend.describe()}")
    for path, n, result, out, algorithm, is_3d in results:
        m, t = result.metrics, result.timings
        if len(results) > 1:
            print(f"\n{path}")
        size = f"{shape[0]}x{shape[1]}"
        depth = " in 3-D" if is_3d else ""
        print(f"method       {st['method']}, {result.iterations} iterations, {n} spots{depth} on {size}")
        print(f"algorithm    {algorithm}")
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
