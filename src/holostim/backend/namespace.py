"""Which array library an array belongs to, and the way back to the host.

Pure functions that take arrays (the optics core, the metrics) find their namespace here instead of
asking a :class:`~holostim.backend.Backend`, so they run unchanged on numpy, CuPy and
``array_api_strict``. Nothing here imports CuPy: a CuPy array is recognised by its type's module, so
these helpers cost nothing on a machine without a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace as _compat_namespace

__all__ = ["array_module", "array_namespace", "is_cupy_array", "to_numpy"]


def array_namespace(*arrays: Any):
    """Return the array-API namespace of ``arrays`` (numpy, CuPy, array_api_strict, ...)."""
    return _compat_namespace(*arrays)


def array_module(*arrays: Any):
    """``cupy`` if any of ``arrays`` is a CuPy array, else ``numpy`` (like ``cupy.get_array_module``).

    For code that runs on exactly these two and uses their conveniences (Python scalars in ``where``,
    in-place operators) that the strict array API leaves out.
    """
    for a in arrays:
        if is_cupy_array(a):
            import cupy

            return cupy
    return np


def is_cupy_array(a: Any) -> bool:
    """True for a CuPy array, without importing CuPy."""
    return type(a).__module__.startswith("cupy")


def to_numpy(a: Any) -> np.ndarray:
    """Bring any supported array to the host as a numpy array (one transfer for CuPy)."""
    if isinstance(a, np.ndarray):
        return a
    if is_cupy_array(a):
        return a.get()
    return np.asarray(a)
