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
    "CupyKernels",
    "NumbaKernels",
    "PlainKernels",
    "array_module",
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
        """The cached in-place plan (and its buffer) for ``shape``.

        The buffer is shared by everyone asking for this shape; an object that keeps data in it across
        calls, or runs in its own thread, takes a private one with :meth:`new_fft_plan`.
        """
        key = tuple(int(s) for s in shape)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = FFTPlan(self, key)
        return plan

    def new_fft_plan(self, shape: tuple[int, ...]) -> FFTPlan:
        """A private in-place plan with its own buffer (FFTW wisdom makes re-planning cheap)."""
        return FFTPlan(self, tuple(int(s) for s in shape))

    @property
    def kernels(self):
        """The fused elementwise fast paths for this backend (numba on the CPU, CUDA on the GPU).

        Each has the same signature and meaning as :class:`PlainKernels`, which is the reference
        they are tested against.
        """
        k = getattr(self, "_kernels", None)
        if k is None:
            k = self._kernels = CupyKernels() if self.is_gpu else NumbaKernels()
        return k

    def plain_kernels(self) -> PlainKernels:
        """The plain array-code versions of :attr:`kernels` on this backend's ``xp``."""
        return PlainKernels(self.xp)

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


# ---------------------------------------------------------------------------------------------------------
# Fused elementwise kernels for the phase-retrieval loop.
#
# All work on the engine's buffers: complex 2-D arrays in FFT (unshifted) layout, and a real amplitude
# ``amp`` that is either a (1, 1) array (uniform source: one scalar, no memory traffic) or the full grid.
# ``PlainKernels`` is the reference written with plain ``xp`` calls; ``NumbaKernels`` (CPU) and
# ``CupyKernels`` (GPU) do the same in one pass over memory and are tested against it.


class PlainKernels:
    """Reference implementations with plain array calls (numpy, CuPy or any array-API namespace)."""

    name = "plain"

    def __init__(self, xp):
        self.xp = xp

    def _project(self, z, amp):
        xp = self.xp
        m = xp.abs(z)
        safe = xp.where(m > 0, m, xp.ones_like(m))
        a = amp.astype(m.dtype)
        return xp.where(m > 0, z * (a / safe), a + xp.zeros_like(z))

    def project_slm(self, buf, amp) -> None:
        """SLM-plane projection in place: keep the phase, impose ``amp`` (phase 0 where ``buf == 0``)."""
        buf[...] = self._project(buf, amp)

    def project_slm_into(self, src, dst, amp) -> None:
        """``dst = amp * src / |src|`` (the projection of ``src``, written elsewhere)."""
        dst[...] = self._project(src, amp)

    def raar_start(self, x, buf, amp) -> None:
        """``buf = R_M x = 2 P_M x - x``: what the first RAAR Fourier projection acts on."""
        buf[...] = 2 * self._project(x, amp) - x

    def raar_update(self, x, buf, amp, beta: float) -> None:
        """One RAAR update after the Fourier projection, fused with the next reflection.

        On entry ``buf = P_F(R_M x)``. Sets ``x <- beta x + beta buf + (1 - 2 beta) P_M x`` and then
        ``buf <- 2 P_M x - x`` for the next iteration.
        """
        b = float(beta)
        xn = b * x + b * buf + (1 - 2 * b) * self._project(x, amp)
        x[...] = xn
        buf[...] = 2 * self._project(xn, amp) - xn

    def extract_phase(self, buf, out, center: tuple[int, int]) -> None:
        """Phase of the centred ``out.shape`` window of ``buf`` (FFT layout), wrapped to [0, 2π).

        ``out[y, x] = angle(buf[(y - cy) % Ny, (x - cx) % Nx])``: undoes the ``ifftshift`` of the
        engine's layout and crops away any computational padding in one step.
        """
        xp = self.xp
        ny, nx = out.shape
        big_y, big_x = buf.shape
        cy, cx = center
        iy = (xp.arange(ny) - cy) % big_y
        ix = (xp.arange(nx) - cx) % big_x
        win = xp.take(xp.take(buf, iy, axis=0), ix, axis=1)
        atan2 = xp.atan2 if hasattr(xp, "atan2") else xp.arctan2
        ph = atan2(xp.imag(win), xp.real(win))
        ph = ph.astype(out.dtype)
        two_pi = xp.asarray(2 * np.pi, dtype=out.dtype)
        ph = xp.where(ph < 0, ph + two_pi, ph)
        out[...] = xp.where(ph >= two_pi, xp.zeros_like(ph), ph)

    def dark_excess(self, buf, scale, eps: float):
        """``sum(max(0, |buf|² scale - eps)) / eps`` over the whole array (a 0-d array or float).

        The full-grid part of the tolerance error: every pixel brighter than the absolute tolerance
        ``eps`` (after scaling by ``scale``) adds its excess in units of ``eps``.
        """
        xp = self.xp
        inten = (xp.real(buf) ** 2 + xp.imag(buf) ** 2).astype(xp.float64) * scale
        return xp.sum(xp.maximum(inten - eps, 0.0)) / eps


