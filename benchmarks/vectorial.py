"""Vectorial (Richards–Wolf) focusing timings: vectorial_focus and debye_focus vs bare FFTs.

Prints ms per call for FFT sizes 256² and 512² (a pupil of half the size, zero-padded, so the focal
pitch is half the unpadded one), single and double precision, one plane and a stack of 8 planes.
The floor for the vectorial model is three FFTs of the FFT size per plane (Ex, Ey, Ez), for the
scalar Debye model one; an x–z section by rows (``vectorial_focus_xz``) is timed against the same
section cut from whole planes. The pupil factors (aperture, apodisation, rotation) are cached after the
first call, as the warm-up does here.

Run: ``python benchmarks/vectorial.py [--sizes 256 512] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import scipy.fft
from timing import interleaved_best_ms

from holostim.optics import debye_focus, gaussian_beam, vectorial_focus, vectorial_focus_xz
from holostim.optics import propagation as prop


def measure(m: int, precision: str, repeat: int) -> dict:
    """Best-of-``repeat`` ms for each operation at an FFT size of ``m``² in ``precision``."""
    dt = np.complex64 if precision == "single" else np.complex128
    n = m // 2
    pupil = gaussian_beam((n, n), 10.0, 0.92, n * 10.0 / 3, dtype=dt)
    a = np.zeros((3, m, m), dtype=dt)
    zs = np.linspace(-5.0, 5.0, 8)
    kw = dict(na=1.0, n_medium=1.33, focal_shape=(m, m))
    ops = {
        "3 FFTs": lambda: scipy.fft.fft2(a, workers=prop._WORKERS),
        "vectorial x": lambda: vectorial_focus(pupil, polarization="x", **kw),
        "vectorial radial": lambda: vectorial_focus(pupil, polarization="radial", **kw),
        "scalar Debye": lambda: debye_focus(pupil, 1.0, 1.33, focal_shape=(m, m)),
        "vectorial x, 8 z": lambda: vectorial_focus(pupil, polarization="x", z=zs, **kw),
        "x-z, 8 z (planes)": lambda: vectorial_focus(pupil, polarization="x", z=zs, **kw).xz(),
        "x-z, 8 z (rows)": lambda: vectorial_focus_xz(pupil, 1.0, 1.33, "x", z=zs, focal_width=m),
    }
    return interleaved_best_ms(ops, repeat)


def main(sizes: list[int], repeat: int) -> None:
    """Print the table."""
    print(f"vectorial focusing, ms per call (best of {repeat}), {prop._WORKERS} FFT threads, "
          f"{os.cpu_count()} CPUs; pupil N/2 zero-padded to N")
    rows = [(m, p, measure(m, p, repeat)) for m in sizes for p in ("single", "double")]
    names = list(rows[0][2])
    print(f"{'N':>5} {'precision':>9} " + " ".join(f"{k:>18}" for k in names))
    for m, p, r in rows:
        print(f"{m:>5} {p:>9} " + " ".join(f"{r[k]:>18.2f}" for k in names))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    main(args.sizes, args.repeat)
