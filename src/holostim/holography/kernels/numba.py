"""CPU fast paths: numba-compiled loop kernels, one pass over memory each, GIL released.

Each has the meaning of the method of the same name in
:class:`~holostim.holography.kernels.plain.PlainKernels` and is tested against it. Compiled on first
call and cached on disk (``cache=True``), so only the first run on a machine pays the compile time; this
module is imported only when an engine asks for fast kernels.

The kernels are deliberately *serial* (``parallel=False``, ``nogil=True``). Measured on the 2-core machine
at 1024²: a serial pass costs 0.3-0.6 ms against 5 ms for the two FFTs, which FFTW already spreads over the
cores. Numba's parallel layers cost more than that: with OpenMP the idle worker threads spin after each
kernel and steal the cores from the FFTW threads that run next (a WGS iteration took 15 ms instead of
6.4 ms); the workqueue layer does not spin but aborts the process when two threads launch parallel kernels
at once (the engine thread and the SLM thread do). Serial kernels without the GIL have neither problem, and
two engines (two SLMs) can run them concurrently.
"""

from __future__ import annotations

import numba
import numpy as np

from holostim import numba_cache_dir
from holostim.holography.methods import KIM_STEP, TINY, WGS_STEP, kim_phase, wgs_spot_update

__all__ = ["NumbaKernels"]

if not numba.config.CACHE_DIR:  # numba was imported before holostim: cache in the user's folder anyway
    numba.config.CACHE_DIR = numba_cache_dir()

_jit = numba.njit(fastmath=True, cache=True, nogil=True)

# the per-spot rules of the methods, compiled as they are written there (one definition for every path)
_wgs_spot_update = _jit(wgs_spot_update)
_kim_phase = _jit(kim_phase)


@_jit
def _onto(z, a):
    # The SLM-plane projection of one value: amplitude a, phase of z (phase 0 where z is exactly 0).
    m2 = z.real * z.real + z.imag * z.imag
    return z * (a / np.sqrt(m2)) if m2 > 0 else z * 0 + a


@_jit
def _project_slm(buf, amp):
    ny, nx = buf.shape
    if amp.shape[0] == 1:  # uniform source: one amplitude, no per-pixel branch on the shape
        a = amp[0, 0]
        for r in range(ny):
            for c in range(nx):
                buf[r, c] = _onto(buf[r, c], a)
    else:
        for r in range(ny):
            for c in range(nx):
                buf[r, c] = _onto(buf[r, c], amp[r, c])


@_jit
def _project_slm_into(src, dst, amp):
    ny, nx = src.shape
    full = amp.shape[0] != 1
    for r in range(ny):
        for c in range(nx):
            dst[r, c] = _onto(src[r, c], amp[r, c] if full else amp[0, 0])


@_jit
def _raar_start(x, buf, amp):
    ny, nx = x.shape
    full = amp.shape[0] != 1
    for r in range(ny):
        for c in range(nx):
            z = x[r, c]
            buf[r, c] = 2 * _onto(z, amp[r, c] if full else amp[0, 0]) - z


@_jit
def _raar_update(x, buf, amp, beta):
    ny, nx = x.shape
    full = amp.shape[0] != 1
    one = beta * 0 + 1
    for r in range(ny):
        for c in range(nx):
            a = amp[r, c] if full else amp[0, 0]
            z = x[r, c]
            xn = beta * z + beta * buf[r, c] + (one - 2 * beta) * _onto(z, a)
            x[r, c] = xn
            buf[r, c] = 2 * _onto(xn, a) - xn


@_jit
def _extract_phase(buf, out, cy, cx, two_pi):
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


@_jit
def _phase_run32(src, out):
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


@_jit
def _extract_phase32(buf, out, cy, cx, two_pi):
    ny, nx = out.shape
    big_y, big_x = buf.shape
    bx0 = (-cx) % big_x  # output column x reads buffer column (x - cx) % big_x: two contiguous runs
    n1 = min(nx, big_x - bx0)
    for y in range(ny):
        src = buf[(y - cy) % big_y]
        _phase_run32(src[bx0 : bx0 + n1], out[y, :n1])
        _phase_run32(src[: nx - n1], out[y, n1:])


@_jit
def _dark_excess(buf, scale, eps):
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


@_jit
def _fourier_step(flat, idx, t, w, step, phase, g, a, mode, fresh):
    # The Fourier-plane projection on the lit pixels, fused (see NumbaKernels.fourier_step).
    n = idx.shape[0]
    tiny = np.float32(TINY)
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
            _wgs_spot_update(a, ma, w, step, i)
            sw += w[i]
        mw = sw / n
        for i in range(n):
            w[i] = w[i] / mw
    flat[:] = 0
    for i in range(n):
        z = g[i]
        m = np.sqrt(z.real * z.real + z.imag * z.imag)
        u = z / m if m > 0 else z * 0 + 1
        if mode == KIM_STEP:
            phase[i] = _kim_phase(u, phase[i], fresh)
            u = phase[i]
        amp = w[i] * t[i] if mode >= WGS_STEP else t[i]
        flat[idx[i]] = amp * u


class NumbaKernels:
    """CPU fast paths (see the module docstring and :class:`~.plain.PlainKernels`)."""

    name = "numba"

    def project_slm(self, buf, amp) -> None:  # noqa: D102 - same meaning as PlainKernels
        _project_slm(buf, amp)

    def project_slm_into(self, src, dst, amp) -> None:  # noqa: D102
        _project_slm_into(src, dst, amp)

    def raar_start(self, x, buf, amp) -> None:  # noqa: D102
        _raar_start(x, buf, amp)

    def raar_update(self, x, buf, amp, beta: float) -> None:  # noqa: D102
        _raar_update(x, buf, amp, amp.dtype.type(beta))

    def extract_phase(self, buf, out, center: tuple[int, int]) -> None:  # noqa: D102
        kernel = _extract_phase32 if out.dtype == np.float32 else _extract_phase
        kernel(buf, out, int(center[0]), int(center[1]), out.dtype.type(2 * np.pi))

    def dark_excess(self, buf, scale, eps: float):  # noqa: D102
        return _dark_excess(buf, float(scale), float(eps))

    def fourier_step(self, flat, idx, t, w, step, phase, g, a, mode: int, fresh: bool) -> None:
        """The Fourier-plane projection on the lit pixels in one call (GS/RAAR, WGS, Kim's WGS).

        ``flat`` is the far field (flat view of the buffer); on return it is zero except on the lit pixels
        ``idx``, which hold ``amp * g / |g|`` with ``amp = t`` (``mode`` GS_STEP: GS, RAAR) or ``w * t``
        after :func:`~holostim.holography.methods.wgs_spot_update` on each spot with ``a = |g| / t``,
        ``w`` kept at mean 1; ``step`` (2, n) holds each spot's exponent (start 1) and last sign (mode
        WGS_STEP; KIM_STEP adds Kim's unit phasors, stored in ``phase`` while ``fresh`` and used from there
        otherwise). A zero far field counts as phase 0. ``g`` and ``a`` are scratch vectors. The same
        math as :func:`~holostim.holography.methods.fourier_projection`, which it is tested against.
        """
        _fourier_step(flat, idx, t, w, step, phase, g, a, int(mode), bool(fresh))
