"""Click-to-swap latency of the rig GUI in simulation mode.

A real mouse click (Qt test event) on the camera view at a simulated neuron starts the clock; the
clock stops when the SLM reports the swap of the frame holding the new pattern (``click_to_swap_ms``
of the session's result). In between: target store → compute worker thread → WGS on the engine →
phase→gray → SLM → log. Edits are spaced so each is measured on its own (no coalescing). Two kinds:

* clicks that add a spot (left) or remove one (right, once ``--max-spots`` are placed): the spot count
  changes, so the engine starts cold;
* drags of one spot by ``--drag-px`` (1.5 camera px): the same spots moved a little, so the engine
  warm-starts from the last phase (the session's ``engine.warm_start`` rule).

It also reports how responsive the window stays meanwhile: the gaps between the ticks of a 5 ms timer
on the GUI thread while the compute thread is inside the session's compute (the tests only check that
the GUI thread handles events during a compute; how long it waits between them is measured here).

Usage::

    python benchmarks/gui_latency.py                     # 1024², numpy (CPU), 20 clicks + 20 drags
    python benchmarks/gui_latency.py --camera-fps 5      # less CPU for the simulated camera
    python benchmarks/gui_latency.py --backend cupy      # on the GPU where present
    python benchmarks/gui_latency.py --tolerance none --iterations 5   # few spots on the direct sum
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent


def build_config(args: argparse.Namespace, tmp: Path):
    from holostim.config import load_config, parse_config

    base = load_config(args.config)
    d = base.to_dict()
    d["slm"]["shape"] = [args.shape, args.shape]
    d["engine"]["backend"] = args.backend
    d["engine"]["method"] = "wgs"
    d["engine"]["warm_start"] = True
    if args.iterations:
        d["engine"]["iterations"] = args.iterations
    if args.budget_ms is not None:
        d["engine"]["budget_ms"] = args.budget_ms
    if args.tolerance is not None:
        d["engine"]["tolerance"] = None if args.tolerance.lower() == "none" else float(args.tolerance)
    if args.spot_algorithm is not None:
        d["engine"]["spot_algorithm"] = args.spot_algorithm
    d["log"]["directory"] = str(tmp / "logs")
    d["calibration"]["file"] = str(tmp / "calibration.yaml")
    d["targets"] = []
    if args.camera_fps is not None:
        d["camera"]["fps"] = args.camera_fps
    return parse_config(yaml.safe_dump(d), file="<benchmark>", base_dir=tmp)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=ROOT / "config" / "simulation.yaml")
    p.add_argument("--shape", type=int, default=1024, help="SLM side in pixels")
    p.add_argument("--backend", default="numpy", help="numpy (CPU), cupy or auto")
    p.add_argument("--iterations", type=int, default=None, help="WGS iterations (default: the session's)")
    p.add_argument("--budget-ms", type=float, default=None,
                   help="engine time budget per pattern (stop iterating when spent)")
    p.add_argument("--tolerance", default=None,
                   help="engine tolerance stop, or 'none' (default: the session's; a tolerance keeps 2-D "
                        "spots on the FFT engine)")
    p.add_argument("--spot-algorithm", choices=("auto", "fft", "direct"), default=None,
                   help="engine.spot_algorithm (default: the session's)")
    p.add_argument("--clicks", type=int, default=20, help="clicks, and as many drags")
    p.add_argument("--max-spots", type=int, default=6)
    p.add_argument("--camera-fps", type=float, default=None,
                   help="simulated camera rate (default: the session's); it shares the CPU with compute")
    p.add_argument("--drag-px", type=float, default=1.5,
                   help="drag distance in camera px (small enough for the session's warm-start rule)")
    p.add_argument("--pause-ms", type=int, default=150, help="idle time between a swap and the next click")
    args = p.parse_args(argv)

    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the simulated SLM needs no OpenGL
    os.environ.setdefault("HOLOSTIM_FFTW_EFFORT", "FFTW_MEASURE")

    from PyQt6.QtCore import QEvent, QPointF, QSettings, Qt, QTimer
    from PyQt6.QtGui import QMouseEvent
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication

    from holostim.gui.app import make_app
    from holostim.gui.main_window import MainWindow
    from holostim.session import Session

    app = make_app()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        cfg = build_config(args, tmp)
        session = Session.open(cfg)
        cam_fps = cfg.camera.fps
        settings = QSettings(str(tmp / "gui.ini"), QSettings.Format.IniFormat)
        win = MainWindow(session, settings=settings)
        win.focal_dock.hide()  # previews are computed after the swap; keep them out of the loop
        win.resize(1400, 900)
        win.show()
        deadline = time.monotonic() + 20
        while win.camera_view.frame is None and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.005)
        if win.camera_view.frame is None:
            print("no camera frame arrived within 20 s", file=sys.stderr)
            return 1

        neurons = np.asarray(session.camera.neuron_positions, dtype=float)
        ok = [xy for xy in neurons if session.check_target(float(xy[0]), float(xy[1])) is None]
        if len(ok) < args.max_spots + 1:
            print(f"only {len(ok)} neurons lie in the addressable field", file=sys.stderr)
            return 1
        results = []
        win.sending.resultShown.connect(results.append)
        # GUI-thread responsiveness: 5 ms timer ticks, and when the compute thread was computing.
        ticks: list[float] = []
        busy: list[tuple[float, float]] = []
        apply = session.apply

        def timed_apply(targets, **kw):
            t0 = time.perf_counter()
            try:
                return apply(targets, **kw)
            finally:
                busy.append((t0, time.perf_counter()))

        session.apply = timed_apply
        tick_timer = QTimer()
        tick_timer.setInterval(5)
        tick_timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        tick_timer.start()
        vp = win.camera_view.graphics.viewport()

        def wait_result(n_before: int, what: str) -> object:
            deadline = time.monotonic() + 60
            while len(results) == n_before and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.0005)
            if len(results) == n_before:
                raise SystemExit(f"{what}: no pattern reached the SLM in 60 s ({win.last_message})")
            t_end = time.monotonic() + args.pause_ms / 1000
            while time.monotonic() < t_end:
                app.processEvents()
                time.sleep(0.002)
            return results[-1]

        def click(x: float, y: float, button=Qt.MouseButton.LeftButton) -> object:
            n = len(results)
            QTest.mouseClick(vp, button, pos=win.camera_view.viewport_pos(x, y))
            return wait_result(n, "click")

        def drag(i: int, dx: float) -> object:
            t = win.store.targets[i]
            a = win.camera_view.viewport_pos(t.x, t.y)
            b = win.camera_view.viewport_pos(t.x + dx, t.y)
            n = len(results)
            left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
            # Qt starts a drag only past QApplication.startDragDistance() (10 px): swing out, then land
            # on the target position, as a hand does.
            out = QPointF(a) + QPointF(0.0, 2.0 * QApplication.startDragDistance())
            path = [(QEvent.Type.MouseButtonPress, QPointF(a), left, left)]
            path += [(QEvent.Type.MouseMove, QPointF(a) + (out - QPointF(a)) * (f / 4), none, left)
                     for f in range(1, 5)]
            path += [(QEvent.Type.MouseMove, out + (QPointF(b) - out) * (f / 4), none, left)
                     for f in range(1, 5)]
            path += [(QEvent.Type.MouseButtonRelease, QPointF(b), left, none)]
            for kind, p, button, buttons in path:
                ev = QMouseEvent(kind, p, QPointF(vp.mapToGlobal(p.toPoint())), button, buttons,
                                 Qt.KeyboardModifier.NoModifier)
                QApplication.sendEvent(vp, ev)
            return wait_result(n, "drag")

        cold: list = []  # left click adds a spot / right click removes one: a new spot count, cold start
        warm: list = []  # drag a spot by a few px: same spots, warm start from the last phase
        k = 0
        click(*ok[k])  # plans FFTs, compiles kernels: not counted
        k += 1
        for i in range(args.clicks):
            if len(win.store) >= args.max_spots:
                t = win.store.targets[0]
                cold.append(click(t.x, t.y, Qt.MouseButton.RightButton))
            else:
                cold.append(click(*ok[k % len(ok)]))
                k += 1
            warm.append(drag(i % len(win.store), args.drag_px if i % 2 == 0 else -args.drag_px))

        tick_timer.stop()
        backend = win.status_panel.text("backend")
        iters = sorted({r.iterations for r in results[1:]})
        iters = str(iters[0]) if len(iters) == 1 else f"{iters[0]}–{iters[-1]}"
        n_warm = sum(bool(r.warm_started) for r in warm)
        win.close()
        app.processEvents()

    budget = "" if args.budget_ms is None else f", budget {args.budget_ms:g} ms"
    print(f"GUI click-to-swap, simulation mode, {args.shape}² WGS ({iters} iterations{budget}), {backend}")
    print(f"camera {cam_fps} fps, 1..{args.max_spots} spots, {os.cpu_count()} CPUs; "
          f"{n_warm}/{len(warm)} drags warm-started")
    print(f"{'':<40}{'median':>9}{'p90':>9}{'worst':>9}   (quality rows: median, p10, lowest)")
    for name, rs in (("click add/remove (cold)", cold), (f"drag {args.drag_px:g} px (warm start)", warm)):
        lat = np.asarray([r.click_to_swap_ms for r in rs], dtype=float)
        comp = np.asarray([r.compute_ms for r in rs], dtype=float)
        for label, v in ((f"{name}: click→swap ms", lat), ("    of which compute ms", comp)):
            print(f"{label:<40}{np.median(v):>9.1f}{np.percentile(v, 90):>9.1f}{v.max():>9.1f}")
        # the quality those milliseconds bought (worst = lowest)
        for metric in ("uniformity", "efficiency"):
            v = np.asarray([float(getattr(r.metrics, metric)) for r in rs], dtype=float)
            label = f"    {metric} reached"
            print(f"{label:<40}{np.median(v):>9.4f}{np.percentile(v, 10):>9.4f}{v.min():>9.4f}")
    allr = cold + warm
    lat = np.asarray([r.click_to_swap_ms for r in allr], dtype=float)
    print(f"{'all ' + str(len(allr)) + ' edits: click→swap ms':<40}{np.median(lat):>9.1f}"
          f"{np.percentile(lat, 90):>9.1f}{lat.max():>9.1f}")
    t = np.asarray(ticks)
    in_busy = np.zeros(max(len(t) - 1, 0), bool)
    for a, b in busy:
        in_busy |= (t[1:] > a) & (t[:-1] < b)
    gaps = 1e3 * np.diff(t)[in_busy]
    if len(gaps):
        label = "GUI gap between 5 ms ticks, computing"
        print(f"{label:<40}{np.median(gaps):>9.1f}{np.percentile(gaps, 90):>9.1f}{gaps.max():>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