# The numba kernels are written as plain functions and compiled on first use, so that importing the
# backend (which every module does) does not import numba.
#
# They are deliberately *serial* (``parallel=False``, ``nogil=True``). Measured on the 2-core machine at
# 1024²: a serial pass costs 0.3-0.6 ms against 5 ms for the two FFTs, which FFTW already spreads over the
# cores. Numba's parallel layers cost more than that: with OpenMP the idle worker threads spin after each
# kernel and steal the cores from the FFTW threads that run next (a WGS iteration took 15 ms instead of
# 6.4 ms); the workqueue layer does not spin but aborts the process when two threads launch parallel kernels
# at once (the engine thread and the SLM thread do). Serial kernels without the GIL have neither problem,
# and two engines (two SLMs) can run them concurrently.


def _nb_onto(z, a):
    # The SLM-plane projection of one value: amplitude a, phase of z (phase 0 where z is exactly 0).
    m2 = z.real * z.real + z.imag * z.imag
    return z * (a / np.sqrt(m2)) if m2 > 0 else z * 0 + a


def _nb_project_slm(buf, amp):
    ny, nx = buf.shape
    if amp.shape[0] == 1:  # uniform source: one amplitude, no per-pixel branch on the shape
        a = amp[0, 0]
        for r in range(ny):
            for c in range(nx):
                buf[r, c] = _nb_onto(buf[r, c], a)
    else:
        for r in range(ny):
            for c in range(nx):
                buf[r, c] = _nb_onto(buf[r, c], amp[r, c])


def _nb_project_slm_into(src, dst, amp):
    ny, nx = src.shape
    full = amp.shape[0] != 1
    for r in range(ny):
        for c in range(nx):
            dst[r, c] = _nb_onto(src[r, c], amp[r, c] if full else amp[0, 0])


def _nb_raar_start(x, buf, amp):
    ny, nx = x.shape
    full = amp.shape[0] != 1
    for r in range(ny):
        for c in range(nx):
            z = x[r, c]
            buf[r, c] = 2 * _nb_onto(z, amp[r, c] if full else amp[0, 0]) - z


def _nb_raar_update(x, buf, amp, beta):
    ny, nx = x.shape
    full = amp.shape[0] != 1
    one = beta * 0 + 1
    for r in range(ny):
        for c in range(nx):
            a = amp[r, c] if full else amp[0, 0]
            z = x[r, c]
            xn = beta * z + beta * buf[r, c] + (one - 2 * beta) * _nb_onto(z, a)
            x[r, c] = xn
            buf[r, c] = 2 * _nb_onto(xn, a) - xn


def _nb_extract_phase(buf, out, cy, cx, two_pi):
    ny, nx = out.shape
    big_y, big_x = buf.shape
    bx0 = (-cx) % big_x  # output column x reads buffer column (x - cx) % big_x: two contiguous runs
    n1 = min(nx, big_x - bx0)
    for y in range(ny):
        by = (y - cy) % big_y
        for x in range(nx):
            z = buf[by, x + bx0] if x < n1 else buf[by, x + bx0 - big_x]
            p = np.arctan2(z.imag, z.real)
            if p < 0:
                p += two_pi
            if p >= two_pi:
                p = two_pi * 0
            out[y, x] = p


