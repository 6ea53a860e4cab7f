"""The one seam between the math and the hardware it runs on.

Everything numerical in holostim asks a :class:`Backend` for its array module
(``xp``), its dtypes and its FFTs, so that switching CPU and GPU, or single and
double precision, is one word in the session (``engine.backend``,
``engine.precision``).  CuPy is chosen only when ``cupy.cuda.is_available()``
says a GPU is really there: ``cupy-cuda12x`` imports happily on machines without
one and then fails at the first allocation.

FFTs are planned once per shape and reused.  On the CPU the planned transform is
FFTW (pyFFTW) working in place on an aligned buffer; on the GPU it is a cuFFT
plan.  Pure functions that take arrays (the optics core) find their namespace
with :func:`array_namespace` instead, so they run unchanged on numpy, CuPy and
``array_api_strict``.
"""

from __future__ import annotations

import functools
import os
import pickle
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from array_api_compat import array_namespace as _compat_namespace

from holostim.errors import HolostimError

BACKENDS = ("auto", "numpy", "cupy")
PRECISIONS = ("single", "double")

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "Backend",
    "BackendError",
    "FFTPlan",
    "array_namespace",
    "get_backend",
    "gpu_available",
    "is_cupy_array",
    "to_numpy",
]


class BackendError(HolostimError, ValueError):
    """A backend or precision that is unknown or not usable on this machine."""


def array_namespace(*arrays: Any):
    """Return the array-API namespace of ``arrays`` (numpy, CuPy, array_api_strict, ...)."""
    return _compat_namespace(*arrays)


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


def _default_threads() -> int:
    env = os.environ.get("HOLOSTIM_THREADS")
    if env:
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


# ---------------------------------------------------------------------------------------------------------
# FFTW wisdom: planning with FFTW_MEASURE costs about a second per 1024² transform; the wisdom file makes
# that a one-time cost per machine.
_WISDOM_LOCK = threading.Lock()


def _wisdom_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "holostim" / "fftw-wisdom.pickle"


def _load_wisdom() -> None:
    import pyfftw

    try:
        with open(_wisdom_path(), "rb") as fh:
            pyfftw.import_wisdom(pickle.load(fh))
    except (OSError, ValueError, pickle.UnpicklingError, EOFError, TypeError):
        pass


def _save_wisdom() -> None:
    import pyfftw

    path = _wisdom_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(pyfftw.export_wisdom(), fh)
        os.replace(tmp, path)
    except OSError:
        pass


def _fftw_effort() -> str:
    effort = os.environ.get("HOLOSTIM_FFTW_EFFORT", "FFTW_MEASURE").upper()
    if not effort.startswith("FFTW_"):
        effort = "FFTW_" + effort
    allowed = ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")
    if effort not in allowed:
        raise BackendError(f"HOLOSTIM_FFTW_EFFORT={effort!r}; use one of {', '.join(allowed)}")
    return effort


class FFTPlan:
    """An unnormalised, in-place 2-D FFT over the last two axes of one preallocated buffer.

    ``plan.buffer`` is the array to fill; ``forward()`` and ``inverse()`` transform it in place
    (no ``1/N`` on either side: callers that need normalisation fold it into their own pass).
    """

    def __init__(self, backend: Backend, shape: tuple[int, ...]):
        self.shape = tuple(int(s) for s in shape)
        self.backend = backend
        self.size = int(np.prod(self.shape[-2:]))
        if backend.name == "numpy":
            import pyfftw

            self.buffer = pyfftw.empty_aligned(self.shape, dtype=backend.complex_dtype)
            self.buffer[...] = 0
            with _WISDOM_LOCK:
                _load_wisdom()
                flags = (_fftw_effort(), "FFTW_DESTROY_INPUT")
                kw = dict(axes=(-2, -1), flags=flags, threads=backend.threads)
                self._fwd = pyfftw.FFTW(self.buffer, self.buffer, direction="FFTW_FORWARD", **kw)
                self._inv = pyfftw.FFTW(self.buffer, self.buffer, direction="FFTW_BACKWARD", **kw)
                _save_wisdom()
        else:
            import cupy
            from cupyx.scipy import fft as cufft

            self.buffer = cupy.zeros(self.shape, dtype=backend.complex_dtype)
            self._plan = cufft.get_fft_plan(self.buffer, axes=(-2, -1), value_type="C2C")

    def forward(self):
        """FFT the buffer in place (unnormalised) and return it."""
        if self.backend.name == "numpy":
            self._fwd.execute()
        else:
            from cupy.cuda import cufft

            self._plan.fft(self.buffer, self.buffer, cufft.CUFFT_FORWARD)
        return self.buffer

    def inverse(self):
        """Inverse FFT the buffer in place, *without* the 1/N factor, and return it."""
        if self.backend.name == "numpy":
            self._inv.execute()
        else:
            from cupy.cuda import cufft

            self._plan.fft(self.buffer, self.buffer, cufft.CUFFT_INVERSE)
        return self.buffer


@dataclass(eq=False)
class Backend:
    """Array module, dtypes and planned FFTs for one (device, precision) choice.

    Create it with :func:`get_backend`; instances are cached, so two parts of the program that ask
    for the same words share plans.
    """

    name: str
    precision: str
    threads: int = field(default_factory=_default_threads)

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise BackendError(f"unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}")
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
        """The cached in-place plan (and its buffer) for ``shape``."""
        key = tuple(int(s) for s in shape)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = FFTPlan(self, key)
        return plan

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
    if precision not in PRECISIONS:
        raise BackendError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    name = _resolve_name(backend)
    with _CACHE_LOCK:
        key = (name, precision)
        if key not in _CACHE:
            _CACHE[key] = Backend(name, precision)
        return _CACHE[key]
