"""``holostim design``: a mask optimised by gradient descent through a realistic model of the rig, offline.

It reads a spot file (as ``holostim compute`` does, with the session's default limits: ``max_spots``
and the zero-order exclusion) and a design model (``--model``, see ``config/design-realistic.yaml``),
starts from the engine's WGS mask (or a random phase), runs Adam through the model and writes an
ordinary mask (``.npy`` radians, or 8-bit ``.png``/``.tif``) that the SLM, a protocol or a library can
use. It prints both masks judged by the model's own numpy evaluator, so the gain (or its absence) is
on screen. Every problem (a bad model key, a bad spot file, JAX missing) is one line, before any work.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from holostim.cli.errors import EXIT_OK, CLIError

__all__ = ["add_design_parser", "cmd_design"]

MAX_ITERATIONS = 100_000


def add_design_parser(sub: Any, parents: list) -> None:
    """The ``design`` command."""
    d = sub.add_parser("design", parents=parents,
                       help="optimise a mask by gradient descent through a realistic SLM/optics model")
    d.add_argument("--spots", type=Path, required=True, metavar="CSV",
                   help="CSV with columns x_fourier_px, y_fourier_px[, weight][, z_um]")
    d.add_argument("--model", type=Path, required=True, metavar="MODEL.yaml",
                   help="the realistic forward model (see config/design-realistic.yaml)")
    d.add_argument("--out", type=Path, required=True, help="mask file (.npy radians, .png or .tif 8-bit)")
    d.add_argument("--iterations", type=int, default=200, help="Adam steps (default 200)")
    d.add_argument("--init", choices=("wgs", "random"), default="wgs", help="the start (default wgs)")
    d.add_argument("--wgs-iterations", type=int, default=30, help="WGS iterations of the start (default 30)")
    d.add_argument("--learning-rate", type=float, default=0.05, help="Adam step, radians (default 0.05)")
    d.add_argument("--patience", type=int, default=None,
                   help="stop when the loss has not improved for this many steps (default: never)")
    d.add_argument("--seed", type=int, default=0, help="seed of the WGS or random start (default 0)")
    d.set_defaults(func=cmd_design)


def _check_args(args: argparse.Namespace) -> None:
    from holostim.holography.io import PHASE_SUFFIXES

    for name, flag, top in (("iterations", "--iterations", MAX_ITERATIONS),
                            ("wgs_iterations", "--wgs-iterations", 10_000)):
        v = getattr(args, name)
        if v < 0 or v > top:
            raise CLIError(f"{flag} {v}: give a whole number from 0 to {top}")
    if args.patience is not None and args.patience < 1:
        raise CLIError(f"--patience {args.patience}: give a whole number >= 1")
    if not (args.learning_rate > 0 and args.learning_rate < 10):
        raise CLIError(f"--learning-rate {args.learning_rate}: give a step in radians, above 0 and below 10")
    if args.seed < 0 or args.seed >= 2**63:
        raise CLIError(f"--seed {args.seed}: give a whole number from 0 to 2**63 - 1")
    if args.out.suffix.lower() not in PHASE_SUFFIXES:
        raise CLIError(f"--out {str(args.out)!r}: a mask file ends in one of {', '.join(PHASE_SUFFIXES)}")
    if not args.out.parent.is_dir():
        raise CLIError(f"--out {str(args.out)!r}: the folder {str(args.out.parent)!r} does not exist")


def cmd_design(args: argparse.Namespace) -> int:
    """Check everything, design the mask, print the start's and the design's metrics, save it."""
    from holostim.cli.compute import _check_spots
    from holostim.design.evaluate import METRICS, Evaluator
    from holostim.design.model import load_design_model
    from holostim.design.optimize import design_mask, require_jax
    from holostim.design.spots import DesignTarget
    from holostim.holography.io import load_spots, save_phase

    _check_args(args)
    model = load_design_model(args.model)
    require_jax()
    xy, weights, z = load_spots(args.spots, depth=True)
    _check_spots(args.spots, xy, model.shape)
    target = DesignTarget.from_pixels(xy, model.shape, weights=weights, z=z)
    judge = Evaluator(model, target)
    result = design_mask(model, target, init=args.init, iterations=args.iterations,
                         learning_rate=args.learning_rate, seed=args.seed, wgs_iterations=args.wgs_iterations,
                         patience=args.patience)
    before, after = judge(result.start_phase), judge(result.phase)
    save_phase(args.out, result.phase)
    shape = f"{model.shape[0]}x{model.shape[1]}"
    planes = len(target.depths)
    print(f"design       {len(target)} spots in {planes} plane{'s' * (planes > 1)} on {shape}, "
          f"{result.iterations} Adam steps from {result.init} (best at step {result.best_iteration}, "
          f"stopped by {result.stopped_by})")
    print(f"{'metric':<14} {'start (' + result.init + ')':>14} {'designed':>12}")
    for name in METRICS:
        print(f"{name:<14} {getattr(before, name):>14.4f} {getattr(after, name):>12.4f}")
    print(f"loss           {result.loss[0]:>14.4f} {result.loss[result.best_iteration]:>12.4f}")
    print(f"seconds        start {result.start_seconds:.2f}, compile {result.compile_seconds:.2f}, "
          f"steps {result.optimise_seconds:.2f}")
    print(f"saved        {args.out}")
    return EXIT_OK