def _nb_phase_run32(src, out):
    # out[i] = atan2(src[i]) wrapped to [0, 2π), float32. atan from an odd minimax
    # polynomial on [0, 1] plus octant folding: max error 2e-6 rad (4 float32 ulp at 2π, 1e-4 of an 8-bit
    # gray level), and unlike libm's atan2f it vectorises (1.3 ms instead of 30 ms per 1024² frame, measured
    # here). A separate function so that each run is one simple loop the compiler can vectorise.
    zero = np.float32(0.0)
    pi = np.float32(np.pi)
    half_pi = np.float32(np.pi / 2)
    two_pi = np.float32(2 * np.pi)
    c0, c1, c2 = np.float32(0.99997726), np.float32(-0.33262347), np.float32(0.19354346)
    c3, c4, c5 = np.float32(-0.11643287), np.float32(0.05265332), np.float32(-0.01172120)
    for i in range(out.shape[0]):
        z = src[i]
        re = z.real
        im = z.imag
        ax = abs(re)
        ay = abs(im)
        mx = max(ax, ay)
        a = min(ax, ay) / mx if mx > 0 else zero
        s = a * a
        r = a * (c0 + s * (c1 + s * (c2 + s * (c3 + s * (c4 + s * c5)))))
        if ay > ax:
            r = half_pi - r
        if re < 0:
            r = pi - r
        if im < 0:
            r = two_pi - r
        if r >= two_pi:
            r = zero
        out[i] = r


def _nb_extract_phase32(buf, out, cy, cx, two_pi):
    ny, nx = out.shape
    big_y, big_x = buf.shape
    bx0 = (-cx) % big_x  # output column x reads buffer column (x - cx) % big_x: two contiguous runs
    n1 = min(nx, big_x - bx0)
    for y in range(ny):
        src = buf[(y - cy) % big_y]
        _nb_phase_run32(src[bx0 : bx0 + n1], out[y, :n1])
        _nb_phase_run32(src[: nx - n1], out[y, n1:])


def _nb_dark_excess(buf, scale, eps):
    ny, nx = buf.shape
    total = 0.0
    for r in range(ny):
        row = 0.0
        for c in range(nx):
            z = buf[r, c]
            v = (z.real * z.real + z.imag * z.imag) * scale - eps
            if v > 0:
                row += v
        total += row
    return total / eps


def _nb_fourier_step(flat, idx, t, w, step, phase, g, a, mode, fresh):
    # The Fourier-plane projection on the lit pixels, fused (see NumbaKernels.fourier_step).
    n = idx.shape[0]
    tiny = np.float32(1.1754944e-38)
    sa = 0.0
    for i in range(n):
        z = flat[idx[i]]
        g[i] = z
        a[i] = max(np.sqrt(z.real * z.real + z.imag * z.imag), tiny) / t[i]
        sa += a[i]
    if mode != 0:
        ma = sa / n
        sw = 0.0
        for i in range(n):
            f = ma / max(a[i], 1e-3 * ma)
            s = 1.0 if f > 1 else (-1.0 if f < 1 else 0.0)
            if s * step[1, i] < 0:
                step[0, i] = 0.8 * step[0, i]
            else:
                step[0, i] = min(2.0 * step[0, i], 1.0)
            step[1, i] = s
            w[i] = w[i] * f ** step[0, i]
            sw += w[i]
        mw = sw / n
        for i in range(n):
            w[i] = w[i] / mw
    flat[:] = 0
    for i in range(n):
        z = g[i]
        m = np.sqrt(z.real * z.real + z.imag * z.imag)
        u = z / m if m > 0 else z * 0 + 1
        if mode == 2:
            if fresh:
                phase[i] = u
            u = phase[i]
        amp = w[i] * t[i] if mode != 0 else t[i]
        flat[idx[i]] = amp * u


