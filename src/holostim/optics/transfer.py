"""Free-space transfer kernels, written once for every array namespace.

Each builder computes a block of rows of its kernel (FFT order: index 0 is the zero frequency) in
float64 with whatever namespace ``xp`` it is given:

* concrete parameters: numpy on the host, one block of rows at a time (:func:`host_kernel`), each block
  cast into the output's precision as soon as it is made; a 4096² single-precision kernel then needs
  its 128 MiB of output plus a few MiB of float64 scratch, instead of a dozen full-size float64 and
  complex128 temporaries (the transfer function's phase ``kz z`` is where float64 matters: ``kz z``
  reaches 10⁴ rad and float32 would lose the phase's fraction);
* traced parameters (``jax.grad`` in ``z`` or the wavelength, ``jax.vmap`` over them): the same
  builder on the field's namespace over all rows at once, so the kernel is differentiable.

Square roots at the evanescent edge use the "double where" (``sqrt(where(ok, a, 1))``): the plain
``sqrt(where(ok, a, 0))`` has an infinite derivative at 0, and 0 · inf poisons a gradient with NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from holostim.backend import is_traced

__all__ = ["EVANESCENT", "asm_rows", "build", "fresnel_ir_rows", "fresnel_tf_rows", "host_kernel", "inv_wl"]

#: What the angular spectrum does with evanescent waves (spatial frequencies beyond n/λ).
EVANESCENT = ("drop", "decay")

#: Float64 scratch per block of rows in :func:`host_kernel` (bytes of one full-size temporary).
BLOCK_BYTES = 4 << 20


def _cis(phase: Any, xp: Any) -> Any:
    """``exp(i phase)`` for a real float64 phase, on any namespace."""
    return xp.exp(1j * xp.astype(phase, xp.complex128))


def _sqrt_where(ok: Any, a: Any, xp: Any) -> Any:
    """``sqrt(a)`` where ``ok`` else 0, with a finite derivative everywhere."""
    return xp.where(ok, xp.sqrt(xp.where(ok, a, xp.ones_like(a))), xp.zeros_like(a))


def asm_rows(xp: Any, fy: Any, fx: Any, inv_wl: Any, z: Any, window: tuple[float, float], *,
             band_limit: bool = True, evanescent: str = "drop") -> tuple[Any, Any]:
    """Rows of the angular-spectrum kernel and, with the band limit, the propagating waves it cuts.

    ``fy`` (rows, 1) and ``fx`` (1, nx) are frequencies in cycles/µm, ``inv_wl`` is ``n/λ`` (a scalar or
    ``(..., 1, 1)``), ``window`` the FFT window ``(Ly, Lx)`` in µm. Propagating waves get
    ``exp(i 2π z sqrt(1/λ² - f²))``; evanescent ones are dropped (``"drop"``) or attenuated by
    ``exp(-κ |z|)``, ``κ = 2π sqrt(f² - 1/λ²)`` (``"decay"``: they decay in both directions, so backward
    propagation stays bounded and ``z = 0`` returns the input). The band limit (Matsushima &
    Shimobaba 2009) zeroes the propagating waves whose sampled chirp would alias on the window.
    """
    arg = inv_wl**2 - (fx**2 + fy**2)
    prop = arg > 0
    kz = 2 * math.pi * _sqrt_where(prop, arg, xp)
    h = _cis(kz * z, xp)
    if band_limit:
        ly, lx = window
        uy_lim = inv_wl / xp.sqrt((2 * z / ly) ** 2 + 1)
        ux_lim = inv_wl / xp.sqrt((2 * z / lx) ** 2 + 1)
        band = (xp.abs(fx) <= ux_lim) & (xp.abs(fy) <= uy_lim)
        keep = prop & band
        cut = prop & ~band
    else:
        keep, cut = prop, None
    zero = xp.zeros_like(h)
    if evanescent == "decay":
        kappa = 2 * math.pi * _sqrt_where(arg < 0, -arg, xp)  # at arg = 0 exactly: κ = 0, a finite slope
        h = xp.where(keep, h, xp.where(prop, zero, xp.astype(xp.exp(-kappa * xp.abs(z)), h.dtype)))
    else:
        h = xp.where(keep, h, zero)
    return h, cut


def fresnel_tf_rows(xp: Any, fy: Any, fx: Any, inv_wl: Any, z: Any) -> Any:
    """Rows of the paraxial (Fresnel) transfer function ``exp(ikz) exp(-iπ λ z f²)``."""
    k = 2 * math.pi * inv_wl
    return _cis(k * z, xp) * _cis(-math.pi * z * (fx**2 + fy**2) / inv_wl, xp)


def fresnel_ir_rows(xp: Any, y: Any, x: Any, inv_wl: Any, z: Any) -> Any:
    """Rows of the Fresnel impulse response ``exp(ikz)/(iλz) exp(ik r²/(2z))`` (before its FFT)."""
    k = 2 * math.pi * inv_wl
    return (_cis(k * z, xp) * _cis(k / (2 * z) * (x**2 + y**2), xp)) * (inv_wl / (1j * z))


def fft_order_coordinates(n: int, d: float, xp: Any = np) -> Any:
    """Positions ``fftfreq(n) · n d`` (index 0 is the origin), float64, on ``xp``."""
    return xp.astype(xp.fft.fftfreq(int(n)), xp.float64) * (int(n) * d)


def host_kernel(rows_fn: Any, ny: int, nx: int, lead: tuple[int, ...], dtype: Any,
                want_cut: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Assemble a numpy kernel of shape ``lead + (ny, nx)`` from ``rows_fn(r0, r1) -> (h, cut)`` blocks.

    Each block is computed in float64/complex128 and written straight into the ``dtype`` output, so
    the float64 working set is one block, not the whole grid.
    """
    out = np.empty(tuple(lead) + (ny, nx), dtype=dtype)
    cut_all = np.zeros(tuple(lead) + (ny, nx), dtype=bool) if want_cut else None
    per_row = nx * max(1, int(np.prod(lead))) * 16
    step = max(1, BLOCK_BYTES // per_row)
    for r0 in range(0, ny, step):
        r1 = min(ny, r0 + step)
        h, cut = rows_fn(r0, r1)
        out[..., r0:r1, :] = h
        if cut_all is not None and cut is not None:
            cut_all[..., r0:r1, :] = cut
    return out, cut_all


def inv_wl(wavelength: Any, n: float) -> Any:
    """``n / λ`` shaped ``(..., 1, 1)`` to broadcast against a kernel (a traced scalar stays a scalar)."""
    if is_traced(wavelength):
        return n / wavelength
    wl = np.asarray(wavelength, dtype=np.float64) / n
    return 1.0 / wl.reshape(wl.shape + (1, 1))


def build(method: str, shape: tuple[int, int], spacing: tuple[float, float], inv_wl: Any, z: Any,
          xp: Any, real_single: bool, band_limit: bool, evanescent: str,
          workers: int = 1) -> tuple[Any, Any]:
    """The kernel and, for ``asm`` with the band limit, the waves it cuts.

    On the host (``xp`` numpy) in blocks of rows; for traced parameters on ``xp`` in one piece.
    """
    ny, nx = shape
    dy, dx = spacing
    host = xp is np
    lead = tuple(np.shape(inv_wl)[:-2]) if host else ()
    fy, fx = xp.fft.fftfreq(ny, d=dy), xp.reshape(xp.fft.fftfreq(nx, d=dx), (1, nx))
    if method == "asm":
        def rows(r0, r1):
            return asm_rows(xp, xp.reshape(fy[r0:r1], (r1 - r0, 1)), fx, inv_wl, z, (ny * dy, nx * dx),
                            band_limit=band_limit, evanescent=evanescent)
    elif method == "fresnel-tf":
        def rows(r0, r1):
            return fresnel_tf_rows(xp, xp.reshape(fy[r0:r1], (r1 - r0, 1)), fx, inv_wl, z), None
    else:
        y = fft_order_coordinates(ny, dy, xp)
        x = xp.reshape(fft_order_coordinates(nx, dx, xp), (1, nx))

        def rows(r0, r1):
            return fresnel_ir_rows(xp, xp.reshape(y[r0:r1], (r1 - r0, 1)), x, inv_wl, z), None
    if not host:
        h, cut = rows(0, ny)
        if method == "fresnel-ir":
            h = xp.fft.fftn(h, axes=(-2, -1)) * (dy * dx)
        return h, None
    if method == "fresnel-ir":  # the FFT needs the whole complex128 response; transform it in place
        import scipy.fft

        h, _ = host_kernel(rows, ny, nx, lead, np.complex128)
        h = scipy.fft.fft2(h, axes=(-2, -1), workers=workers, overwrite_x=True)
        h *= dy * dx
        return (h.astype(np.complex64) if real_single else h), None
    h, cut = host_kernel(rows, ny, nx, lead, np.complex64 if real_single else np.complex128,
                                  want_cut=method == "asm" and band_limit)
    return h, cut
