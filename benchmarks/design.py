"""Gradient hologram design against WGS on the realistic model (issue 19).

Usage::

    python benchmarks/design.py [--quick] [--sizes 256,512] [--spots 20,100] [--planes 1,3]
                                [--crosstalk 1.0,0.0] [--iterations 150] [--wgs-iterations 30]
                                [--json FILE]

For each SLM size, spot count, number of planes and crosstalk σ (px), one target (seeded random spots
in an annulus 8..N/4 px around the zero order, at least 4 px apart; with 3 planes the spots take the
depths -60, 0, +60 µm in turn) gets two masks:

* **WGS**: the engine's (FFT engine in 2-D, direct sum in 3-D; ``--wgs-iterations``), made for its
  ideal model, with the model's Gaussian illumination;
* **gradient**: Adam through the realistic model (``holostim.design``), started from that WGS mask,
  ``--iterations`` steps.

Both are judged by the realistic model's numpy evaluator (:mod:`holostim.design.evaluate`: spot power
integrated over a disc of 1 Fourier px, focal planes sampled at 1/2 px), not by the optimiser's loss:
uniformity ``1 - (max - min) / (max + min)`` and efficiency (spot power / laser power). The model is
8-bit, fill factor 0.95, computed on 2 sub-samples per pixel, Gaussian illumination (waist 0.4 N),
0.05 waves of astigmatism and 0.03 of coma, the SLM filling the objective's pupil; σ = 1 px is a
panel where the fringing field matters, σ = 0 one where it does not. Times are wall seconds: WGS's
compute; the gradient's WGS start + compilation + steps (compilation is printed apart), and when it
first beat the WGS mask on both uniformity and efficiency (judged every 10 steps; the judging time is
taken off the clock).

Prints a markdown table and writes JSON (default ``benchmarks/results/design-cpu-DATE.json``). Each
row prints the load average: numbers from a loaded machine are inflated. ``--quick``: 128², 20 spots,
1 and 3 planes, σ = 1 and 0, 60 steps.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from holostim.design import DesignTarget, Evaluator, design_mask, parse_design_model, wgs_mask

DEPTHS_UM = (-60.0, 0.0, 60.0)
CHECK_EVERY = 10
"""Steps between the checks of whether the design already beats WGS (both uniformity and efficiency)."""


def load() -> str:
    """The 1-minute load average (printed beside every row)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def model_text(n: int, sigma: float) -> str:
    """The realistic model of one case (the SLM fills the pupil: NA f / M = N pitch / 2)."""
    pitch = 9.2
    f = 200_000.0
    mag = 0.8 * f / (n * pitch / 2)
    return (f"slm: {{shape: [{n}, {n}], pitch_um: {pitch}, bits: 8, crosstalk_sigma_px: {sigma}, "
            f"fill_factor: 0.95, supersample: 2}}\n"
            f"illumination: {{waist_px: {0.4 * n:g}}}\n"
            f"optics: {{focal_length_um: {f}, magnification: {mag:.6g}, objective_na: 0.8, "
            f"medium_index: 1.33, defocus: high_na}}\n"
            "aberrations: {index: noll, coefficients_waves: {5: 0.05, 8: 0.03}}\n")


def spots(n: int, count: int, planes: int, seed: int = 0) -> DesignTarget:
    """``count`` seeded spots in the annulus 8..n/4 px around the zero order, >= 4 px apart."""
    rng = np.random.default_rng(seed)
    c = n // 2
    pts: list[np.ndarray] = []
    while len(pts) < count:
        p = np.round(rng.uniform(c - n / 4, c + n / 4, 2))
        r = float(np.hypot(*(p - c)))
        if r < 8 or r > n / 4 or any(np.hypot(*(p - q)) < 4 for q in pts):
            continue
        pts.append(p)
    xy = np.array(pts)
    z = None if planes == 1 else [DEPTHS_UM[i % 3] for i in range(count)]
    return DesignTarget.from_pixels(xy, (n, n), z=z)


