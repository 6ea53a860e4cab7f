"""How many sets a build worker computes in one FFT stack (the spec's ``compute.batch``).

A batch never changes a mask (:mod:`holostim.holography.batch`: each set is byte for byte its single
compute), only how fast masks come; so ``batch`` is kept out of the library's fingerprint, and the
manifest records the B used and why (``manifest["batch"]``).

``auto`` is a rule on the CPU and a measurement on the GPU:

* CPU (numpy, FFTW): **B = 1**. ``benchmarks/library.py`` (2-core VM, load average 1.3-1.8,
  2026-12-02; 20 spots, WGS x10, one FFTW thread per process) measured no gain from stacking sets:
  B = 1, 2, 4, 8 gave 3.65/3.59/3.58/3.57 masks/s at 512² and 0.90/0.89/0.88/0.89 at 1024² in one
  process, and the same within 3 % in builds with 1 and 2 workers (B = 1 the fastest in every row). A
  transform this size is flop- and memory-bound and FFTW's stacked plan runs the same plan B times,
  while a stack costs B grids of memory.
* GPU (CuPy): :func:`~holostim.holography.batch.choose_batch` on the first few sets that run on the FFT
  loop: masks per second at B = 1, 2, 4, 8, 16 (as device memory allows), keeping only sizes whose
  results are byte-identical to the single compute on this device, fastest wins.

A number given in the spec is used as it is (and recorded as such). Sets that go to the direct sum (few
spots, 3-D) are computed one by one whatever B is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from holostim.holography.batch import BatchChoice, choose_batch
from holostim.holography.spot_algorithm import choose_spot_algorithm
from holostim.holography.targets import SpotTarget

__all__ = ["AUTO_CANDIDATES", "CPU_RULE", "PROBE_ITERATIONS", "PROBE_SETS", "resolve_batch", "set_target"]

AUTO_CANDIDATES = (1, 2, 4, 8, 16)
PROBE_SETS = 4
"""Sets the GPU measurement computes (cycled into each candidate stack)."""
PROBE_ITERATIONS = 10
"""Iterations per probe compute (fewer if the library runs fewer): enough to time, and any rounding
difference of a batched plan shows from the first transform."""
CPU_RULE = "rule: B = 1 on the CPU (benchmarks/library.py: no gain from a stack)"


def set_target(engine: Any, spots: np.ndarray, weights: np.ndarray) -> SpotTarget:
    """One set's target on the engine's grid: exactly what ``holostim compute`` makes of these spots."""
    return SpotTarget.from_pixels(spots, shape=engine.shape, weights=weights)


def resolve_batch(setting: Any, engine: Any, method: str, iterations: int, spots: list[np.ndarray],
                  weights: list[np.ndarray], seeds: list[int], chunk_sets: int | None = None) -> BatchChoice:
    """The B of a build: the spec's number, or ``auto`` (module docstring) measured on ``engine``.

    A stack never spans two chunks (one chunk is one task), so B is at most ``chunk_sets``.
    """
    most = int(chunk_sets) if chunk_sets is not None else max(AUTO_CANDIDATES)
    if setting != "auto":
        if int(setting) > most:
            return BatchChoice(most, f"spec asked {int(setting)}; a stack is at most one chunk "
                                     f"(chunk_sets {most})")
        return BatchChoice(int(setting), "spec")
    if not engine.backend.is_gpu:
        return BatchChoice(1, CPU_RULE)
    probes = []
    for xy, w in zip(spots, weights, strict=True):
        target = set_target(engine, xy, w)
        where = choose_spot_algorithm(engine.spot_algorithm, target, method, engine.shape, engine.padding)
        if where == "fft":
            probes.append(target)
            if len(probes) == PROBE_SETS:
                break
    candidates = [c for c in AUTO_CANDIDATES if c <= most] or [1]
    return choose_batch(engine, probes, method, min(max(int(iterations), 1), PROBE_ITERATIONS),
                        candidates, seed=int(seeds[0]) if seeds else 0)
