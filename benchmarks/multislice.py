"""Multislice timings: ms per slice through a random tissue-like volume, against its FFT floor.

Each slice is one thin screen ``exp(i k0 dz Δn)`` (a complex exponential over the grid) and one
angular-spectrum step (pad, FFT, kernel multiply, inverse FFT, crop; the kernel is cached after the
first slice). The floor is two bare ``scipy.fft`` transforms of the padded grid, same thread count.
Printed for ``pad=1`` (a laterally periodic sample) and ``pad=2`` (the default: light leaving the
window is dropped, 4x the FFT area), in single and double precision.

Run: ``python benchmarks/multislice.py [--sizes 256 512 1024] [--slices 20] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import scipy.fft
from timing import interleaved_best_ms

from holostim.optics import gaussian_beam, multislice, random_volume
from holostim.optics import propagation as prop


def measure(n: int, precision: str, slices: int, repeat: int) -> dict:
    """Milliseconds per slice for each configuration at ``n``² in ``precision``."""
    cdt, rdt = (np.complex64, np.float32) if precision == "single" else (np.complex128, np.float64)
    f = gaussian_beam((n, n), 0.5, 0.92, n * 0.5 / 8, n=1.36, dtype=cdt)
    vol = random_volume((slices, n, n), 0.5, 1.0, 0.01, 1.0, seed=0, dtype=rdt)
    w = prop._WORKERS
    ops = {}
    for pad in (1, 2):
        a = np.ones((n * pad, n * pad), dtype=cdt)

        def two_fft(a=a):  # one slice's floor, repeated like the slices
            for _ in range(slices):
                scipy.fft.ifft2(scipy.fft.fft2(a, workers=w), workers=w, overwrite_x=True)

        ops[f"fft{pad}"] = two_fft
        ops[f"ms{pad}"] = lambda pad=pad: multislice(f, vol, 1.0, pad=pad, band_limit=pad > 1)
    return {k: v / slices for k, v in interleaved_best_ms(ops, repeat).items()}


def run(sizes: list[int], slices: int, repeat: int) -> None:
    print(f"multislice benchmark: numpy {np.__version__}, scipy.fft workers={prop._WORKERS}, "
          f"cpus={os.cpu_count()}, {slices} slices, best of {repeat} (interleaved)")
    print(f"{'size':>6} {'prec':>6} | {'pad=1 /slice':>12} {'2 FFT':>8} {'ratio':>6} | "
          f"{'pad=2 /slice':>12} {'2 FFT':>8} {'ratio':>6}")
    for n in sizes:
        for precision in ("single", "double"):
            t = measure(n, precision, slices, repeat)
            print(f"{n:>5}² {precision:>6} | {t['ms1']:>10.2f}ms {t['fft1']:>6.2f}ms "
                  f"{t['ms1'] / t['fft1']:>6.2f} | {t['ms2']:>10.2f}ms {t['fft2']:>6.2f}ms "
                  f"{t['ms2'] / t['fft2']:>6.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--slices", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    run(args.sizes, args.slices, args.repeat)
