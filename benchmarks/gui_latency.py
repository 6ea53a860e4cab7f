"""Click-to-swap latency of the rig GUI in simulation mode.

A real mouse click (Qt test event) on the camera view at a simulated neuron starts the clock; the
clock stops when the SLM reports the swap of the frame holding the new pattern (``click_to_swap_ms``
of the session's result). In between: target store → compute worker thread → WGS on the engine (warm
start from the previous mask) → phase→gray → SLM. Clicks are spaced so each is measured on its own
(no coalescing). The target count cycles between 1 and ``--max-spots`` by adding and right-click
removing, as a user picking cells would.

Usage::

    python benchmarks/gui_latency.py                     # 1024², numpy (CPU), 30 clicks
    python benchmarks/gui_latency.py --backend cupy      # on the GPU where present
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    d["log"]["directory"] = str(tmp / "logs")
    d["calibration"]["file"] = str(tmp / "calibration.yaml")
    d["targets"] = []
    return parse_config(yaml.safe_dump(d), file="<benchmark>", base_dir=tmp)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=ROOT / "config" / "simulation.yaml")
    p.add_argument("--shape", type=int, default=1024, help="SLM side in pixels")
    p.add_argument("--backend", default="numpy", help="numpy (CPU), cupy or auto")
    p.add_argument("--iterations", type=int, default=None, help="WGS iterations (default: the session's)")
    p.add_argument("--clicks", type=int, default=30)
    p.add_argument("--max-spots", type=int, default=6)
    p.add_argument("--pause-ms", type=int, default=150, help="idle time between a swap and the next click")
    args = p.parse_args(argv)

    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the simulated SLM needs no OpenGL
    os.environ.setdefault("HOLOSTIM_FFTW_EFFORT", "FFTW_MEASURE")

    from PyQt6.QtCore import QSettings, Qt
    from PyQt6.QtTest import QTest

    from holostim.gui.app import make_app
    from holostim.gui.main_window import MainWindow
    from holostim.session import Session

    app = make_app()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        cfg = build_config(args, tmp)
        session = Session.open(cfg)
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
        win.resultShown.connect(results.append)
        vp = win.camera_view.graphics.viewport()
        latencies, compute, spots = [], [], []
        k = 0
        for i in range(args.clicks + 1):  # the first click plans and warms up; not counted
            n_before = len(results)
            if len(win.store) >= args.max_spots:
                x, y = win.store.targets[0].x, win.store.targets[0].y
                QTest.mouseClick(vp, Qt.MouseButton.RightButton, pos=win.camera_view.viewport_pos(x, y))
            else:
                x, y = ok[k % len(ok)]
                k += 1
                QTest.mouseClick(vp, Qt.MouseButton.LeftButton, pos=win.camera_view.viewport_pos(x, y))
            deadline = time.monotonic() + 30
            while len(results) == n_before and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.0005)
            if len(results) == n_before:
                print(f"click {i}: no pattern reached the SLM in 30 s ({win.last_message})", file=sys.stderr)
                return 1
            r = results[-1]
            if i > 0:
                latencies.append(float(r.click_to_swap_ms))
                compute.append(float(r.timings.total_ms))
                spots.append(len(r.targets))
            t_end = time.monotonic() + args.pause_ms / 1000
            while time.monotonic() < t_end:
                app.processEvents()
                time.sleep(0.002)

        backend = win.status_panel.text("backend")
        iters = results[-1].iterations
        win.close()
        app.processEvents()

    lat = np.asarray(latencies)
    print(f"GUI click-to-swap, simulation mode, {args.shape}² WGS ({iters} iterations, warm start), "
          f"{backend}")
    print(f"{len(lat)} clicks, 1..{args.max_spots} spots, {os.cpu_count()} CPUs")
    print(f"{'':<22}{'median':>10}{'p90':>10}{'worst':>10}")
    print(f"{'click→swap ms':<22}{np.median(lat):>10.1f}{np.percentile(lat, 90):>10.1f}{lat.max():>10.1f}")
    comp = np.asarray(compute)
    print(f"{'compute ms':<22}{np.median(comp):>10.1f}{np.percentile(comp, 90):>10.1f}{comp.max():>10.1f}")
    print(f"overhead (median click→swap − compute): {statistics.median(lat - comp):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
