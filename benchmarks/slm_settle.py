"""How long the simulated far field takes to settle after a pattern change, with and without overdrive.

Usage::

    python benchmarks/slm_settle.py [--shape 512] [--tau-ms 10] [--json out.json]

For a few pattern changes (WGS spot patterns at 512², A → B), the simulated panel (first-order LC,
τ = 10 ms, 60 Hz, a linear panel that reaches 1.27·2π: ``two_pi_gray`` 200) is stepped in *simulated*
time (an injected clock, 0.5 ms steps); at each step the far field of the displayed phase gives the
efficiency and uniformity on B's spots. The table lists the time until both are within 1 % of their
final values (and stay there), for: plain, overdrive, and overdrive with phase-change reduction, next to
the settle wait the laser gate uses for each (``SLM.settle_time_s(3)``, the model's worst case).
The times are simulated, so they do not depend on the machine's load; the wall time of the run does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("HOLOSTIM_FFTW_EFFORT", "FFTW_ESTIMATE")

from holostim.hardware.slm import SimulatedSLM  # noqa: E402
from holostim.holography import HologramEngine, SpotTarget  # noqa: E402
from holostim.holography.metrics import evaluate  # noqa: E402

VARIANTS = {"plain": {}, "overdrive": {"overdrive": True},
            "overdrive+reduction": {"overdrive": True, "phase_change_reduction": True}}


class Clock:
    """The simulated time the panel runs on (seconds; the benchmark moves it)."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        """Now, in simulated seconds."""
        return self.t


def _spots(rng, n, shape):
    ny, nx = shape
    xy = np.stack([rng.integers(nx // 2 + 20, nx - 40, n), rng.integers(40, ny - 40, n)], axis=1)
    return SpotTarget.from_pixels(xy, shape=shape)


def settle_run(phase_a, phase_b, target, shape, tau_ms, variant, dt=5e-4, t_max=0.08):
    clk = Clock()
    slm = SimulatedSLM(shape, 9.2, 1.064, two_pi_gray=200, tau_ms=tau_ms, clock=clk, **VARIANTS[variant])
    slm.show_phase(phase_a)
    clk.t += 1.0
    rec = slm.show_phase(phase_b)
    ts = np.arange(0.0, t_max + dt / 2, dt)
    eff, uni = [], []
    for t in ts:
        u = np.exp(1j * slm.displayed_phase(rec.t_swapped + t).astype(np.float64))
        far = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(u)))
        m = evaluate(np.abs(far) ** 2, target)
        eff.append(m.efficiency)
        uni.append(m.uniformity)
    eff, uni = np.array(eff), np.array(uni)
    ok = (np.abs(eff - eff[-1]) <= 0.01 * eff[-1]) & (np.abs(uni - uni[-1]) <= 0.01 * uni[-1])
    bad = np.nonzero(~ok)[0]
    t_settle = ts[bad[-1] + 1] if bad.size else 0.0
    return {"t_settle_ms": 1e3 * float(t_settle), "gate_wait_ms": 1e3 * slm.settle_time_s(3.0),
            "final_efficiency": float(eff[-1]), "final_uniformity": float(uni[-1])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", type=int, default=512)
    p.add_argument("--tau-ms", type=float, default=10.0)
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    shape = (args.shape, args.shape)
    rng = np.random.default_rng(7)
    eng = HologramEngine(shape=shape, backend="numpy", precision="single")
    changes = [("10 spots -> 10 other spots", 10, 10), ("10 spots -> 50 spots", 10, 50),
               ("50 spots -> 50 other spots", 50, 50)]
    print(f"load {open('/proc/loadavg').read().split()[:3]}; simulated time, {args.tau_ms:g} ms τ, 60 Hz, "
          f"{shape[0]}², within 1 % of final efficiency and uniformity")
    print(f"{'change':<28} {'variant':<21} {'settle ms':>9} {'gate waits ms':>13} {'eff':>6} {'unif':>6}")
    rows = []
    t0 = time.perf_counter()
    for label, na, nb in changes:
        a, b = _spots(rng, na, shape), _spots(rng, nb, shape)
        pa = eng.compute(a, method="wgs", iterations=20).phase
        pb = eng.compute(b, method="wgs", iterations=20).phase
        for variant in VARIANTS:
            r = settle_run(pa, pb, b, shape, args.tau_ms, variant)
            rows.append({"change": label, "variant": variant, **r})
            print(f"{label:<28} {variant:<21} {r['t_settle_ms']:>9.1f} {r['gate_wait_ms']:>13.1f} "
                  f"{r['final_efficiency']:>6.3f} {r['final_uniformity']:>6.3f}")
    print(f"(wall {time.perf_counter() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
