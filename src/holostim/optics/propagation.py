"""Free-space propagation and the Fourier-lens transform.

* :func:`propagate` moves a field a distance ``z`` through a homogeneous medium, either with the
  exact angular spectrum (``"asm"``, Matsushima & Shimobaba's band limit so the sampled transfer
  function never aliases) or with the paraxial Fresnel integral (``"fresnel"``: transfer function for
  short distances, impulse response for long ones, chosen by the critical-sampling rule
  ``z_c = N d² / λ``; Voelz, *Computational Fourier Optics*, ch. 5).
* :func:`fourier_lens` is *the* definition of the SLM -> sample model used everywhere in holostim: a
  centred FFT (zero order at index ``N//2``), output pitch ``λ f / (N d)``, scaled by the physical
  Fraunhofer factor ``dy dx / (i λ f)`` so that ``Σ|u|² dy dx`` is preserved exactly.

Transfer kernels are built in float64 on the host (where ``sqrt(1/λ² - f²)`` near the evanescent
edge needs the precision), cast once to the field's dtype, moved to its device and cached per
(shape, spacing, wavelength, z, n, method, dtype, backend, device).  Sampling that would alias warns
with :class:`~holostim.optics.field.SamplingWarning`, naming the limit and the fix.

Only array-API calls are used on the field (``xp.fft.fftn``, ``xp.fft.fftshift``, ...); for numpy
arrays an equivalent multi-threaded ``scipy.fft`` fast path is used (tested against the generic one).
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from holostim.backend import array_namespace
from holostim.checks import positive
from holostim.optics.field import (
    Field,
    FieldError,
    _device_kw,
    warn_sampling,
)

__all__ = [
    "METHODS",
    "clear_kernel_cache",
    "focal_stack",
    "fourier_lens",
    "fresnel_critical_distance",
    "kernel_cache_info",
    "propagate",
    "transfer_function",
]

METHODS = ("asm", "fresnel", "fresnel-tf", "fresnel-ir")

#: Use scipy.fft (threaded) for numpy arrays. Tests switch it off to check the generic path.
FAST_PATH = True
_WORKERS = max(1, int(os.environ.get("HOLOSTIM_THREADS", "0")) or (os.cpu_count() or 1))

# Relative power dropped by the ASM band limit above which we warn.
_BAND_LIMIT_LOSS_WARN = 1e-3


# ------------------------------------------------------------------------------------------------------
# FFT helpers
def _fast(u: Any) -> bool:
    return FAST_PATH and isinstance(u, np.ndarray)


def _fft2(u: Any, xp: Any, inverse: bool = False, overwrite: bool = False) -> Any:
    """Unnormalised forward / 1/N-normalised inverse FFT over the last two axes.

    ``overwrite`` lets the numpy fast path reuse ``u``'s memory (only for arrays the caller owns).
    """
    if _fast(u):
        import scipy.fft

        fn = scipy.fft.ifft2 if inverse else scipy.fft.fft2
        return fn(u, axes=(-2, -1), workers=_WORKERS, overwrite_x=overwrite)
    # the array API standard has fftn/ifftn (no fft2)
    fn = xp.fft.ifftn if inverse else xp.fft.fftn
    return fn(u, axes=(-2, -1))


def _centred_fft2(u: Any, xp: Any, inverse: bool = False) -> Any:
    """FFT of a centred array (origin at N//2) giving a centred spectrum (zero frequency at N//2)."""
    if _fast(u):
        import scipy.fft

        fn = scipy.fft.ifft2 if inverse else scipy.fft.fft2
        shifted = scipy.fft.ifftshift(u, axes=(-2, -1))  # a copy we own: transform it in place
        return scipy.fft.fftshift(fn(shifted, axes=(-2, -1), workers=_WORKERS, overwrite_x=True),
                                  axes=(-2, -1))
    shifted = xp.fft.ifftshift(u, axes=(-2, -1))
    out = _fft2(shifted, xp, inverse)
    return xp.fft.fftshift(out, axes=(-2, -1))


# ------------------------------------------------------------------------------------------------------
# Fourier lens
def fourier_lens(field: Field, f: float, *, inverse: bool = False) -> Field:
    """Field in the back focal plane of a lens of focal length ``f`` (µm) placed one ``f`` after ``field``.

    This is the SLM -> sample model of holostim: ``U = dy dx / (i λ f) · fftshift(fft2(ifftshift(u)))``
    with output pitch ``(λ f / (Ny dy), λ f / (Nx dx))`` (``λ`` in the medium).  The zero order is at
    index ``N//2`` for even and odd sizes, and ``Σ|U|² dy' dx' = Σ|u|² dy dx`` exactly.

    Parameters
    ----------
    field
        Monochromatic input field in the front focal plane.
    f
        Focal length in µm (positive).
    inverse
        Apply the inverse transform (back focal plane -> front focal plane), so that
        ``fourier_lens(fourier_lens(a, f), f, inverse=True)`` returns ``a``.  Two *forward* lenses
        instead image the field inverted, ``-a(-x, -y)`` (a 4f relay).

    Raises
    ------
    FieldError
        For a non-positive focal length, or a field with an array of wavelengths (the output pitch
        would differ per wavelength; transform each wavelength separately).
    """
    f = positive(f, "focal length f", FieldError)
    if not isinstance(field, Field):
        raise FieldError(f"fourier_lens needs a Field, got {type(field).__name__}")
    if not field.is_monochromatic:
        raise FieldError(
            f"fourier_lens got wavelengths {field.wavelength.tolist()}: the output pitch λf/(N dx) differs "
            "per wavelength; transform each wavelength as its own Field"
        )
    xp = field.xp
    wl = field.medium_wavelength
    ny, nx = field.u.shape[-2:]
    dy, dx = field.spacing
    out_spacing = (wl * f / (ny * dy), wl * f / (nx * dx))
    if inverse:
        out = _centred_fft2(field.u, xp, inverse=True)
        factor = 1j * dy * dx * ny * nx / (wl * f)
    else:
        out = _centred_fft2(field.u, xp)
        factor = -1j * dy * dx / (wl * f)
    if _fast(out):
        out *= out.dtype.type(factor)  # our own array: scale in place
    else:
        out = out * factor
    return field.with_u(out, spacing=out_spacing)


# ------------------------------------------------------------------------------------------------------
# Transfer kernels
_CACHE: OrderedDict[tuple, tuple[Any, dict]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 32
#: Upper bound on the memory the cached kernels may hold (MiB); the least recently used go first.
CACHE_MB = float(os.environ.get("HOLOSTIM_KERNEL_CACHE_MB", "1024"))


def _nbytes(entry: tuple[Any, dict]) -> int:
    kernel, info = entry
    total = int(np.prod(kernel.shape)) * _itemsize(kernel)
    cut = info.get("cut")
    if cut is not None:
        total += int(np.prod(cut.shape)) * _itemsize(cut)
    return total


def _itemsize(a: Any) -> int:
    try:
        return int(a.dtype.itemsize)
    except AttributeError:  # array_api_strict dtypes have no itemsize
        return 16 if "complex128" in str(a.dtype) else 8 if ("complex64" in str(a.dtype)
                                                             or "float64" in str(a.dtype)) else 4


def clear_kernel_cache() -> None:
    """Drop every cached transfer kernel (frees device memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def kernel_cache_info() -> list[tuple]:
    """The keys currently cached (for tests and diagnostics)."""
    with _CACHE_LOCK:
        return list(_CACHE.keys())


def fresnel_critical_distance(shape: tuple[int, int], spacing: tuple[float, float], wavelength: float,
                              n: float = 1.0) -> float:
    """Fresnel critical distance ``z_c = min(N d² n / λ)`` over both axes.

    The Fresnel transfer function is sampled well for ``|z| <= z_c``, the impulse response for
    ``|z| >= z_c`` (Voelz's rule ``Δx = λ z / L``).
    """
    wl = float(np.min(np.asarray(wavelength))) / n
    return min(int(shape[-2]) * spacing[0] ** 2, int(shape[-1]) * spacing[1] ** 2) / wl


def _wl_array(wavelength: float | np.ndarray, n: float) -> np.ndarray:
    wl = np.asarray(wavelength, dtype=np.float64) / n
    return wl.reshape(wl.shape + (1, 1))


def _asm_kernel(shape, spacing, wl_m, z):
    ny, nx = shape
    dy, dx = spacing
    fy = np.fft.fftfreq(ny, dy)[:, None]
    fx = np.fft.fftfreq(nx, dx)[None, :]
    inv_wl = 1.0 / wl_m
    arg = inv_wl**2 - fx**2 - fy**2
    prop = arg > 0
    kz = 2 * np.pi * np.sqrt(np.where(prop, arg, 0.0))
    # Matsushima & Shimobaba (2009): the transfer function's local frequency z u / sqrt(1/λ² - u²)
    # must stay below half the sampling window (the FFT window, padding included).
    ly, lx = ny * dy, nx * dx
    uy_lim = inv_wl / np.sqrt((2 * z / ly) ** 2 + 1)
    ux_lim = inv_wl / np.sqrt((2 * z / lx) ** 2 + 1)
    band = (np.abs(fx) <= ux_lim) & (np.abs(fy) <= uy_lim)
    h = np.where(prop & band, np.exp(1j * kz * z), 0.0)
    cut = prop & ~band
    info = {
        "ux_limit": float(np.min(ux_lim)),
        "uy_limit": float(np.min(uy_lim)),
        "cut": cut if cut.any() else None,
    }
    return h, info


def _fresnel_tf_kernel(shape, spacing, wl_m, z):
    ny, nx = shape
    dy, dx = spacing
    fy = np.fft.fftfreq(ny, dy)[:, None]
    fx = np.fft.fftfreq(nx, dx)[None, :]
    k = 2 * np.pi / wl_m
    h = np.exp(1j * k * z) * np.exp(-1j * np.pi * wl_m * z * (fx**2 + fy**2))
    return h, {}


def _fresnel_ir_kernel(shape, spacing, wl_m, z):
    ny, nx = shape
    dy, dx = spacing
    # Impulse response on the (unshifted, FFT-order) grid: index 0 is the origin.
    y = (np.fft.fftfreq(ny) * ny * dy)[:, None]
    x = (np.fft.fftfreq(nx) * nx * dx)[None, :]
    k = 2 * np.pi / wl_m
    h = np.exp(1j * k * z) / (1j * wl_m * z) * np.exp(1j * k / (2 * z) * (x**2 + y**2))
    return np.fft.fft2(h, axes=(-2, -1)) * (dy * dx), {}


_BUILDERS = {"asm": _asm_kernel, "fresnel-tf": _fresnel_tf_kernel, "fresnel-ir": _fresnel_ir_kernel}


def transfer_function(shape: tuple[int, int], spacing: tuple[float, float], wavelength: float | np.ndarray,
                      z: float, *, n: float = 1.0, method: str = "asm", like: Any = None,
                      dtype: Any = None) -> tuple[Any, dict]:
    """The cached transfer kernel ``H`` (FFT order, i.e. not shifted) and its info dict.

    Built in float64 on the host, cast to ``dtype`` (default: complex dtype of ``like``) and moved to
    the namespace/device of ``like``.
    """
    if method not in _BUILDERS:
        raise FieldError(f"kernel method {method!r}; use one of {', '.join(_BUILDERS)}")
    like = np.zeros((1, 1), dtype=np.complex128) if like is None else like
    xp = array_namespace(like)
    dtype = like.dtype if dtype is None else dtype
    dev = _device_kw(like)
    wl = np.asarray(wavelength, dtype=np.float64)
    key = (method, tuple(int(s) for s in shape), tuple(float(s) for s in spacing), wl.shape,
           tuple(wl.ravel().tolist()), float(z), float(n), str(dtype), xp.__name__, str(dev.get("device")))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    h, info = _BUILDERS[method](tuple(shape), tuple(spacing), _wl_array(wl, n), float(z))
    kernel = xp.asarray(h.astype(np.complex64 if dtype == xp.complex64 else np.complex128), **dev)
    if info.get("cut") is not None:
        info["cut"] = xp.asarray(info["cut"].astype(np.float32 if dtype == xp.complex64 else np.float64),
                                 **dev)
    with _CACHE_LOCK:
        _CACHE[key] = (kernel, info)
        limit = CACHE_MB * 2**20
        while len(_CACHE) > 1 and (len(_CACHE) > _CACHE_SIZE or sum(map(_nbytes, _CACHE.values())) > limit):
            _CACHE.popitem(last=False)
    return kernel, info


# ------------------------------------------------------------------------------------------------------
# Propagation
def _padded_shape(shape: tuple[int, int], pad: float) -> tuple[int, int]:
    return (int(math.ceil(shape[0] * pad)), int(math.ceil(shape[1] * pad)))


def _pad(u: Any, xp: Any, padded: tuple[int, int]) -> Any:
    ny, nx = u.shape[-2:]
    my, mx = padded
    if (my, mx) == (ny, nx):
        return u
    oy, ox = my // 2 - ny // 2, mx // 2 - nx // 2
    out = xp.zeros(tuple(u.shape[:-2]) + (my, mx), dtype=u.dtype, **_device_kw(u))
    out[..., oy:oy + ny, ox:ox + nx] = u
    return out


def _crop(u: Any, shape: tuple[int, int]) -> Any:
    ny, nx = shape
    my, mx = u.shape[-2:]
    if (my, mx) == (ny, nx):
        return u
    oy, ox = my // 2 - ny // 2, mx // 2 - nx // 2
    return u[..., oy:oy + ny, ox:ox + nx]


def _resolve_method(field: Field, z: float, method: str, padded: tuple[int, int]) -> str:
    if method not in METHODS:
        raise FieldError(f"propagation method {method!r} is unknown; use one of {', '.join(METHODS)}")
    if method == "asm":
        return method
    zc = fresnel_critical_distance(padded, field.spacing, field.wavelength, field.n)
    if method == "fresnel":
        return "fresnel-tf" if abs(z) <= zc else "fresnel-ir"
    if method == "fresnel-tf" and abs(z) > zc * (1 + 1e-9):
        warn_sampling(
            f"Fresnel transfer function at |z|={abs(z):.4g} µm exceeds its sampling limit "
            f"z_c = N d² n/λ = {zc:.4g} µm: the chirp aliases; use method='fresnel' (picks the impulse "
            f"response) or 'asm', or pad the grid", stacklevel=4)
    if method == "fresnel-ir" and abs(z) < zc * (1 - 1e-9):
        warn_sampling(
            f"Fresnel impulse response at |z|={abs(z):.4g} µm is below its sampling limit "
            f"z_c = N d² n/λ = {zc:.4g} µm: the impulse-response chirp aliases at the grid edge; "
            f"use method='fresnel' (picks the transfer function) or 'asm'", stacklevel=4)
    return method


def _check_band_limit(spectrum: Any, info: dict, xp: Any, z: float, pad: float) -> None:
    cut = info.get("cut")
    if cut is None:
        return
    s2 = xp.real(spectrum) ** 2 + xp.imag(spectrum) ** 2
    total = float(xp.sum(s2))
    if total <= 0:
        return
    lost = float(xp.sum(s2 * cut)) / total
    if lost > _BAND_LIMIT_LOSS_WARN:
        warn_sampling(
            f"angular-spectrum band limit (Matsushima) at z={z:.4g} µm keeps only |fx| <= "
            f"{info['ux_limit']:.4g}, |fy| <= {info['uy_limit']:.4g} cycles/µm and drops {lost:.2%} of the "
            f"power: the grid (pad={pad:g}) is too small for this distance; pad more, or use "
            f"method='fresnel' for long paraxial distances", stacklevel=4)


def propagate(field: Field, z: float, method: str = "asm", *, pad: float = 2.0, check: bool = True) -> Field:
    """Propagate ``field`` by ``z`` µm (negative: backwards) through its medium.

    Parameters
    ----------
    field
        Input field; leading axes (patterns, wavelengths) are propagated together.
    z
        Distance in µm.
    method
        ``"asm"``: exact angular spectrum, band-limited (Matsushima) and with evanescent waves removed.
        ``"fresnel"``: paraxial; transfer function if ``|z| <= N d² n/λ`` else impulse response.
        ``"fresnel-tf"`` / ``"fresnel-ir"`` force one of them (warning outside its valid range).
    pad
        Factor by which the grid is zero-padded for the computation (``>= 1``); the result is cropped
        back. 2 (the default) stops light from wrapping round the periodic FFT window.
    check
        Warn (:class:`SamplingWarning`) when the band limit drops more than 0.1 % of the power.
        Costs one reduction; switch off in tight loops that have been checked once.
    """
    if not isinstance(field, Field):
        raise FieldError(f"propagate needs a Field, got {type(field).__name__}")
    try:
        z = float(z)
    except (TypeError, ValueError):
        raise FieldError(f"propagation distance z={z!r} is not a number (µm)") from None
    if not math.isfinite(z):
        raise FieldError(f"propagation distance z={z!r} must be finite (µm)")
    if not (isinstance(pad, (int, float)) and pad >= 1):
        raise FieldError(f"pad={pad!r} must be a number >= 1 (the zero-padding factor)")
    if z == 0.0:
        if method not in METHODS:
            raise FieldError(f"propagation method {method!r} is unknown; use one of {', '.join(METHODS)}")
        return field
    return _propagate_many(field, [z], method, pad, check, stack=False)


def focal_stack(field: Field, zs: Any, method: str = "asm", *, pad: float = 2.0, check: bool = True) -> Field:
    """Fields at every distance in ``zs`` (µm), stacked on a new leading axis.

    One forward FFT is shared by all planes (then one multiply and one inverse FFT per plane), so a
    stack of M planes costs about (M + 1) FFTs instead of 2M.
    """
    zs = [float(z) for z in np.atleast_1d(np.asarray(zs, dtype=np.float64))]
    if not zs or not all(math.isfinite(z) for z in zs):
        raise FieldError(f"focal_stack needs a non-empty list of finite distances, got {zs!r}")
    if not (isinstance(pad, (int, float)) and pad >= 1):
        raise FieldError(f"pad={pad!r} must be a number >= 1 (the zero-padding factor)")
    return _propagate_many(field, zs, method, pad, check, stack=True)


def _propagate_many(field: Field, zs: list[float], method: str, pad: float, check: bool,
                    stack: bool) -> Field:
    xp = field.xp
    shape = tuple(field.u.shape[-2:])
    padded = _padded_shape(shape, pad)
    spectrum = None
    planes = []
    single = len(zs) == 1
    for z in zs:
        if z == 0.0:
            planes.append(field.u)
            continue
        m = _resolve_method(field, z, method, padded)
        if spectrum is None:
            src = _pad(field.u, xp, padded)
            spectrum = _fft2(src, xp, overwrite=src is not field.u)
        h, info = transfer_function(padded, field.spacing, field.wavelength, z, n=field.n, method=m,
                                    like=field.u)
        if check and m == "asm":
            _check_band_limit(spectrum, info, xp, z, pad)
        if _fast(spectrum):
            # numpy fast path: no temporaries beyond the spectrum itself
            prod = spectrum if single else spectrum.copy()
            prod *= h
            out = _fft2(prod, xp, inverse=True, overwrite=True)
        else:
            out = _fft2(spectrum * h, xp, inverse=True)
        planes.append(_crop(out, shape))
    if not stack:
        return field.with_u(planes[0])
    return field.with_u(xp.stack(planes, axis=0))
