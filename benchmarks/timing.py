"""Timing shared by the optics benchmarks (``optics.py``, ``vectorial.py``, ``multislice.py``).

Run as scripts, the benchmarks find this module beside them (a script's folder is first on
``sys.path``).
"""

from __future__ import annotations

import time


def interleaved_best_ms(ops: dict, repeat: int) -> dict:
    """Best-of-``repeat`` ms per operation, timing the operations in turn within each round.

    Interleaving means a burst of load from other processes hits all operations alike, so the ratios
    stay meaningful on a shared machine.
    """
    for fn in ops.values():
        fn()  # warm-up: kernel cache, FFT plans, allocations
    best = {k: float("inf") for k in ops}
    for _ in range(repeat):
        for k, fn in ops.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return {k: 1e3 * v for k, v in best.items()}
