"""One (device, precision) choice: the array module, its dtypes and its planned FFTs.

Everything numerical in holostim asks a :class:`Backend` for its array module (``xp``), its dtypes and
its FFTs, so that switching CPU and GPU, or single and double precision, is one word in the session
(``engine.backend``, ``engine.precision``). CuPy is chosen only when ``cupy.cuda.is_available()`` says a
GPU is really there: ``cupy-cuda12x`` imports happily on machines without one and then fails at the
first allocation.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from holostim.backend.errors import BackendError
from holostim.backend.namespace import to_numpy

if TYPE_CHECKING:
    from holostim.backend.fft import FFTPlan

__all__ = ["BACKENDS", "PRECISIONS", "Backend", "BackendError", "get_backend", "gpu_available"]

BACKENDS = ("auto", "numpy", "cupy")
PRECISIONS = ("single", "double")


@functools.lru_cache(maxsize=1)
def gpu_available() -> bool:
    """Whether CuPy is importable *and* sees a usable CUDA device."""
    try:
        import cupy
    except Exception:  # ImportError, or a broken CUDA install raising at import
        return False
    try:
        return bool(cupy.cuda.is_available())
    except Exception:
        return False


def _resolve_name(backend: str) -> str:
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "cupy" if gpu_available() else "numpy"
    if backend == "cupy" and not gpu_available():
        raise BackendError(
            "backend 'cupy' was asked for but no CUDA GPU is usable here "
            "(CuPy missing or cupy.cuda.is_available() is False); "
            "install the gpu extra on a machine with a GPU, or use backend 'numpy' or 'auto'"
        )
    return backend


def _check_precision(precision: Any) -> None:
    if precision not in PRECISIONS:
        raise BackendError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")


def default_threads() -> int:
    """FFT threads: ``HOLOSTIM_THREADS`` if set, else the cores this process may run on."""
    env = os.environ.get("HOLOSTIM_THREADS")
    if env:
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


@dataclass(eq=False)
class Backend:
    """Array module, dtypes and planned FFTs for one (device, precision) choice.

    Create it with :func:`get_backend`; instances are cached, so two parts of the program that ask
    for the same words share plans.
    """

    name: str
    precision: str
    threads: int = field(default_factory=default_threads)

    def __post_init__(self):
        _check_precision(self.precision)
        if self.name == "numpy":
            self.xp = np
        else:
            import cupy

            self.xp = cupy
        single = self.precision == "single"
        self.real_dtype = np.dtype(np.float32 if single else np.float64)
        self.complex_dtype = np.dtype(np.complex64 if single else np.complex128)
        self._plans: dict[tuple[int, ...], FFTPlan] = {}

    @property
    def is_gpu(self) -> bool:
        """True when arrays live on a CUDA device."""
        return self.name == "cupy"

    def fft_plan(self, shape: tuple[int, ...]) -> FFTPlan:
        """The cached in-place plan (and its buffer) for ``shape``.

        The buffer is shared by everyone asking for this shape; an object that keeps data in it across
        calls, or runs in its own thread, takes a private one with :meth:`new_fft_plan`.
        """
        key = tuple(int(s) for s in shape)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self.new_fft_plan(key)
        return plan

    def new_fft_plan(self, shape: tuple[int, ...]) -> FFTPlan:
        """A private in-place plan with its own buffer (FFTW wisdom makes re-planning cheap)."""
        # imported here: the plans import this module (for BackendError), and pyFFTW/cuFFT load lazily
        from holostim.backend.fft import planned_fft

        return planned_fft(self, tuple(int(s) for s in shape))

    def asarray(self, a: Any, dtype: Any = None):
        """Move ``a`` onto this backend's device (a no-op for arrays already there)."""
        return self.xp.asarray(a, dtype=dtype)

    def to_numpy(self, a: Any) -> np.ndarray:
        """Bring ``a`` back to the host."""
        return to_numpy(a)

    def synchronize(self) -> None:
        """Wait for queued GPU work (no-op on the CPU); only for timing and hand-over points."""
        if self.is_gpu:
            self.xp.cuda.get_current_stream().synchronize()

    def describe(self) -> str:
        """One line for status bars and logs, e.g. ``numpy/single (FFTW, 2 threads)``."""
        if self.is_gpu:
            dev = self.xp.cuda.Device()
            props = self.xp.cuda.runtime.getDeviceProperties(dev.id)
            gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            return f"cupy/{self.precision} ({gpu})"
        return f"numpy/{self.precision} (FFTW, {self.threads} threads)"


_CACHE: dict[tuple[str, str], Backend] = {}
_CACHE_LOCK = threading.Lock()


def get_backend(backend: str | Backend = "auto", precision: str = "single") -> Backend:
    """Return the shared :class:`Backend` for ``backend`` (``auto|numpy|cupy``) and ``precision``.

    ``auto`` picks CuPy only where a CUDA GPU is usable, else numpy. Asking for ``cupy`` where none is
    usable raises :class:`BackendError` saying so.
    """
    if isinstance(backend, Backend):
        return backend
    _check_precision(precision)
    name = _resolve_name(backend)
    with _CACHE_LOCK:
        key = (name, precision)
        if key not in _CACHE:
            _CACHE[key] = Backend(name, precision)
        return _CACHE[key]
