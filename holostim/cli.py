"""The ``holostim`` command: GUI by default, plus compute, bench, calibrate, slm-check, check-config.

Every user error (a :class:`~holostim.errors.HolostimError`) is printed as one line on stderr and exits
with status 2; ``--verbose`` shows the traceback as well. Heavy modules are imported inside each command
so ``holostim --version`` and ``check-config`` start instantly and the core never needs Qt.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from holostim import __version__
from holostim.errors import HolostimError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "simulation.yaml"


def _default_config() -> Path:
    """The simulation session: from the source tree, else the copy installed with the package."""
    if DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG
    return Path(__file__).resolve().parent / "data" / "simulation.yaml"


def _cmd_gui(args: argparse.Namespace) -> int:
    from holostim.gui.app import run_gui

    return run_gui(args.config or _default_config())


def _cmd_compute(args: argparse.Namespace) -> int:
    from holostim.holography import HologramEngine, SpotTarget
    from holostim.holography.io import load_spots, save_phase

    xy, weights = load_spots(args.spots)
    shape = tuple(args.shape)
    target = SpotTarget.from_pixels(xy, shape=shape, weights=weights)
    engine = HologramEngine(shape=shape, backend=args.backend, precision=args.precision)
    result = engine.compute(
        target,
        method=args.method,
        iterations=args.iterations,
        tolerance=args.tolerance,
        budget_ms=args.budget_ms,
    )
    if args.out:
        save_phase(args.out, result.phase)
    m, t = result.metrics, result.timings
    print(f"backend      {engine.backend.describe()}")
    print(f"method       {args.method}, {result.iterations} iterations, {len(xy)} spots on {shape[0]}x{shape[1]}")
    for name in ("efficiency", "uniformity", "std_error", "tolerance_error", "gap"):
        print(f"{name:<16} {float(getattr(m, name)):.6g}")
    print(f"total_ms     {t.total_ms:.2f}")
    print(f"ms/iteration {t.per_iteration_ms:.3f}")
    print(f"transfer_ms  {t.transfer_ms:.3f}")
    if args.out:
        print(f"saved        {args.out}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from holostim.holography.benchmark import main as bench_main

    return bench_main(args.bench_args)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from holostim.session import Session

    with Session.open(args.config or _default_config()) as session:
        cal = session.calibrate(grid=args.grid, progress=_progress)
        path = session.save_calibration(cal, args.out)
    print(f"\ncalibration residual {cal.residual_px:.3f} camera px RMS over {cal.n_spots} spots; saved {path}")
    return 0


def _cmd_slm_check(args: argparse.Namespace) -> int:
    from holostim.config import load_config
    from holostim.hardware.slm_window import run_slm_check

    return run_slm_check(load_config(args.config or _default_config()), seconds=args.seconds)


def _cmd_check_config(args: argparse.Namespace) -> int:
    from holostim.config import load_config

    cfg = load_config(args.file)
    print(cfg.to_yaml(), end="")
    print(f"# {args.file}: valid", file=sys.stderr)
    return 0


def _progress(done: int, total: int, what: str = "") -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {what:<30}", end="", file=sys.stderr)
    if done >= total:
        print(file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and shell completion)."""
    p = argparse.ArgumentParser(prog="holostim", description="Real-time holographic photostimulation.")
    p.add_argument("--version", action="version", version=f"holostim {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks for errors")
    sub = p.add_subparsers(dest="command")

    g = sub.add_parser("gui", help="the rig GUI (default; simulation session unless --config)")
    g.add_argument("--config", type=Path, help="session YAML (default: config/simulation.yaml)")
    g.set_defaults(func=_cmd_gui)

    c = sub.add_parser("compute", help="compute one phase mask from a CSV of Fourier-plane spots")
    c.add_argument("--spots", type=Path, required=True, help="CSV with columns x, y[, weight] in pixels")
    c.add_argument("--shape", type=int, nargs=2, metavar=("NY", "NX"), default=(1024, 1024))
    c.add_argument("--method", default="wgs", help="gs, wgs, wgs-kim or raar")
    c.add_argument("--iterations", type=int, default=20)
    c.add_argument("--tolerance", type=float, default=None, help="stop when tolerance_error falls below")
    c.add_argument("--budget-ms", type=float, default=None, help="stop when this time is spent")
    c.add_argument("--backend", default="auto", help="auto, numpy or cupy")
    c.add_argument("--precision", default="single", help="single or double")
    c.add_argument("--out", type=Path, help="mask file: .npy (radians), .png or .tif (8-bit, 0..2π)")
    c.set_defaults(func=_cmd_compute)

    b = sub.add_parser("bench", help="the engine benchmark (arguments go to benchmarks/engine.py)")
    b.add_argument("bench_args", nargs=argparse.REMAINDER)
    b.set_defaults(func=_cmd_bench)

    k = sub.add_parser("calibrate", help="fit the camera↔SLM transform from a projected spot grid")
    k.add_argument("--config", type=Path)
    k.add_argument("--grid", type=int, default=5, help="spots per side, 3 to 7")
    k.add_argument("--out", type=Path, help="where to save (default: the session's calibration file)")
    k.set_defaults(func=_cmd_calibrate)

    s = sub.add_parser("slm-check", help="show test patterns on the SLM screen")
    s.add_argument("--config", type=Path)
    s.add_argument("--seconds", type=float, default=None, help="close after this long (default: on Esc)")
    s.set_defaults(func=_cmd_slm_check)

    v = sub.add_parser("check-config", help="validate a session YAML and print it resolved")
    v.add_argument("file", type=Path)
    v.set_defaults(func=_cmd_check_config)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``holostim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *(argv or [])])
    try:
        return int(args.func(args) or 0)
    except HolostimError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"holostim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("holostim: interrupted", file=sys.stderr)
        return 130
