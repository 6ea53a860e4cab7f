"""The commands that read a session file: ``holostim calibrate`` and ``holostim check-config``."""

from __future__ import annotations

import argparse
import math
import sys

from holostim.cli.defaults import default_config
from holostim.cli.display import require_display
from holostim.cli.errors import EXIT_OK, CLIError
from holostim.cli.progress import Progress

__all__ = ["cmd_calibrate", "cmd_check_config"]


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Measure a new calibration with the session's devices and save it (``--out`` or the session's file)."""
    from holostim.calibration import check_save_path
    from holostim.config import load_config
    from holostim.session import Session

    config = args.config or default_config()
    cfg = load_config(config)
    # Where the result goes is checked before anything is shown or measured (Calibration.save's rules): a
    # directory, a kernel file system or somebody's notes must not be found out after the whole calibration.
    out = args.out if args.out is not None else cfg.calibration.file
    if out is None:
        raise CLIError("no calibration.file in the session: give a path (holostim calibrate --out FILE)")
    check_save_path(out)
    opengl = cfg.slm.backend == "opengl"
    if cfg.calibration.laser_power_mw is None:  # the gate blocks the laser for every calibration frame
        print("holostim: warning: calibration.laser_power_mw is not set: the laser stays blocked while "
              "calibrating (state the power used for calibration in the session file)", file=sys.stderr)
    if opengl:  # the SLM window needs a Qt application, and its event loop to swap frames
        require_display("calibrate")  # before Qt starts: without a display it aborts the process
        from holostim.hardware.slm.opengl.qt_loop import qt_application, run_beside_qt_events

        _app = qt_application()  # noqa: F841 - keep it alive while the window is shown
    if args.grid is not None and (isinstance(args.grid, bool) or not 3 <= args.grid <= 7):
        raise CLIError(f"--grid {args.grid}: spots per side must be 3 to 7")  # before anything is opened
    if getattr(args, "power", False) and getattr(args, "depth", False):
        raise CLIError("--power and --depth are two measurements: run them one after the other")
    if getattr(args, "power", False):
        return _calibrate_power(args, config, out, opengl)
    depths = _depths(getattr(args, "depths", None))  # before anything is opened
    if depths is not None and not getattr(args, "depth", False):
        raise CLIError("--depths goes with --depth (the focus positions of the depth calibration)")
    if getattr(args, "depth", False):
        return _calibrate_depth(args, config, out, opengl, depths)
    had_power_map = _has_power_map(out)
    had_depth_map = _has_depth_map(out)
    # Open without the old calibration: it may belong to devices that changed, which is why we measure.
    with Session.open(config, load_calibration=False) as session:
        grid = args.grid or session.config.calibration.grid
        progress = Progress(f"calibrating ({grid}x{grid} grid)")

        def measure():
            return session.calibrate(grid=grid, progress=progress)

        cal = run_beside_qt_events(measure) if opengl else measure()
        path = session.save_calibration(cal, out)
    print(f"calibration residual {cal.residual_px:.3f} camera px RMS over {cal.n_spots} spots")
    print(f"saved {path}")
    if had_power_map:  # a new geometry may mean a new panel or new optics: the map is measured again
        print("holostim: note: the old file's power map was not kept; run `holostim calibrate --power` to "
              "measure it for these devices (until then the pixel envelope alone sets the power per spot)",
              file=sys.stderr)
    if had_depth_map:
        print("holostim: note: the old file's depth map was not kept; run `holostim calibrate --depth` to "
              "measure it for these devices (until then target depths go to the engine as nominal depths)",
              file=sys.stderr)
    return EXIT_OK


def _has_power_map(path) -> bool:
    """Whether the calibration file about to be replaced holds a power map (any unreadable file: no)."""
    from holostim.calibration import Calibration, CalibrationError

    try:
        return Calibration.load(path).power_map is not None
    except (CalibrationError, OSError):
        return False


def _has_depth_map(path) -> bool:
    """Whether the calibration file about to be replaced holds a depth map (any unreadable file: no)."""
    from holostim.calibration import Calibration, CalibrationError

    try:
        return Calibration.load(path).depth_map is not None
    except (CalibrationError, OSError):
        return False


def _depths(text: str | None) -> list[float] | None:
    """``--depths -20,0,20`` as µm; a bad list is one line."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CLIError(f"--depths {text!r}: give focus positions in µm separated by commas, as "
                       "--depths=-20,0,20") from None
    if len(set(values)) < 3 or not all(math.isfinite(v) for v in values):
        raise CLIError(f"--depths {text!r}: the fit needs at least three distinct, finite focus positions")
    return values


