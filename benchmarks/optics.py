"""Optics-core timings: propagate (ASM, cached kernel) and fourier_lens vs two bare FFTs.

Prints ms per call for 512², 1024², 2048² in single and double precision, and the ratio to two
bare FFTs of the same size (the floor for any FFT-based propagator: one forward, one inverse).
Baselines: scipy.fft (the library the numpy fast path uses, same thread count) and, for reference,
the backend's planned in-place FFTW transform.  ASM is timed with ``pad=1`` (same FFT size as the
baseline) and ``check=False`` (the band-limit power check costs one extra reduction); padded and
checked timings are printed alongside.  Target: cached ASM within 1.3x two FFTs.

Run: ``python benchmarks/optics.py [--sizes 512 1024 2048] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import scipy.fft
from timing import interleaved_best_ms

from holostim.backend import get_backend
from holostim.optics import fourier_lens, gaussian_beam, propagate
from holostim.optics import propagation as prop


def measure(n: int, precision: str, repeat: int) -> dict:
    """Best-of-``repeat`` ms for each operation at ``n``² in ``precision``."""
    workers = prop._WORKERS
    dt = np.complex64 if precision == "single" else np.complex128
    f = gaussian_beam((n, n), 0.5, 1.04, n * 0.5 / 8, dtype=dt)
    a = f.u.copy()

    def two_fft():
        scipy.fft.ifft2(scipy.fft.fft2(a, workers=workers), workers=workers, overwrite_x=True)

    plan = get_backend("numpy", precision).fft_plan((n, n))
    plan.buffer[...] = a

    def two_fftw():
        plan.forward()
        plan.inverse()

    return interleaved_best_ms({
        "fft": two_fft,
        "fftw": two_fftw,
        "asm": lambda: propagate(f, 50.0, "asm", pad=1, check=False),
        "asm_check": lambda: propagate(f, 50.0, "asm", pad=1, check=True),
        "asm_pad2": lambda: propagate(f, 50.0, "asm", pad=2, check=False),
        "lens": lambda: fourier_lens(f, 5000.0),
    }, repeat)


def run(sizes: list[int], repeat: int) -> None:
    print(f"optics benchmark: numpy {np.__version__}, scipy.fft workers={prop._WORKERS}, "
          f"cpus={os.cpu_count()}")
    print(f"{'size':>6} {'prec':>6} {'2 FFT scipy':>12} {'2 FFT fftw':>11} {'ASM':>8} {'ratio':>6} "
          f"{'ASM chk':>8} {'ASM pad2':>9} {'f_lens':>8} {'ratio':>6}")
    for n in sizes:
        for precision in ("single", "double"):
            t = measure(n, precision, repeat)
            print(f"{n:>5}² {precision:>6} {t['fft']:>10.1f}ms {t['fftw']:>9.1f}ms {t['asm']:>6.1f}ms "
                  f"{t['asm'] / t['fft']:>6.2f} {t['asm_check']:>6.1f}ms {t['asm_pad2']:>7.1f}ms "
                  f"{t['lens']:>6.1f}ms {t['lens'] / t['fft']:>6.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    run(args.sizes, args.repeat)
