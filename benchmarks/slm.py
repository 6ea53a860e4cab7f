"""SLM benchmark: phase→gray conversion time and show_phase → swap-complete time.

Usage::

    python benchmarks/slm.py [--repeats 20] [--frames 30] [--no-window]

Prints a table:

* phase→gray ms at 1024² and 1920×1152, on the CPU (the fused numba kernel, with and without a
  correction phase, and the plain numpy reference for comparison) and, where a CUDA GPU is usable, on
  CuPy (kernel alone, and kernel + the uint8 frame's copy to the host).
* interlock reaction: how long after a stall (simulated panel; the OpenGL window's stopped repaints) the
  laser-permit listener hears "off", against the configured staleness, and after hiding the window.
  Tests check the deadline exactly on an injected clock; these are the real-time figures.
* ``show_phase`` → swap-complete ms of the OpenGL SLM window at 1920×1152 (load, upload, swap; median
  and 95th percentile). Without a ``DISPLAY`` it reruns itself under ``xvfb-run`` on one 1920×1152 screen.
  Under Xvfb there is no vertical blank and rendering is Mesa's software rasteriser: this is the
  software path's cost, not the latency of a real SLM (add up to one refresh period plus the panel's
  own liquid-crystal response there).
* the LC settle after a pattern change, plain / overdrive / overdrive + phase-change reduction, in
  simulated time (``slm_settle.py``, next to this file; ``--no-settle`` skips it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time

import numba
import numpy as np

from holostim.backend import gpu_available
from holostim.hardware.slm import SimulatedSLM, phase_to_gray_reference

SHAPES = [(1024, 1024), (1152, 1920)]


def _median_ms(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm (compilation, caches)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(1e3 * (time.perf_counter() - t0))
    return float(np.median(ts)), float(np.percentile(ts, 95))


def bench_conversion(repeats: int) -> None:
    print(f"{'phase->gray':<38} {'shape':>10} {'median ms':>10} {'p95 ms':>8}")
    rng = np.random.default_rng(0)
    for ny, nx in SHAPES:
        phase = rng.uniform(0, 2 * np.pi, (ny, nx)).astype(np.float32)
        out = np.empty((ny, nx), np.uint8)
        plain = SimulatedSLM((ny, nx), 9.2, 1.064, two_pi_gray=255)
        corr = SimulatedSLM((ny, nx), 9.2, 1.064, two_pi_gray=255, blaze=(0.1, 0.05), fresnel_focal_um=4e5)
        rows = [
            (
                f"cpu numba {corr.kernel_threads} thr, no correction",
                lambda s=plain, p=phase, o=out: s.phase_to_gray(p, out=o),
            ),
            (
                f"cpu numba {corr.kernel_threads} thr, with correction",
                lambda s=corr, p=phase, o=out: s.phase_to_gray(p, out=o),
            ),
            (
                "cpu numpy reference (float64)",
                lambda s=corr, p=phase: phase_to_gray_reference(
                    p + s.correction_phase, s._scale, s._period, s._table
                ),
            ),
        ]
        if corr.kernel_threads == 1 and numba.config.NUMBA_NUM_THREADS > 1:
            par = SimulatedSLM((ny, nx), 9.2, 1.064, two_pi_gray=255, blaze=(0.1, 0.05), fresnel_focal_um=4e5)
            par.kernel_threads = numba.config.NUMBA_NUM_THREADS
            rows.append(
                (
                    f"cpu numba {par.kernel_threads} thr, with correction",
                    lambda s=par, p=phase, o=out: s.phase_to_gray(p, out=o),
                )
            )
        if gpu_available():
            import cupy

            dphase = cupy.asarray(phase)

            def gpu_only(s=corr, d=dphase):
                s.phase_to_gray(d)
                cupy.cuda.get_current_stream().synchronize()

            rows.append(("cupy kernel (synchronised)", gpu_only))
            rows.append(("cupy kernel + uint8 to host", lambda s=corr, d=dphase: s.phase_to_gray(d).get()))
        for name, fn in rows:
            med, p95 = _median_ms(fn, repeats)
            print(f"{name:<38} {f'{ny}x{nx}':>10} {med:>10.2f} {p95:>8.2f}")
    if not gpu_available():
        print("(no usable CUDA GPU here: GPU rows skipped)")


class _Heard:
    """An interlock listener that remembers what it last heard (the watchdog reports changes only)."""

    def __init__(self) -> None:
        self.on, self.off = threading.Event(), threading.Event()

    def __call__(self, ok: bool, _reason: str) -> None:
        (self.on if ok else self.off).set()
        (self.off if ok else self.on).clear()


def _off_after(slm, start, repeats: int, restore) -> tuple[float, float]:
    """Median and max ms from ``start()`` to the interlock listener hearing "off", over ``repeats`` runs."""
    heard = _Heard()
    remove = slm.add_interlock_listener(heard)
    delays = []
    try:
        for _ in range(repeats):
            restore()
            heard.on.wait(5.0)
            t0 = time.monotonic()
            start()
            heard.off.wait(5.0)
            delays.append(1e3 * (time.monotonic() - t0))
    finally:
        remove()
        restore()
    return float(np.median(delays)), float(np.max(delays))


def bench_interlock(repeats: int) -> None:
    stale_ms = 60.0
    slm = SimulatedSLM((64, 64), 9.2, 1.064, stale_ms=stale_ms)
    slm.show_phase(np.zeros((64, 64), np.float32))
    try:
        med, worst = _off_after(slm, lambda: slm.set_stalled(True), repeats, lambda: slm.set_stalled(False))
        print(f"\n{'interlock: stall -> listener off':<38} {'simulated':>10} {med:>10.2f} {worst:>8.2f}"
              f"   (limit {stale_ms:g} ms; median, max ms)")
        med, worst = _off_after(slm, lambda: slm.set_visible(False), repeats, lambda: slm.set_visible(True))
        print(f"{'interlock: hidden -> listener off':<38} {'simulated':>10} {med:>10.2f} {worst:>8.2f}")
    finally:
        slm.close()


def bench_window(frames: int) -> None:
    shape = (1152, 1920)
    if not os.environ.get("DISPLAY"):
        print("show_phase -> swap: skipped (no DISPLAY; xvfb-run was not found)")
        return
    from PyQt6.QtGui import QGuiApplication

    from holostim.hardware.slm.opengl.window import OpenGLSLM

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    g = app.primaryScreen().geometry()
    fullscreen = (g.width(), g.height()) == (shape[1], shape[0])
    spec = f"{g.width()}x{g.height()}+{g.x()}+{g.y()}"
    slm = OpenGLSLM(shape, 9.2, 1.064, screen=spec, fullscreen=fullscreen, two_pi_gray=255)
    try:
        if not slm.wait_ready(10):
            print("show_phase -> swap: the window never appeared")
            return
        rng = np.random.default_rng(1)
        phases = [rng.uniform(0, 2 * np.pi, shape).astype(np.float32) for _ in range(4)]
        recs = []
        for i in range(frames + 2):
            rec = slm.show_phase(phases[i % len(phases)])
            slm.wait_swapped(rec, 5.0)
            recs.append(rec)
        recs = [r for r in recs[2:] if r.t_swapped is not None]
        t = {k: np.array([r.timings_ms()[k] for r in recs]) for k in ("load_ms", "upload_ms", "swap_ms")}
        where = "fullscreen" if fullscreen else f"windowed on {spec}"
        n = len(recs)
        print(f"\nshow_phase -> swap-complete, OpenGL window {shape[0]}x{shape[1]} ({where}), {n} frames")
        print(f"{'stage (ms after the call)':<34} {'median':>10} {'p95':>8}")
        for k, v in t.items():
            print(f"{k:<34} {np.median(v):>10.2f} {np.percentile(v, 95):>8.2f}")
        print(
            "(Xvfb/Mesa software path, no vertical blank; a real SLM adds up to one refresh + LC settle)"
        )
        _bench_window_interlock(app, slm)
    finally:
        slm.close()


def _bench_window_interlock(app, slm, repeats: int = 5) -> None:
    """Hide → off and stopped repaints → off of the OpenGL window, on the real clock (GUI thread)."""
    heard = _Heard()
    remove = slm.add_interlock_listener(heard)

    def spin_until(cond, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not cond():
            app.processEvents()
            time.sleep(0.001)

    show = slm.window.showFullScreen if slm.window._fullscreen else slm.window.show
    rows: dict[str, list[float]] = {"hidden -> listener off": [], "repaints stopped -> listener off": []}
    try:
        for _ in range(repeats):
            for name, v in rows.items():
                show()
                slm.window._keepalive.start()
                slm.show_phase(np.zeros(slm.shape, np.float32))
                spin_until(heard.on.is_set)
                t0 = time.monotonic()
                if name.startswith("hidden"):
                    slm.window.hide()
                else:
                    slm.window._keepalive.stop()
                spin_until(heard.off.is_set)
                v.append(1e3 * (time.monotonic() - t0))
    finally:
        remove()
        show()
        slm.window._keepalive.start()
    print(f"{'OpenGL interlock (ms, limit ' + f'{1e3 * slm.stale_s:.0f})':<34} {'median':>10} {'max':>8}")
    for name, v in rows.items():
        print(f"{name:<34} {np.median(v):>10.2f} {np.max(v):>8.2f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20, help="timed conversions per row")
    p.add_argument("--frames", type=int, default=30, help="frames for show_phase -> swap")
    p.add_argument("--no-window", action="store_true", help="skip the OpenGL window part")
    p.add_argument("--no-settle", action="store_true", help="skip the LC settle / overdrive part")
    p.add_argument("--settle-json", help="write the settle rows to this JSON file")
    args = p.parse_args(argv)
    if not args.no_window and not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        # no screen: run again on a private Xvfb screen of exactly the SLM's size, so the window is fullscreen
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1920x1152x24", sys.executable, __file__,
               *(argv or sys.argv[1:])]
        os.execvp(cmd[0], cmd)
    bench_conversion(args.repeats)
    bench_interlock(min(args.repeats, 10))
    if not args.no_window:
        bench_window(args.frames)
    if not args.no_settle:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import slm_settle

        slm_settle.main(["--json", args.settle_json] if args.settle_json else [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
