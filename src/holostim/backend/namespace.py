"""Which array library an array belongs to, and the way back to the host.

Pure functions that take arrays (the optics core, the metrics) find their namespace here instead of
asking a :class:`~holostim.backend.Backend`, so they run unchanged on numpy, CuPy and
``array_api_strict``. Nothing here imports CuPy: a CuPy array is recognised by its type's module, so
these helpers cost nothing on a machine without a GPU.

JAX arrays are immutable and, inside ``jax.jit``/``grad``/``vmap``, abstract: :func:`is_traced` tells
code when a value has no concrete entries to check (a NaN scan, a cache key, a warning about a
number), and :func:`place` writes a window of an array functionally there and in place elsewhere, so
the optics core has one code path for every namespace. Neither imports JAX: a program that never
loaded it never pays for it.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from array_api_compat import array_namespace as _compat_namespace

__all__ = ["array_module", "array_namespace", "is_cupy_array", "is_traced", "place", "to_numpy"]


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


def is_traced(*values: Any) -> bool:
    """True if any of ``values`` is a JAX tracer (inside ``jit``, ``grad`` or ``vmap``).

    A traced value has a shape and dtype but no entries: code must not branch on it, convert it to a
    Python number, validate it or cache what is built from it. Concrete JAX arrays are not traced.
    """
    jax = sys.modules.get("jax")
    if jax is None:
        return False
    tracer = jax.core.Tracer
    return any(isinstance(v, tracer) for v in values)


def _is_jax_array(a: Any) -> bool:
    return type(a).__module__.startswith("jax") and hasattr(a, "at")


def place(out: Any, index: Any, value: Any) -> Any:
    """``out`` with ``out[index] = value``: in place on mutable arrays, ``out.at[index].set`` on JAX.

    Returns the result; callers must use it (on JAX it is a new array, ``out`` is unchanged).
    """
    if _is_jax_array(out):
        return out.at[index].set(value)
    out[index] = value
    return out