_NUMBA_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _numba_compiled() -> dict:
    import numba

    with _NUMBA_LOCK:
        jit = numba.njit(fastmath=True, cache=True, nogil=True)
        globals()["_nb_phase_run32"] = jit(_nb_phase_run32)  # called by _nb_extract_phase32
        globals()["_nb_onto"] = jit(_nb_onto)  # called by the projection kernels (inlined by LLVM)
        return {
            "project_slm": jit(_nb_project_slm),
            "project_slm_into": jit(_nb_project_slm_into),
            "raar_start": jit(_nb_raar_start),
            "raar_update": jit(_nb_raar_update),
            "extract_phase": jit(_nb_extract_phase),
            "extract_phase32": jit(_nb_extract_phase32),
            "dark_excess": jit(_nb_dark_excess),
            "fourier_step": jit(_nb_fourier_step),
        }


class NumbaKernels:
    """CPU fast paths: numba-compiled, one pass over memory each, GIL released (see :class:`PlainKernels`).

    Compiled on first use and cached on disk (``cache=True``), so only the first run on a machine pays
    the compile time.
    """

    name = "numba"

    def __init__(self):
        self._k = _numba_compiled()

    def project_slm(self, buf, amp) -> None:  # noqa: D102 - same meaning as PlainKernels
        self._k["project_slm"](buf, amp)

    def project_slm_into(self, src, dst, amp) -> None:  # noqa: D102
        self._k["project_slm_into"](src, dst, amp)

    def raar_start(self, x, buf, amp) -> None:  # noqa: D102
        self._k["raar_start"](x, buf, amp)

    def raar_update(self, x, buf, amp, beta: float) -> None:  # noqa: D102
        self._k["raar_update"](x, buf, amp, amp.dtype.type(beta))

    def extract_phase(self, buf, out, center: tuple[int, int]) -> None:  # noqa: D102
        name = "extract_phase32" if out.dtype == np.float32 else "extract_phase"
        self._k[name](buf, out, int(center[0]), int(center[1]), out.dtype.type(2 * np.pi))

    def dark_excess(self, buf, scale, eps: float):  # noqa: D102
        return self._k["dark_excess"](buf, float(scale), float(eps))

    def fourier_step(self, flat, idx, t, w, step, phase, g, a, mode: int, fresh: bool) -> None:
        """The Fourier-plane projection on the lit pixels in one call (GS/RAAR, WGS, Kim's WGS).

        ``flat`` is the far field (flat view of the buffer); on return it is zero except on the lit pixels
        ``idx``, which hold ``amp * g / |g|`` with ``amp = t`` (``mode`` 0: GS, RAAR) or ``w * t`` after the
        weight update ``w <- w * f ** gamma``, ``f = mean(a) / max(a, 1e-3 mean(a))``, ``a = |g| / t``, ``w``
        kept at mean 1; ``step`` (2, n) holds each spot's exponent ``gamma`` (start 1) and the sign of its
        last correction: ``gamma`` is multiplied by 0.8 when the sign flips, else doubles up to 1
        (``mode`` 1: WGS; 2: Kim's WGS, whose unit phasors are stored in ``phase`` while ``fresh`` and
        used from there otherwise). A zero far field counts as phase 0. ``g`` and ``a`` are scratch
        vectors. The same math as :func:`holostim.holography.algorithms.fourier_update` with plain
        array calls, which it is tested against.
        """
        self._k["fourier_step"](flat, idx, t, w, step, phase, g, a, int(mode), bool(fresh))