def _measure_on_calibrated_session(config, out, opengl: bool, what: str, measure) -> tuple:
    """Open the session, require its camera↔SLM calibration, run ``measure(session)``, save the result.

    The depth and power calibrations both need to know where each spot lands on the camera; with an
    OpenGL SLM the measurement runs beside Qt's events (the window must keep drawing). Returns
    ``(calibration, saved path, session)``; the session is closed by then (its config stays readable).
    """
    from holostim.session import Session

    if opengl:
        from holostim.hardware.slm.opengl.qt_loop import run_beside_qt_events
    with Session.open(config, progress=Progress("calibrating the simulated rig")) as session:
        if session.calibration is None:
            where = session.config.calibration.file or "calibration.file not set"
            raise CLIError(f"no camera↔SLM calibration ({where}): run `holostim calibrate --config {config}` "
                           f"first; the {what} calibration needs to know where each spot lands on the camera")
        cal = run_beside_qt_events(lambda: measure(session)) if opengl else measure(session)
        path = session.save_calibration(cal, out)
    return cal, path, session


def _calibrate_depth(args: argparse.Namespace, config, out, opengl: bool, depths: list[float] | None) -> int:
    """``calibrate --depth``: measure the axial map with the session's calibration, save both."""
    grid = args.grid or 3
    progress = Progress(f"measuring depth ({grid}x{grid} spots, focus sweep)")
    cal, path, session = _measure_on_calibrated_session(
        config, out, opengl, "depth", lambda s: s.calibrate_depth(depths, grid=grid, progress=progress))
    m = session.last_depth_measurement
    dm = cal.depth_map
    print(f"depth map: true depth = {dm.scale:.4f} × nominal {dm.offset_um:+.2f} µm, over {dm.n_points} "
          f"focus positions from {dm.range_um[0]:+.1f} to {dm.range_um[1]:+.1f} µm; fit residual "
          f"{dm.residual_um:.3f} µm RMS (axial resolution {m.axial_resolution_um:.2f} µm)")
    print(f"saved {path}")
    return EXIT_OK


def _calibrate_power(args: argparse.Namespace, config, out, opengl: bool) -> int:
    """``calibrate --power``: measure the efficiency map with the session's calibration, save both."""
    grid = args.grid or 7
    progress = Progress(f"measuring power ({grid}x{grid} spots)")
    cal, path, session = _measure_on_calibrated_session(
        config, out, opengl, "power", lambda s: s.calibrate_power(grid=grid, progress=progress))
    ff = session.config.slm.fill_factor
    pm = cal.power_map
    fy, fx = pm.fitted_fill_factor or (float("nan"), float("nan"))
    print(f"power map: degree {pm.degree} over {pm.n_spots} spots, fit residual {100 * pm.residual:.2f} % "
          "RMS")
    print(f"the measurements alone imply a pixel fill factor of {fx:.3f} (x) × {fy:.3f} (y); "
          f"slm.fill_factor = {ff:g}")
    print(f"saved {path}")
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a session file and print it resolved (stdout), "valid" on stderr.

    A session without ``safety.laser_power_mw`` is valid but never permits the laser: a warning says so.
    """
    from holostim.config import load_config

    cfg = load_config(args.file)
    print(cfg.to_yaml(), end="")
    if cfg.safety.laser_power_mw is None:  # valid, but a session that can never permit light
        print(f"# {args.file}: warning: safety.laser_power_mw is not set: the laser will never be permitted",
              file=sys.stderr)
    for warning in _daq_warnings(cfg):
        print(f"# {args.file}: warning: {warning}", file=sys.stderr)
    print(f"# {args.file}: valid", file=sys.stderr)
    return EXIT_OK


def _daq_warnings(cfg) -> list[str]:
    """What is valid in a DAQ section but will keep the gate closed at run time."""
    daq = cfg.daq
    out = []
    if daq is None:
        return out
    cal = getattr(daq, "power_calibration", None)
    laser = cfg.safety.laser_power_mw
    if cal is not None and laser is not None:
        top = cal.build().max_mw
        if top < laser:
            out.append(f"daq.power_calibration reaches {top} mW, below safety.laser_power_mw = {laser} mW: "
                       "patterns judged at the full laser power cannot be set, and the gate stays closed "
                       "for them; calibrate up to the laser's power")
    return out
