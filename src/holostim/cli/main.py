"""The ``holostim`` command: the parser, the dispatch to each verb's module, and error printing.

Every user error (a :class:`~holostim.errors.HolostimError`, or an ``OSError`` such as a folder that
cannot be written) is printed as one line on stderr and exits with status 2; ``--verbose`` shows the
traceback as well, and more of the log. Heavy modules are imported inside each command so
``holostim --version`` and ``check-config`` start instantly and the core never needs Qt.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from holostim import __version__
from holostim.cli.compute import cmd_bench, cmd_compute
from holostim.cli.design import add_design_parser
from holostim.cli.errors import EXIT_USAGE
from holostim.cli.gui import cmd_gui
from holostim.cli.interop import cmd_export_nwb, cmd_import_rois
from holostim.cli.library import add_library_parser
from holostim.cli.protocol import cmd_run_protocol
from holostim.cli.session_cmds import cmd_calibrate, cmd_check_config
from holostim.cli.slm import cmd_slm_check
from holostim.errors import HolostimError

__all__ = ["build_parser", "main"]


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
    g.set_defaults(func=cmd_gui)

    c = sub.add_parser("compute", parents=[verbose],
                       help="compute phase masks from CSV files of Fourier-plane spots")
    c.add_argument("--spots", type=Path, nargs="+", required=True, metavar="CSV",
                   help="CSV with columns x_fourier_px, y_fourier_px[, weight][, z_um]; several: a batch")
    c.add_argument("--config", type=Path, default=None,
                   help="session YAML: its SLM shape, engine settings and optics (needed for a z_um column)")
    c.add_argument("--shape", type=int, nargs=2, metavar=("NY", "NX"), default=None,
                   help="SLM pixels (default: the session's, else 1024 1024)")
    c.add_argument("--method", default=None, help="gs, wgs, wgs-kim or raar (default: the session's, wgs)")
    c.add_argument("--iterations", type=int, default=None, help="(default: the session's, 20)")
    c.add_argument("--tolerance", type=float, default=None, help="stop when tolerance_error falls below")
    c.add_argument("--budget-ms", type=float, default=None, help="stop when this time is spent")
    c.add_argument("--backend", default=None, help="auto, numpy or cupy (default: the session's, auto)")
    c.add_argument("--precision", default=None, help="single or double (default: the session's, single)")
    c.add_argument("--padding", type=int, default=None, help="far-field oversampling factor (default 1)")
    c.add_argument("--spot-algorithm", default=None,
                   help="auto, fft or direct (default: the session's, auto); 3-D spots always direct")
    c.add_argument("--seed", type=int, default=0,
                   help="seed of the starting phase (default 0; `holostim library info` shows each set's)")
    c.add_argument("--out", type=Path,
                   help="mask file (.npy radians, .png or .tif 8-bit 0..2π); a folder for several --spots")
    c.add_argument("--format", choices=("npy", "png", "tif"), default="npy",
                   help="mask format in the --out folder of a batch")
    c.set_defaults(func=cmd_compute)

    b = sub.add_parser("bench", help="the engine benchmark (arguments go to it; `holostim bench --help`)")
    b.add_argument("bench_args", nargs=argparse.REMAINDER)
    b.set_defaults(func=cmd_bench)

    k = sub.add_parser("calibrate", parents=[verbose],
                       help="fit the camera↔SLM transform from a projected spot grid")
    k.add_argument("--config", type=Path, help="session YAML (default: the simulation session)")
    k.add_argument("--grid", type=int, default=None,
                   help="spots per side, 3 to 7 (default: the session's; 7 with --power, 3 with --depth)")
    k.add_argument("--out", type=Path, help="where to save (default: the session's calibration.file)")
    k.add_argument("--power", action="store_true",
                   help="measure the diffraction-efficiency map across the field (needs the camera↔SLM "
                   "calibration) and add it to the calibration file")
    k.add_argument("--depth", action="store_true",
                   help="measure nominal defocus ↔ true depth from a focus sweep of spots on a slide (needs "
                   "the camera↔SLM calibration and a focus drive) and add it to the calibration file")
    k.add_argument("--depths", type=str, default=None, metavar="UM,UM,...",
                   help="with --depth: the focus positions in µm, at least three, as --depths=-20,0,20 "
                   "(default: five across ±4 axial resolutions, at most ±50 µm)")
    k.set_defaults(func=cmd_calibrate)

    s = sub.add_parser("slm-check", parents=[verbose], help="show test patterns on the SLM screen")
    s.add_argument("--config", type=Path, help="session YAML naming the SLM's screen")
    s.add_argument("--seconds", type=float, default=None, help="close after this long (default: on Esc)")
    s.set_defaults(func=cmd_slm_check)

    r = sub.add_parser("run-protocol", parents=[verbose],
                       help="run a stimulation protocol headless (exit 0 done, 1 aborted, 2 bad input)")
    r.add_argument("protocol", type=Path, help="protocol YAML (see config/protocol-*.yaml)")
    r.add_argument("--config", type=Path, help="session YAML (default: the simulation session)")
    r.set_defaults(func=cmd_run_protocol)

    i = sub.add_parser("import-rois", parents=[verbose],
                       help="ROIs from suite2p, CaImAn or ImageJ/Fiji → a target file (id = ROI id + 1)")
    i.add_argument("path", type=Path, help="suite2p plane folder (or its stat.npy), CaImAn .hdf5, ImageJ "
                   "RoiSet.zip or .roi, NWB .nwb")
    i.add_argument("--out", type=Path, required=True, help="target file to write (.csv or .json)")
    i.add_argument("--min-prob", type=float, default=None, metavar="P",
                   help="keep ROIs whose cell probability is at least P (suite2p iscell, CaImAn cnn_preds)")
    i.add_argument("--cells-only", action="store_true",
                   help="keep only the analysis's cells (suite2p iscell flag, CaImAn idx_components)")
    i.add_argument("--transform", type=Path, default=None, metavar="FILE.yaml",
                   help="imaging → camera registration (default: imaging px are camera px)")
    i.add_argument("--group", type=int, default=0, help="the targets' group (default 0)")
    i.add_argument("--plane", default=None, metavar="NAME",
                   help="the NWB plane segmentation to read, when the file has several")
    i.set_defaults(func=cmd_import_rois)

    x = sub.add_parser("export-nwb", parents=[verbose],
                       help="a stimulation log (JSONL) → NWB (ndx-patterned-ogen): targets, patterns, times")
    x.add_argument("log", type=Path, help="the session's event log (.jsonl)")
    x.add_argument("--out", type=Path, required=True, help="NWB file to write (.nwb; replaced whole)")
    x.add_argument("--effector", default=None, help="the opsin expressed (e.g. ChRmine), for the NWB site")
    x.add_argument("--location", default=None, help="the brain area (e.g. VISp), for the NWB site")
    x.set_defaults(func=cmd_export_nwb)

    add_library_parser(sub, [verbose])
    add_design_parser(sub, [verbose])

    v = sub.add_parser("check-config", parents=[verbose],
                       help="validate a session YAML and print it resolved (exit 0, or 2 with the errors)")
    v.add_argument("file", type=Path)
    v.set_defaults(func=cmd_check_config)
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
        args.func, args.config = cmd_gui, None
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