class CupyKernels(PlainKernels):
    """GPU fast paths: ``cupy.ElementwiseKernel``/``ReductionKernel``s, one launch each, no host sync.

    ``extract_phase`` (once per compute, not in the loop) is inherited from the plain version.
    """

    name = "cupy"

    def __init__(self):
        import cupy

        super().__init__(cupy)
        # In-place kernels take the buffer as an input *and* pass the same array as the output: CuPy requires
        # outputs to have the broadcast shape of the inputs (the amplitude may be a (1, 1) scalar array), and
        # does not copy an input that *is* the output.
        proj = "R m = abs(z); T q = (m > 0) ? z * (a / m) : T(a, 0);"
        self._project = cupy.ElementwiseKernel(
            "T z, R a", "T dst", proj + " dst = q;", "holostim_project_slm"
        )
        self._raar_start = cupy.ElementwiseKernel(
            "T z, R a", "T buf", proj + " buf = (R)2 * q - z;", "holostim_raar_start"
        )
        self._raar_update = cupy.ElementwiseKernel(
            "T xin, T bin, R a, R beta",
            "T x, T buf",
            """
            T z = xin;
            R m = abs(z);
            T q = (m > 0) ? z * (a / m) : T(a, 0);
            T xn = beta * z + beta * bin + ((R)1 - (R)2 * beta) * q;
            R mn = abs(xn);
            T qn = (mn > 0) ? xn * (a / mn) : T(a, 0);
            x = xn;
            buf = (R)2 * qn - xn;
            """,
            "holostim_raar_update",
        )
        self._dark = cupy.ReductionKernel(
            "T z, float64 scale, float64 eps",
            "float64 out",
            "fmax(((double)z.real() * z.real() + (double)z.imag() * z.imag()) * scale - eps, 0.0)",
            "a + b",
            "out = a",
            "0",
            "holostim_dark_excess",
        )

        self._gather = cupy.ElementwiseKernel(
            "raw T buf, int64 idx, R t",
            "T g, R a",
            "g = buf[idx]; a = max(abs(g), (R)1.17549435e-38) / t;",
            "holostim_fourier_gather",
        )
        self._scatter = cupy.ElementwiseKernel(
            "T g, R a, R t, raw R mean_a, int64 idx, int32 mode, bool fresh",
            "R w, R gam, R sgn, T u, raw T buf",
            """
            R m = abs(g);
            T ph = (m > 0) ? g / m : T(1, 0);
            R amp = t;
            if (mode != 0) {
                R ma = mean_a[0];
                R f = ma / max(a, (R)1e-3 * ma);
                R s = (f > (R)1) ? (R)1 : ((f < (R)1) ? (R)-1 : (R)0);
                gam = (s * sgn < (R)0) ? (R)0.8 * gam : min((R)2 * gam, (R)1);
                sgn = s;
                w = w * pow(f, gam);
                amp = w * t;
            }
            if (mode == 2) {
                if (fresh) u = ph;
                ph = u;
            }
            buf[idx] = amp * ph;
            """,
            "holostim_fourier_scatter",
        )

    def fourier_step(self, flat, idx, t, w, step, phase, g, a, mode: int, fresh: bool) -> None:
        """Same as :meth:`NumbaKernels.fourier_step` in four launches, no sync.

        The weights are not renormalised to mean 1 on the GPU (that would be two more launches): the
        projections are scale-free, so the phases are the same; the engine normalises when it keeps them.
        """
        self._gather(flat, idx, t, g, a)
        mean_a = a.mean().reshape(1)
        flat.fill(0)
        self._scatter(g, a, t, mean_a, idx, np.int32(mode), bool(fresh), w, step[0], step[1], phase, flat)

    def project_slm(self, buf, amp) -> None:  # noqa: D102 - same meaning as PlainKernels
        self._project(buf, amp, buf)

    def project_slm_into(self, src, dst, amp) -> None:  # noqa: D102
        self._project(src, amp, dst)

    def raar_start(self, x, buf, amp) -> None:  # noqa: D102
        self._raar_start(x, amp, buf)

    def raar_update(self, x, buf, amp, beta: float) -> None:  # noqa: D102
        self._raar_update(x, buf, amp, amp.dtype.type(beta), x, buf)

    def dark_excess(self, buf, scale, eps: float):  # noqa: D102
        return self._dark(buf, self.xp.asarray(scale, dtype=self.xp.float64), float(eps)) / eps
