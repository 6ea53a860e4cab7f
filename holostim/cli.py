"""The ``holostim`` command: GUI by default, plus compute, bench, calibrate, slm-check, check-config.

Every user error (a :class:`~holostim.errors.HolostimError`, or an ``OSError`` such as a folder that
cannot be written) is printed as one line on stderr and exits with status 2; ``--verbose`` shows the
traceback as well, and more of the log. Heavy modules are imported inside each command so
``holostim --version`` and ``check-config`` start instantly and the core never needs Qt.

Long operations (calibration, batch compute) show a progress bar on stderr; the benchmark prints its
tables as each one finishes.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from holostim import __version__
from holostim.errors import HolostimError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "simulation.yaml"
PACKAGED_CONFIG = Path(__file__).resolve().parent / "data" / "simulation.yaml"

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


class CLIError(HolostimError, ValueError):
    """A bad combination of command-line arguments."""


def _default_config() -> Path:
    """The simulation session: from the source tree, else the copy installed with the package."""
    if DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG
    return PACKAGED_CONFIG


# ------------------------------------------------------------------------------------------- progress
class Progress:
    """A one-line progress bar on stderr (one line per step when stderr is not a terminal).

    Call it as ``progress(done, total, what)``, the signature of every holostim progress callback.
    """

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()

    def __call__(self, done: int, total: int, what: str = "") -> None:
        """Show that ``done`` of ``total`` steps are finished; ``what`` names the last one."""
        total = max(int(total), 1)
        done = min(max(int(done), 0), total)
        filled = int(self.width * done / total)
        bar = "#" * filled + "." * (self.width - filled)
        text = f"{self.label} [{bar}] {done}/{total} {what}"
        if self.tty:
            print(f"\r{text:<100}", end="", file=self.stream, flush=True)
            if done >= total:
                print(f"  ({time.monotonic() - self.t0:.1f} s)", file=self.stream, flush=True)
        else:
            print(text, file=self.stream, flush=True)


# ------------------------------------------------------------------------------------------- commands
def _cmd_gui(args: argparse.Namespace) -> int:
    from holostim.gui.app import run_gui

    return run_gui(args.config or _default_config())


def _cmd_compute(args: argparse.Namespace) -> int:
    from holostim.holography import HologramEngine, SpotTarget
    from holostim.holography.io import load_spots, save_phase

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
        for name in ("efficiency", "uniformity", "std_error", "tolerance_error", "gap"):
            print(f"{name:<16} {float(getattr(m, name)):.6g}")
        print(f"total_ms     {t.total_ms:.2f}")
        print(f"ms/iteration {t.per_iteration_ms:.3f}")
        print(f"transfer_ms  {t.transfer_ms:.3f}")
        if out is not None:
            print(f"saved        {out}")
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from holostim.holography.benchmark import main as bench_main

    return int(bench_main(args.bench_args) or 0)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from holostim.config import load_config
    from holostim.session import Session

    config = args.config or _default_config()
    opengl = load_config(config).slm.backend == "opengl"
    if opengl:  # the SLM window needs a Qt application, and its event loop to swap frames
        from PyQt6.QtGui import QGuiApplication

        _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - keep it alive
    # Open without the old calibration: it may belong to devices that changed, which is why we measure.
    with Session.open(config, load_calibration=False) as session:
        grid = args.grid or session.config.calibration.grid
        progress = Progress(f"calibrating ({grid}x{grid} grid)")

        def measure():
            return session.calibrate(grid=grid, progress=progress)

        cal = run_beside_qt_events(measure) if opengl else measure()
        path = session.save_calibration(cal, args.out)
    print(f"calibration residual {cal.residual_px:.3f} camera px RMS over {cal.n_spots} spots")
    print(f"saved {path}")
    return EXIT_OK


def run_beside_qt_events(work: Callable[[], T]) -> T:
    """Run ``work()`` on a worker thread while this (GUI) thread processes Qt events; return its result.

    An OpenGL SLM swaps frames only when its thread's event loop runs, so anything that shows a frame
    and waits for it (calibration) must not block that thread. Exceptions from ``work`` are re-raised.
    """
    from PyQt6.QtCore import QEventLoop
    from PyQt6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None:
        raise CLIError("no Qt application: create a QGuiApplication before showing frames")
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the calling thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name="holostim-cli-worker", daemon=True)
    worker.start()
    while not done.is_set():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        done.wait(0.002)
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _cmd_slm_check(args: argparse.Namespace) -> int:
    from holostim.config import load_config
    from holostim.hardware.slm.check import run_slm_check

    return int(run_slm_check(load_config(args.config or _default_config()), seconds=args.seconds))


def _cmd_check_config(args: argparse.Namespace) -> int:
    from holostim.config import load_config

    cfg = load_config(args.file)
    print(cfg.to_yaml(), end="")
    print(f"# {args.file}: valid", file=sys.stderr)
    return EXIT_OK


# ------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and shell completion)."""
    # -v may come before or after the command; SUPPRESS keeps a subcommand from resetting it to 0.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                         help="show tracebacks for errors and more log messages (-vv: debug)")

    p = argparse.ArgumentParser(
        prog="holostim",
        description="Real-time holographic photostimulation. Without a command: the GUI on the "
        "simulation session.",
    )
    p.add_argument("--version", action="version", version=f"holostim {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="show tracebacks for errors and more log messages (-vv: debug)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser("gui", parents=[verbose],
                       help="the rig GUI (default; simulation session unless --config)")
    g.add_argument("--config", type=Path, help="session YAML (default: the simulation session)")
    g.set_defaults(func=_cmd_gui)

    c = sub.add_parser("compute", parents=[verbose],
                       help="compute phase masks from CSV files of Fourier-plane spots")
    c.add_argument("--spots", type=Path, nargs="+", required=True, metavar="CSV",
                   help="CSV with columns x, y[, weight] in pixels; several files: a batch")
    c.add_argument("--shape", type=int, nargs=2, metavar=("NY", "NX"), default=(1024, 1024))
    c.add_argument("--method", default="wgs", help="gs, wgs, wgs-kim or raar")
    c.add_argument("--iterations", type=int, default=20)
    c.add_argument("--tolerance", type=float, default=None, help="stop when tolerance_error falls below")
    c.add_argument("--budget-ms", type=float, default=None, help="stop when this time is spent")
    c.add_argument("--backend", default="auto", help="auto, numpy or cupy")
    c.add_argument("--precision", default="single", help="single or double")
    c.add_argument("--padding", type=int, default=1, help="far-field oversampling factor")
    c.add_argument("--out", type=Path,
                   help="mask file (.npy radians, .png or .tif 8-bit 0..2π); a folder for several --spots")
    c.add_argument("--format", choices=("npy", "png", "tif"), default="npy",
                   help="mask format in the --out folder of a batch")
    c.set_defaults(func=_cmd_compute)

    b = sub.add_parser("bench", help="the engine benchmark (arguments go to it; `holostim bench --help`)")
    b.add_argument("bench_args", nargs=argparse.REMAINDER)
    b.set_defaults(func=_cmd_bench)

    k = sub.add_parser("calibrate", parents=[verbose],
                       help="fit the camera↔SLM transform from a projected spot grid")
    k.add_argument("--config", type=Path, help="session YAML (default: the simulation session)")
    k.add_argument("--grid", type=int, default=None, help="spots per side, 3 to 7 (default: the session's)")
    k.add_argument("--out", type=Path, help="where to save (default: the session's calibration.file)")
    k.set_defaults(func=_cmd_calibrate)

    s = sub.add_parser("slm-check", parents=[verbose], help="show test patterns on the SLM screen")
    s.add_argument("--config", type=Path, help="session YAML naming the SLM's screen")
    s.add_argument("--seconds", type=float, default=None, help="close after this long (default: on Esc)")
    s.set_defaults(func=_cmd_slm_check)

    v = sub.add_parser("check-config", parents=[verbose],
                       help="validate a session YAML and print it resolved (exit 0, or 2 with the errors)")
    v.add_argument("file", type=Path)
    v.set_defaults(func=_cmd_check_config)
    return p


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("holostim: %(levelname)s: %(message)s"))
        root.addHandler(handler)
    logging.getLogger("holostim").setLevel(level)
    if root.level > level:
        root.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``holostim`` console script; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `bench` belongs to the benchmark's own parser (argparse's REMAINDER cannot take
    # a first argument that looks like an option, e.g. `holostim bench --size 512`).
    bench_args: list[str] | None = None
    if "bench" in argv:
        i = argv.index("bench")
        if all(a.startswith("-") and a not in ("-h", "--help", "--version") for a in argv[:i]):
            argv, bench_args = argv[: i + 1], argv[i + 1 :]
    args = parser.parse_args(argv)
    if bench_args is not None:
        args.bench_args = bench_args
    if args.command is None:  # plain `holostim [-v]`: the GUI on the default session
        args.func, args.config = _cmd_gui, None
    verbosity = int(getattr(args, "verbose", 0) or 0)
    _setup_logging(verbosity)
    run: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(run(args) or 0)
    except (HolostimError, OSError) as exc:
        if verbosity:
            traceback.print_exc()
        message = " ".join(str(exc).split())  # one line, whatever the message held
        print(f"holostim: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nholostim: interrupted", file=sys.stderr)
        return 130
