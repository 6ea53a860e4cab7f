"""Phase → gray kernels: the fused per-pixel pass on the CPU (numba) and the GPU (CuPy), and their reference.

Per pixel, in one pass over memory::

    t     = (phase + correction) * G / 2π     # G = gray levels per 2π at the working wavelength
    t     = t mod G                           # wrap to [0, 2π) (in gray units)
    level = floor(t + 0.5)                    # nearest level; a level >= G is 2π ≡ 0
    gray  = table[level]                      # identity for ``two_pi_gray``; the vendor LUT otherwise

A NaN or inf phase becomes level 0 and is counted, so the caller can refuse the whole frame rather than
show a frame with holes.  :func:`phase_to_gray_reference` is the plain-numpy float64 version that the
fast paths are tested against.

Thread policy: the conversion is short and memory-bound, so it runs serially on small machines (see
:func:`kernel_threads`), and kernel launches are serialised process-wide (numba's "workqueue" threading
layer aborts the process when two threads launch parallel kernels at once).
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

import numba
import numpy as np

from holostim import numba_cache_dir
from holostim.backend.cuda_source import CudaModule

__all__ = ["kernel_threads", "phase_to_gray_cpu", "phase_to_gray_cupy", "phase_to_gray_reference", "warm_up"]

if not numba.config.CACHE_DIR:  # numba was imported before holostim: cache in the user's folder anyway
    numba.config.CACHE_DIR = numba_cache_dir()


@numba.njit(inline="always")
def _level(t: float, period: float) -> int:
    t = t - period * math.floor(t / period)
    if t >= 0.0 and t <= period:
        return int(t + 0.5)
    return -1  # NaN or inf


@numba.njit(parallel=True, cache=True, nogil=True)
def _to_gray_corr(phase, corr, scale, period, table, out):  # pragma: no cover - numba compiled
    ny, nx = phase.shape
    bad = 0
    for i in numba.prange(ny):
        for j in range(nx):
            k = _level((phase[i, j] + corr[i, j]) * scale, period)
            if k < 0:
                bad += 1
                k = 0
            out[i, j] = table[k]
    return bad


@numba.njit(parallel=True, cache=True, nogil=True)
def _to_gray(phase, scale, period, table, out):  # pragma: no cover - numba compiled
    ny, nx = phase.shape
    bad = 0
    for i in numba.prange(ny):
        for j in range(nx):
            k = _level(phase[i, j] * scale, period)
            if k < 0:
                bad += 1
                k = 0
            out[i, j] = table[k]
    return bad


_WARM = threading.Lock()
_warmed = False
# numba's "workqueue" threading layer (used where neither OpenMP nor TBB is available) aborts the process
# when two threads launch parallel kernels at once; the SLM's conversions are serialised (they take a
# few ms, and frames are shown one at a time anyway).
_KERNEL_LOCK = threading.Lock()


def kernel_threads() -> int:
    """Threads for the phase→gray kernel: ``HOLOSTIM_SLM_THREADS``, else up to 4 on machines with ≥ 4 cores.

    The conversion is memory-bound and short; on a 2-core machine that also runs the GUI, the camera
    and the engine, a parallel region waits for a descheduled worker (a whole scheduler slice, ~20 ms
    measured under load) while one thread takes a steady few ms, so small machines run it serially.
    """
    env = os.environ.get("HOLOSTIM_SLM_THREADS")
    if env:
        return max(1, min(int(env), numba.config.NUMBA_NUM_THREADS))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(4, cores, numba.config.NUMBA_NUM_THREADS) if cores >= 4 else 1


def warm_up() -> None:
    """Compile (or load from numba's cache) the float32 kernels once, so the first frame is not late."""
    global _warmed
    with _WARM:
        if _warmed:
            return
        ph = np.zeros((2, 2), np.float32)
        out = np.empty((2, 2), np.uint8)
        table = np.zeros(2, np.uint8)
        _to_gray(ph, 1.0, 1.0, table, out)
        _to_gray_corr(ph, ph, 1.0, 1.0, table, out)
        _warmed = True


def phase_to_gray_cpu(
    phase: np.ndarray,
    corr: np.ndarray | None,
    scale: float,
    period: float,
    table: np.ndarray,
    out: np.ndarray,
    threads: int,
) -> int:
    """Fill ``out`` (the table's uint8/uint16) from a C-contiguous float ``phase`` (+ ``corr``).

    Returns the count of non-finite phases.
    """
    with _KERNEL_LOCK:
        before = numba.get_num_threads()  # a per-thread setting: restore it for other numba code
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
        try:
            if corr is None:
                return int(_to_gray(phase, scale, period, table, out))
            return int(_to_gray_corr(phase, corr, scale, period, table, out))
        finally:
            numba.set_num_threads(before)


GRAY_SOURCE = Path(__file__).with_name("cuda") / "gray.cu"
_GRAY_MODULE = CudaModule(GRAY_SOURCE)


def phase_to_gray_cupy(
    phase: Any, corr: Any | None, table: Any, scale: float, period: float
) -> tuple[Any, int]:
    """The CuPy frame (uint8; uint16 for a 16-bit table) of a float ``phase`` (+ ``corr``), and its bad count.

    One launch of ``holostim_phase_to_gray`` or ``holostim_phase_to_gray16`` (``cuda/gray.cu``: the steps
    of the module docstring), which also counts the non-finite pixels, as the CPU kernels do; reading that
    count is the one host sync.
    """
    import cupy

    if phase.dtype not in (cupy.float32, cupy.float64):  # the kernel has float and double versions
        phase = phase.astype(cupy.float32)
    phase = cupy.ascontiguousarray(phase)
    deep = table.dtype == cupy.uint16  # a 10/12-bit panel: 16-bit words
    gray = cupy.empty(phase.shape, dtype=cupy.uint16 if deep else cupy.uint8)
    bad = cupy.zeros(1, dtype=cupy.uint64)
    has_corr = corr is not None
    c = cupy.ascontiguousarray(corr, dtype=phase.dtype) if has_corr else phase
    args = (phase, c, np.int32(has_corr), table, np.float64(scale), np.float64(period),
            np.int32(len(table) - 1), gray, bad, np.int64(phase.size))
    if deep:
        _GRAY_MODULE.launch("holostim_phase_to_gray16", phase.dtype, args, phase.size)
    else:
        _GRAY_MODULE.launch("holostim_phase_to_gray", phase.dtype, args, phase.size)
    return gray, int(bad.get()[0])


def phase_to_gray_reference(phase: np.ndarray, scale: float, period: float, table: np.ndarray) -> np.ndarray:
    """Plain-numpy version of the fused kernel (float64 throughout); the fast paths are tested against it."""
    t = np.asarray(phase, dtype=np.float64) * scale
    t = t - period * np.floor(t / period)
    k = np.floor(t + 0.5).astype(np.int64)
    k[~np.isfinite(t)] = 0
    return np.asarray(table)[np.clip(k, 0, len(table) - 1)]
