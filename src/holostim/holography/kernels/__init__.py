"""Fused loop kernels of the phase retrieval: one pass over memory per step, per backend.

All work on the engine's buffers: complex 2-D arrays in FFT (unshifted) layout, and a real amplitude
``amp`` that is either a (1, 1) array (uniform source: one scalar, no memory traffic) or the full grid.
:class:`~.plain.PlainKernels` is the reference written with plain ``xp`` calls;
:class:`~.numba.NumbaKernels` (CPU) and :class:`~.cupy.CupyKernels` (GPU) do the same in one pass each and
are tested against it. The fast ones are imported only when asked for, so importing holostim does not
import numba or CuPy.
"""

from __future__ import annotations

import functools

from holostim.backend import Backend
from holostim.holography.kernels.plain import PlainKernels

__all__ = ["PlainKernels", "fast_kernels", "plain_kernels"]


@functools.cache
def _fast(gpu: bool):
    if gpu:
        from holostim.holography.kernels.cupy import CupyKernels

        return CupyKernels()
    from holostim.holography.kernels.numba import NumbaKernels

    return NumbaKernels()


def fast_kernels(backend: Backend):
    """The shared fused kernels for ``backend``: numba on the CPU, CUDA on the GPU (dtype-generic)."""
    return _fast(bool(backend.is_gpu))


def plain_kernels(backend: Backend) -> PlainKernels:
    """The plain array-code versions of :func:`fast_kernels` on ``backend``'s ``xp``."""
    return PlainKernels(backend.xp)
