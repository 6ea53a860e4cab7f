"""Peak memory and time to build a transfer kernel (and to propagate once) at large grids.

The kernels are built in float64 and cast to the field's precision; this measures what that costs
in host memory (tracemalloc sees numpy's allocations). Usage::

    python benchmarks/kernel_memory.py [--sizes 2048 4096] [--json out.json]

``--module PATH`` measures another copy of ``holostim/optics/propagation.py`` (e.g. an older commit's,
written out with ``git show``) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
import tracemalloc

import numpy as np


def _load(path: str | None):
    if path is None:
        from holostim.optics import propagation

        return propagation
    spec = importlib.util.spec_from_file_location("propagation_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _measure(fn) -> tuple[float, float]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del out
    return peak / 2**20, dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096])
    ap.add_argument("--module", default=None, help="path of a propagation.py to measure instead")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    prop = _load(args.module)
    from holostim.optics import Field

    rows = []
    print(f"kernel memory: numpy {np.__version__}, load {open('/proc/loadavg').read().split()[:3]}, "
          f"module {args.module or 'holostim.optics.propagation'}")
    print(f"{'what':34s} {'N':>6s} {'dtype':>10s} {'peak MiB':>9s} {'output MiB':>10s} {'s':>6s}")
    for n in args.sizes:
        for dtype in (np.complex64, np.complex128):
            like = np.zeros((1, 1), dtype=dtype)
            out_mib = n * n * np.dtype(dtype).itemsize / 2**20
            for method, z in (("asm", 50.0), ("fresnel-tf", 50.0)):
                prop.clear_kernel_cache()
                peak, dt = _measure(lambda m=method, z=z, n=n, like=like: prop.transfer_function(
                    (n, n), (0.5, 0.5), 1.04, z, method=m, like=like))
                rows.append(dict(what=f"transfer_function {method}", n=n, dtype=np.dtype(dtype).name,
                                 peak_mib=peak, output_mib=out_mib, seconds=dt))
                print(f"{'transfer_function ' + method:34s} {n:6d} {np.dtype(dtype).name:>10s} {peak:9.0f} "
                      f"{out_mib:10.0f} {dt:6.2f}")
            prop.clear_kernel_cache()
            half = n // 2
            u = np.ones((half, half), dtype=dtype)
            f = Field(u, 0.5, 1.04)
            peak, dt = _measure(lambda f=f: prop.propagate(f, 50.0, "asm", pad=2.0, check=False))
            rows.append(dict(what="propagate asm pad=2 (kernel N²)", n=n, dtype=np.dtype(dtype).name,
                             peak_mib=peak, output_mib=out_mib, seconds=dt))
            print(f"{'propagate asm pad=2 (field N/2)':34s} {n:6d} {np.dtype(dtype).name:>10s} {peak:9.0f} "
                  f"{out_mib:10.0f} {dt:6.2f}")
            prop.clear_kernel_cache()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"load": os.getloadavg(), "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