def run_case(n: int, count: int, planes: int, sigma: float, iterations: int, wgs_iterations: int) -> dict:
    """One row: WGS and the gradient design of one target, both judged by the evaluator."""
    model = parse_design_model(model_text(n, sigma))
    target = spots(n, count, planes)
    judge = Evaluator(model, target)
    wgs, wgs_s = wgs_mask(model, target, wgs_iterations, seed=0)
    a = judge(wgs)
    beat: dict = {}
    judged = [0.0]  # seconds spent judging inside the loop: taken off the loop's clock

    def checkpoint(k: int, phase: np.ndarray, seconds: float) -> None:
        if beat or k % CHECK_EVERY:
            return
        t = time.perf_counter()
        m = judge(phase)
        if m.uniformity >= a.uniformity and m.efficiency >= a.efficiency:
            beat.update(step=k, seconds=seconds - judged[0])
        judged[0] += time.perf_counter() - t

    res = design_mask(model, target, init=wgs, iterations=iterations, seed=0, callback=checkpoint)
    b = judge(res.phase)
    opt_s = res.optimise_seconds - judged[0]
    return {"size": n, "spots": count, "planes": planes, "crosstalk_sigma_px": sigma,
            "wgs": {**a.as_dict(), "seconds": wgs_s, "iterations": wgs_iterations},
            "gradient": {**b.as_dict(), "seconds": wgs_s + res.compile_seconds + opt_s,
                         "compile_seconds": res.compile_seconds, "iterations": res.iterations,
                         "ms_per_step": 1e3 * opt_s / max(res.iterations, 1),
                         "beats_wgs_at_step": beat.get("step"),
                         "beats_wgs_seconds": (None if not beat else
                                               wgs_s + res.compile_seconds + beat["seconds"])},
            "load": load()}


def beats(g: dict) -> str:
    """When the design first beat WGS on both uniformity and efficiency (checked every 10 steps)."""
    if g["beats_wgs_at_step"] is None:
        return "not within the steps"
    return f"{g['beats_wgs_at_step']}, {g['beats_wgs_seconds']:.1f}"


def main(argv: list[str] | None = None) -> int:
    """Run the grid, print the table, save the JSON."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sizes", default="256")
    p.add_argument("--spots", default="20,100")
    p.add_argument("--planes", default="1,3")
    p.add_argument("--crosstalk", default="1.0,0.0")
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--wgs-iterations", type=int, default=30)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    counts = [int(s) for s in a.spots.split(",")]
    planes = [int(s) for s in a.planes.split(",")]
    sigmas = [float(s) for s in a.crosstalk.split(",")]
    iterations = a.iterations
    if a.quick:
        sizes, counts, iterations = [128], [20], 60
    rows = []
    print("| σ px | SLM | spots | planes | WGS unif | WGS eff | WGS s | grad unif | grad eff | grad s "
          "(compile) | beats WGS: step, s | ms/step | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    t0 = time.perf_counter()
    for sigma in sigmas:
        for n in sizes:
            for count in counts:
                for pl in planes:
                    r = run_case(n, count, pl, sigma, iterations, a.wgs_iterations)
                    rows.append(r)
                    w, g = r["wgs"], r["gradient"]
                    print(f"| {sigma:g} | {n}² | {count} | {pl} | {w['uniformity']:.3f} | "
                          f"{w['efficiency']:.3f} | {w['seconds']:.2f} | {g['uniformity']:.3f} | "
                          f"{g['efficiency']:.3f} | "
                          f"{g['seconds']:.1f} ({g['compile_seconds']:.1f}) | {beats(g)} | "
                          f"{g['ms_per_step']:.0f} | "
                          f"{r['load']} |", flush=True)
    print(f"\n{len(rows)} cases in {time.perf_counter() - t0:.0f} s; {iterations} Adam steps from the WGS "
          f"mask ({a.wgs_iterations} iterations); judged by the realistic model's numpy evaluator")
    out = Path(a.json) if a.json else (Path(__file__).parent / "results" /
                                       f"design-cpu-{datetime.date.today().isoformat()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"iterations": iterations, "wgs_iterations": a.wgs_iterations,
                               "cpus": os.cpu_count(), "rows": rows}, indent=1))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
