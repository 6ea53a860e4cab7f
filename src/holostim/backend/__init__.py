"""The one seam between the math and the hardware it runs on.

Code asks a :class:`Backend` (from :func:`get_backend`) for its array module ``xp``, its dtypes and its
planned FFTs, so switching CPU and GPU, or single and double precision, is one word in the session.
Pure functions over arrays find their namespace with :func:`array_namespace` instead.

* :mod:`.namespace` -- which library an array belongs to, and the way back to the host;
* :mod:`.backend` -- the (device, precision) object, threads, whether a GPU is usable;
* :mod:`.fft` -- in-place planned FFTs (FFTW with its wisdom cache, cuFFT) and the plain reference.

The fused loop kernels of the phase retrieval live with the algorithms they fuse
(:mod:`holostim.holography.kernels`).
"""

from __future__ import annotations

from holostim.backend.backend import BACKENDS, PRECISIONS, Backend, BackendError, get_backend, gpu_available
from holostim.backend.fft import FFTPlan, PlainFFT
from holostim.backend.namespace import (
    array_module,
    array_namespace,
    is_cupy_array,
    is_traced,
    place,
    to_numpy,
)

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "Backend",
    "BackendError",
    "FFTPlan",
    "PlainFFT",
    "array_module",
    "array_namespace",
    "get_backend",
    "gpu_available",
    "is_cupy_array",
    "is_traced",
    "place",
    "to_numpy",
]
