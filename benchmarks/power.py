"""Power-per-spot benchmark: the gate's efficiency weighting, and `calibrate --power` on the simulated rig.

Usage::

    python benchmarks/power.py [--n 512] [--fill 0.8] [--json out.json]

Prints a table:

* the gate's far field of one frame (the planned FFT), and the extra cost of weighting it by the
  efficiency grid (cached) — the only per-frame cost compensation adds; the grid's first build;
* ``Session.calibrate_power`` on an ``n`` × ``n`` simulated rig whose panel's true fill factor is
  ``--fill`` (stated: 0.95): wall time, fit residual, the fill factor it implies, and the largest error of
  the session's model (stated envelope × map) against the hidden truth over the measured spots;
* camera spot fluxes of a 4 × 4 grid across the field, without and with compensation (largest
  deviation from the mean).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

os.environ.setdefault("HOLOSTIM_FFTW_EFFORT", "FFTW_ESTIMATE")

ROOT = Path(__file__).resolve().parent.parent


def _session_file(folder: Path, n: int, fill: float) -> Path:
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [n, n]
    data["simulation"].update(shape=[n, n], n_neurons=0, sample="slide", ground_truth={"fill_factor": fill})
    data["calibration"]["file"] = "calibration.yaml"
    data["log"]["directory"] = "logs"
    data["engine"].update(tolerance=None, iterations=60, warm_start=False)
    path = folder / "session.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _median_ms(fn, repeat: int = 20) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def _fluxes(s, xy, compensate: bool) -> np.ndarray:
    from holostim.calibration.power_procedure import _flux
    from holostim.session import Target

    s.power.compensate = compensate
    cam = s.calibration.slm_to_camera(xy)
    s.apply([Target(float(x), float(y)) for x, y in cam])
    deadline = time.monotonic() + 30
    while not s.laser_gate.is_open and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(20 * s.config.slm.settle_tau_ms / 1e3)
    img = np.mean([np.asarray(s.camera.snap(), np.float64) for _ in range(4)], axis=0)
    f = _flux(img, cam, 8)
    return np.abs(f / f.mean() - 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512, help="SLM and camera side (default 512)")
    ap.add_argument("--fill", type=float, default=0.8, help="the simulated panel's true fill factor")
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = ap.parse_args(argv)

    from holostim.calibration.power_map import normalised_coordinates, pixel_envelope
    from holostim.session import Session

    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with Session.open(_session_file(Path(tmp), args.n, args.fill)) as s:
            phase = np.random.default_rng(0).uniform(0, 2 * np.pi, (args.n, args.n)).astype(np.float32)
            from holostim.safety import far_field_intensity

            s._far_field(phase)  # the gate's plan
            plan, p = s._gate_plan, s.engine.padding
            rows["gate far field, ms"] = _median_ms(
                lambda: far_field_intensity(phase, s.engine.source_amplitude, p, plan=plan))
            far = far_field_intensity(phase, s.engine.source_amplitude, p, plan=plan)
            grid = s.power.grid(far.shape, p)
            rows["× efficiency grid, ms"] = _median_ms(lambda: far * grid)
            s.power._grid_key = None
            t0 = time.perf_counter()
            s.power.grid(far.shape, p)
            rows["efficiency grid build, ms"] = 1e3 * (time.perf_counter() - t0)

            t0 = time.perf_counter()
            cal = s.calibrate_power()
            rows["calibrate_power, s"] = time.perf_counter() - t0
            pm, m = cal.power_map, s.last_power_measurement
            xn, yn = normalised_coordinates(m.spots_slm, (args.n, args.n))
            model = pixel_envelope(xn, yn, s.config.slm.fill_factor) * pm(xn, yn)
            ratio = model / pixel_envelope(xn, yn, args.fill)
            rows["map fit residual, %"] = 100 * pm.residual
            rows["implied fill factor x"] = pm.fitted_fill_factor[1]
            rows["model vs truth, max %"] = 100 * float(np.max(np.abs(ratio / ratio.mean() - 1)))
            g = np.linspace(0.16, 0.84, 4) * args.n
            gx, gy = np.meshgrid(g, g)
            xy = np.column_stack([gx.ravel(), gy.ravel()])
            rows["spots, uncompensated, max dev %"] = 100 * float(_fluxes(s, xy, False).max())
            rows["spots, compensated, max dev %"] = 100 * float(_fluxes(s, xy, True).max())
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"power benchmark, {args.n}² SLM and camera, true fill factor {args.fill} (stated 0.95); "
          f"load {' '.join(load)}")
    for k, v in rows.items():
        print(f"  {k:<34} {v:10.3f}")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "fill": args.fill, "load": load, **rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
