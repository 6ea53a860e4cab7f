"""GPU fast paths: the CUDA kernels of ``cuda/loop.cu``, launched with explicit grids, no host sync.

Each method has the meaning of the method of the same name in
:class:`~holostim.holography.kernels.plain.PlainKernels` (``extract_phase``, once per compute and not in
the loop, is inherited from it); ``loop.cu`` writes, next to each kernel, the plain expression it fuses.
The kernels are C++ templates over the real type, compiled by CuPy's NVRTC for float and double; CI
compiles the same file with ``nvcc`` (no GPU needed) and checks that every name launched here exists
there. The WGS weight rule inside them is :func:`holostim.holography.methods.wgs_spot_update`, tested
against the Python rule on the CPU. CuPy itself is imported when the kernels are first launched.

Nothing launched here allocates device memory inside the iteration loop (``dark_excess``, used only for
metrics, allocates its partial sums): the loop can be captured into a CUDA graph (:mod:`..cuda_graph`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from holostim.backend.cuda_source import CudaModule, blocks_for, defines
from holostim.holography.kernels.plain import PlainKernels

__all__ = ["LOOP_SOURCE", "CupyKernels"]

LOOP_SOURCE = Path(__file__).with_name("cuda") / "loop.cu"
_MODULE = CudaModule(LOOP_SOURCE)
_DEFS = defines(_MODULE.source)
SPOT_THREADS = int(_DEFS["HOLOSTIM_SPOT_THREADS"])
REDUCE_THREADS = int(_DEFS["HOLOSTIM_REDUCE_THREADS"])
REDUCE_MAX_BLOCKS = 1024


def _i32(v) -> np.int32:
    return np.int32(v)


def _i64(v) -> np.int64:
    return np.int64(v)


def _check_spot_arrays(flat, idx, t, w, step, phase, g, a) -> None:
    """The raw kernels read memory as the types they are written for: refuse anything else (no guessing)."""
    real = w.dtype
    cplx = np.dtype(np.complex64 if real == np.float32 else np.complex128)
    bad = [name for name, arr, dt in (("flat", flat, cplx), ("idx", idx, np.int64), ("t", t, real),
                                      ("step", step, real), ("phase", phase, cplx), ("g", g, cplx),
                                      ("a", a, real))
           if arr.dtype != dt or not arr.flags.c_contiguous]
    if bad:
        raise TypeError(f"fourier_step: {', '.join(bad)} not C-contiguous of the weights' precision ({real})")


class CupyKernels(PlainKernels):
    """GPU fast paths (see the module docstring)."""

    name = "cupy"

    def __init__(self):
        import cupy

        super().__init__(cupy)

    def preload(self, dtype) -> None:
        """Load every kernel of ``dtype`` now (a CUDA-graph capture must not load modules)."""
        for name in sorted(_MODULE.names):
            _MODULE.kernel(name, dtype)

    def fourier_step(self, flat, idx, t, w, step, phase, g, a, mode: int, fresh: bool) -> None:
        """As :meth:`~holostim.holography.kernels.numba.NumbaKernels.fourier_step`: two kernels, one memset.

        ``holostim_fourier_spots`` (one block) gathers the lit pixels, updates the WGS weights and keeps
        them at mean 1, exactly as the CPU path does; the buffer is zeroed; ``holostim_fourier_scatter``
        writes the projection back on the lit pixels.
        """
        n = int(idx.shape[0])
        _check_spot_arrays(flat, idx, t, w, step, phase, g, a)
        args = (flat, idx, t, w, step, g, a, _i32(n), _i32(mode))
        _MODULE.launch("holostim_fourier_spots", w.dtype, args, blocks=1, block=SPOT_THREADS)
        flat.fill(0)
        args = (flat, idx, t, w, phase, g, _i32(n), _i32(mode), _i32(bool(fresh)))
        _MODULE.launch("holostim_fourier_scatter", w.dtype, args, n)

    def project_slm(self, buf, amp) -> None:  # noqa: D102 - same meaning as PlainKernels
        self.project_slm_into(buf, buf, amp)

    def project_slm_into(self, src, dst, amp) -> None:  # noqa: D102
        args = (src, dst, amp, _i32(amp.size != 1), _i64(src.size))
        _MODULE.launch("holostim_project_slm", amp.dtype, args, src.size)

    def raar_start(self, x, buf, amp) -> None:  # noqa: D102
        args = (x, buf, amp, _i32(amp.size != 1), _i64(x.size))
        _MODULE.launch("holostim_raar_start", amp.dtype, args, x.size)

    def raar_update(self, x, buf, amp, beta: float) -> None:  # noqa: D102
        args = (x, buf, amp, _i32(amp.size != 1), amp.dtype.type(beta), _i64(x.size))
        _MODULE.launch("holostim_raar_update", amp.dtype, args, x.size)

    def dark_excess(self, buf, scale, eps: float):  # noqa: D102
        xp = self.xp
        blocks = min(REDUCE_MAX_BLOCKS, blocks_for(buf.size, REDUCE_THREADS))
        partial = xp.empty(blocks, dtype=xp.float64)
        scale_d = xp.asarray(scale, dtype=xp.float64).reshape(1)
        real = np.dtype(np.float32 if buf.dtype == np.complex64 else np.float64)
        args = (buf, scale_d, np.float64(eps), partial, _i64(buf.size))
        _MODULE.launch("holostim_dark_excess", real, args, blocks=blocks, block=REDUCE_THREADS)
        return partial.sum() / eps
