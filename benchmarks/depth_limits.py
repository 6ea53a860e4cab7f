"""Depth and zero-order planning benchmark: the costs the GUI pays on the way to a refusal's reason.

Usage::

    python benchmarks/depth_limits.py [--repeats 5]

Prints a table:

* ``DefocusModel.max_depth_um`` (the SLM's defocus range, computed once per session and cached) for
  SLM shapes from 512² to 1152 × 1920, both defocus models;
* ``plan_field_shift`` (zero-order avoidance, run on the GUI thread when a click is refused for the
  zero order) for 1 to 100 spots crowded around the zero order, the case with the most candidates.

Both run on a refusal or a session open, never per frame; a few tens of ms is the budget.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from holostim.holography.defocus import DefocusModel
from holostim.zero_order import plan_field_shift

OPTICS = dict(wavelength_um=1.04, focal_length_um=200_000.0, magnification=50.0, pitch_um=9.2,
              objective_na=0.8, medium_index=1.33)


def _ms(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(1e3 * (time.perf_counter() - t))
    return statistics.median(out)


def main() -> None:  # noqa: D103
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for model in ("paraxial", "high_na"):
        m = DefocusModel(model, **OPTICS)
        for shape in ((512, 512), (1024, 1024), (1152, 1920)):
            ms = _ms(lambda m=m, shape=shape: m.max_depth_um(shape), args.repeats)
            rows.append((f"max_depth_um {model}", f"{shape[0]}×{shape[1]}",
                         f"±{m.max_depth_um(shape):.0f} µm", ms))
    rng = np.random.default_rng(0)
    zero = np.array([256.0, 256.0])
    for n in (1, 10, 30, 100):
        spots = zero + rng.normal(0, 40, (n, 2))
        spots[0] = zero + (1.0, -2.0)  # one in the exclusion
        d = plan_field_shift(spots, zero, 8.0, (0, 0), (511, 511))
        ms = _ms(lambda spots=spots: plan_field_shift(spots, zero, 8.0, (0, 0), (511, 511)), args.repeats)
        rows.append(("plan_field_shift", f"{n} spots", "none" if d is None else f"|D| {np.hypot(*d):.2f} px",
                     ms))
    w = max(len(r[0]) for r in rows)
    print(f"{'what':<{w}}  {'size':>12}  {'result':>14}  {'median ms':>9}")
    for what, size, result, ms in rows:
        print(f"{what:<{w}}  {size:>12}  {result:>14}  {ms:9.2f}")


if __name__ == "__main__":
    main()
