"""The simulated rig in depth, and `calibrate --depth`: what planes and a focus sweep cost.

Usage::

    python benchmarks/depth.py [--frames 20] [--no-calibration]

Prints a table:

* a new SLM frame's light on a 512² camera from a 512² SLM, for a sample in 1, 3 and 8 planes (the rate
  model: the light is computed once per frame and distinct depth), and one camera frame with the SLM
  unchanged (everything cached, the planes blurred for the imaged one);
* ``calibrate --depth`` on the simulated rig at 128² (3 focus positions, 3 × 3 spots, through the gate
  and the log), with the frames it showed and the recovered map against the hidden truth.

Numbers depend on the machine's load: run it on a quiet machine.
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

os.environ.setdefault("HOLOSTIM_FFTW_EFFORT", "FFTW_ESTIMATE")
ROOT = Path(__file__).resolve().parents[1]


def _row(name: str, samples: list[float], unit: str = "ms") -> None:
    med = statistics.median(samples)
    p95 = sorted(samples)[max(0, int(0.95 * len(samples)) - 1)]
    print(f"{name:<60} {med:9.2f} {p95:9.2f} {unit}")


def _planes(args: argparse.Namespace) -> None:
    from holostim.hardware.camera import SimulatedCamera
    from holostim.hardware.slm import SimulatedSLM
    from holostim.sim import LightPath, Scene, SimulatedClock

    optics = dict(focal_length_um=2e5, magnification=50.0, objective_na=0.8, medium_index=1.33)
    for planes in ((0.0,), (-20.0, 0.0, 20.0), tuple(np.linspace(-40, 40, 8))):
        slm = SimulatedSLM((512, 512), 9.2, 1.04, tau_ms=5.0)
        clock = SimulatedClock()
        cam = SimulatedCamera(slm, (512, 512), clock=clock, light_path=LightPath(**optics),
                              scene=Scene(visible_spots=True, planes_um=planes))
        rng = np.random.default_rng(0)
        phases = [rng.uniform(0, 2 * np.pi, (512, 512)).astype(np.float32) for _ in range(3)]
        new, cached = [], []
        for i in range(max(3, args.frames // 4)):
            time.sleep(0.08)  # a settled frame to start from, as from a user's clicks
            slm.show_phase(phases[i % 3])
            clock.advance(0.1)
            t = time.perf_counter()
            cam.expected_rate()  # the light at every plane the rate model needs, and the imaged one
            new.append(1e3 * (time.perf_counter() - t))
        for _ in range(args.frames):
            clock.advance(0.033)
            t = time.perf_counter()
            cam.expected_rate()
            cached.append(1e3 * (time.perf_counter() - t))
        _row(f"new SLM frame, 512² → 512², {len(planes)} plane(s)", new)
        _row(f"camera frame, SLM unchanged, {len(planes)} plane(s)", cached)


def _calibration() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_session import write_session

    from holostim.session import Session

    os.environ.setdefault("HOLOSTIM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_session(Path(tmp), n=128, optics={"magnification": 200.0},
                             simulation={"n_neurons": 0, "sample": "slide"})
        with Session.open(path) as s:
            t = time.perf_counter()
            cal = s.calibrate_depth([-20.0, 0.0, 20.0])
            took = time.perf_counter() - t
            m = s.last_depth_measurement
            scale, offset = s.camera.true_defocus
    dm = cal.depth_map
    frames = sum(len(z) for z, _ in m.sweeps)
    print(f"{'calibrate --depth, 128², 3 focus positions, ' + str(frames) + ' frames':<60} {took:9.2f} "
          f"{'':>9} s")
    print(f"  scale {dm.scale:.4f} (truth {scale:.4f}), offset {dm.offset_um:+.3f} µm (truth {offset:+.3f}), "
          f"axial resolution {m.axial_resolution_um:.2f} µm, residual {dm.residual_um:.3f} µm")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--no-calibration", action="store_true")
    args = p.parse_args(argv)
    print(f"{'simulated rig in depth':<60} {'median':>9} {'p95':>9}")
    _planes(args)
    if not args.no_calibration:
        _calibration()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
