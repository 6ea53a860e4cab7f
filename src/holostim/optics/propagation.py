"""Free-space propagation and the Fourier-lens transform.

* :func:`propagate` moves a field a distance ``z`` through a homogeneous medium, either with the
  exact angular spectrum (``"asm"``; by default with Matsushima & Shimobaba's band limit so the
  sampled transfer function never aliases, evanescent waves dropped or decaying) or with the
  paraxial Fresnel integral (``"fresnel"``: transfer function for short distances, impulse response
  for long ones, chosen by the critical-sampling rule ``z_c = N d² / λ``; Voelz, *Computational
  Fourier Optics*, ch. 5).
* :func:`fourier_lens` is *the* definition of the SLM -> sample model used everywhere in holostim: a
  centred FFT (zero order at index ``N//2``), output pitch ``λ f / (N d)``, scaled by the physical
  Fraunhofer factor ``dy dx / (i λ f)`` so that ``Σ|u|² dy dx`` is preserved exactly.

Transfer kernels (:mod:`.transfer`) are built in float64 on the host in blocks of rows (the
evanescent edge ``sqrt(1/λ² - f²)`` and the phase ``kz z`` need the precision), cast block by block
to the field's dtype, moved to its device and cached per (shape, spacing, wavelength, z, n, method,
dtype, backend, device, options). With traced parameters (``jax.grad`` in ``z``, ``f`` or the
wavelength, ``jax.vmap`` over them) the same builders run on the field's namespace, uncached.
Sampling that would alias warns with :class:`~holostim.optics.field.SamplingWarning`, naming the
limit and the fix.

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

from holostim.backend import array_namespace, is_traced, place
from holostim.checks import positive
from holostim.optics import transfer
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
    out = _fft2(_half_shift(u, xp, inverse=True), xp, inverse)
    return _half_shift(out, xp)


def _half_shift(u: Any, xp: Any, inverse: bool = False) -> Any:
    """``fftshift`` (``ifftshift`` with ``inverse``) of the last two axes by two concatenations.

    The same data movement as ``xp.fft.fftshift`` on every namespace, but JAX compiles a ``roll``
    slowly (seconds per shape), two slices and a concatenation in milliseconds.
    """
    for axis in (-2, -1):
        n = u.shape[axis]
        cut = n // 2 if inverse else (n + 1) // 2
        if cut == 0:
            continue
        head = u[..., cut:, :] if axis == -2 else u[..., cut:]
        tail = u[..., :cut, :] if axis == -2 else u[..., :cut]
        u = xp.concat([head, tail], axis=axis)
    return u


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
    f = f if is_traced(f) else positive(f, "focal length f", FieldError)
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
    ``|z| >= z_c`` (Voelz's rule ``Δx = λ z / L``). A traced wavelength gives a traced ``z_c``.
    """
    wl = (wavelength if is_traced(wavelength) else float(np.min(np.asarray(wavelength)))) / n
    return min(int(shape[-2]) * spacing[0] ** 2, int(shape[-1]) * spacing[1] ** 2) / wl


def transfer_function(shape: tuple[int, int], spacing: tuple[float, float], wavelength: float | np.ndarray,
                      z: float, *, n: float = 1.0, method: str = "asm", like: Any = None,
                      dtype: Any = None, band_limit: bool = True,
                      evanescent: str = "drop") -> tuple[Any, dict]:
    """The cached transfer kernel ``H`` (FFT order, i.e. not shifted) and its info dict.

    Built in float64 on the host, cast to ``dtype`` (default: complex dtype of ``like``) and moved to
    the namespace/device of ``like``. ``band_limit`` and ``evanescent`` apply to ``method="asm"`` (see
    :func:`propagate`). With a traced ``z``, wavelength or spacing (``jax.grad``/``vmap``) the kernel
    is built on ``like``'s namespace, differentiably, and not cached.
    """
    if method not in _BUILDERS:
        raise FieldError(f"kernel method {method!r}; use one of {', '.join(_BUILDERS)}")
    if evanescent not in transfer.EVANESCENT:
        raise FieldError(f"evanescent={evanescent!r}; use one of {', '.join(transfer.EVANESCENT)}")
    like = np.zeros((1, 1), dtype=np.complex128) if like is None else like
    xp = array_namespace(like)
    dtype = like.dtype if dtype is None else dtype
    single = dtype == xp.complex64
    shape = (int(shape[-2]), int(shape[-1]))
    if is_traced(z, wavelength, *spacing):
        h, _ = transfer.build(method, shape, tuple(spacing), transfer.inv_wl(wavelength, n), z, xp, single,
                              band_limit, evanescent)
        return xp.astype(h, dtype), {}
    dev = _device_kw(like)
    wl = np.asarray(wavelength, dtype=np.float64)
    key = (method, shape, tuple(float(s) for s in spacing), wl.shape,
           tuple(wl.ravel().tolist()), float(z), float(n), str(dtype), xp.__name__, str(dev.get("device")),
           bool(band_limit), evanescent)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    h, cut = transfer.build(method, shape, tuple(float(s) for s in spacing), transfer.inv_wl(wl, n), float(z),
                            np, single, band_limit, evanescent, workers=_WORKERS)
    kernel = xp.asarray(h, **dev)
    info: dict = {}
    if method == "asm" and band_limit:
        inv_wl = float(np.min(transfer.inv_wl(wl, n)))
        info["uy_limit"] = inv_wl / math.sqrt((2 * float(z) / (shape[0] * spacing[0])) ** 2 + 1)
        info["ux_limit"] = inv_wl / math.sqrt((2 * float(z) / (shape[1] * spacing[1])) ** 2 + 1)
        cut_dtype = np.float32 if single else np.float64
        info["cut"] = xp.asarray(cut.astype(cut_dtype), **dev) if cut.any() else None
    if is_traced(kernel):  # made inside a jit trace: do not let the tracer escape into the cache
        return kernel, info
    with _CACHE_LOCK:
        _CACHE[key] = (kernel, info)
        limit = CACHE_MB * 2**20
        while len(_CACHE) > 1 and (len(_CACHE) > _CACHE_SIZE or sum(map(_nbytes, _CACHE.values())) > limit):
            _CACHE.popitem(last=False)
    return kernel, info


_BUILDERS = ("asm", "fresnel-tf", "fresnel-ir")


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
    return place(out, (..., slice(oy, oy + ny), slice(ox, ox + nx)), u)


def _crop(u: Any, shape: tuple[int, int]) -> Any:
    """The centred ``shape`` window of ``u``, as an array of its own.

    A numpy/CuPy slice is a view that would keep the whole padded buffer (4x the result at pad=2)
    alive for as long as the result lives; copy it out.
    """
    ny, nx = shape
    my, mx = u.shape[-2:]
    if (my, mx) == (ny, nx):
        return u
    oy, ox = my // 2 - ny // 2, mx // 2 - nx // 2
    out = u[..., oy:oy + ny, ox:ox + nx]
    if getattr(out, "base", None) is not None and hasattr(out, "copy"):
        out = out.copy()
    return out


def _resolve_method(field: Field, z: Any, method: str, padded: tuple[int, int]) -> str:
    if method not in METHODS:
        raise FieldError(f"propagation method {method!r} is unknown; use one of {', '.join(METHODS)}")
    if method == "asm":
        return method
    traced = is_traced(z, field.wavelength, *field.spacing)
    if traced:
        # no number to compare inside a trace: "fresnel" selects between both kernels elementwise
        return "fresnel-select" if method == "fresnel" else method
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


def _kernel(field: Field, padded: tuple[int, int], z: Any, method: str, band_limit: bool,
            evanescent: str) -> tuple[Any, dict]:
    kw = dict(n=field.n, like=field.u, band_limit=band_limit, evanescent=evanescent)
    if method != "fresnel-select":
        return transfer_function(padded, field.spacing, field.wavelength, z, method=method, **kw)
    # traced z or wavelength with method="fresnel": both kernels, chosen per value by |z| <= z_c; the
    # impulse response is evaluated at z_c where it is not chosen, so it never divides by a tiny z
    xp = field.xp
    zc = fresnel_critical_distance(padded, field.spacing, field.wavelength, field.n)
    short = xp.abs(z) <= zc
    h_tf, _ = transfer_function(padded, field.spacing, field.wavelength, z, method="fresnel-tf", **kw)
    z_ir = xp.where(short, zc * xp.sign(z) + (z == 0) * zc, z)
    h_ir, _ = transfer_function(padded, field.spacing, field.wavelength, z_ir, method="fresnel-ir", **kw)
    return xp.where(short, h_tf, h_ir), {}


def _check_band_limit(spectrum: Any, info: dict, xp: Any, z: float, pad: float) -> None:
    cut = info.get("cut")
    if cut is None or is_traced(spectrum):
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


def _distance(z: Any) -> Any:
    if is_traced(z):
        return z
    try:
        z = float(z)
    except (TypeError, ValueError):
        raise FieldError(f"propagation distance z={z!r} is not a number (µm)") from None
    if not math.isfinite(z):
        raise FieldError(f"propagation distance z={z!r} must be finite (µm)")
    return z


def _check_options(method: str, pad: Any, evanescent: str) -> None:
    if method not in METHODS:
        raise FieldError(f"propagation method {method!r} is unknown; use one of {', '.join(METHODS)}")
    if not (isinstance(pad, (int, float)) and pad >= 1):
        raise FieldError(f"pad={pad!r} must be a number >= 1 (the zero-padding factor)")
    if evanescent not in transfer.EVANESCENT:
        raise FieldError(f"evanescent={evanescent!r} is unknown; use 'drop' (remove evanescent waves) or "
                         "'decay' (attenuate them by exp(-κ|z|))")


def propagate(field: Field, z: float, method: str = "asm", *, pad: float = 2.0, check: bool = True,
              band_limit: bool = True, evanescent: str = "drop") -> Field:
    """Propagate ``field`` by ``z`` µm (negative: backwards) through its medium.

    Parameters
    ----------
    field
        Input field; leading axes (patterns, wavelengths) are propagated together.
    z
        Distance in µm. ``z = 0`` returns ``field`` itself.
    method
        ``"asm"``: exact angular spectrum.
        ``"fresnel"``: paraxial; transfer function if ``|z| <= N d² n/λ`` else impulse response.
        ``"fresnel-tf"`` / ``"fresnel-ir"`` force one of them (warning outside its valid range).
    pad
        Factor by which the grid is zero-padded for the computation (``>= 1``); the result is cropped
        back (into an array of its own, not a view of the padded buffer). 2 (the default) stops light
        from wrapping round the periodic FFT window; 1 treats the field as periodic.
    check
        Warn (:class:`SamplingWarning`) when the band limit drops more than 0.1 % of the power.
        Costs one reduction; switch off in tight loops that have been checked once.
    band_limit
        ``asm`` only: apply Matsushima & Shimobaba's band limit, which removes the waves whose sampled
        transfer function would alias on the (padded) window. Right for a field that is zero outside
        the grid; wrong for a field that *is* periodic (a grating on ``pad=1``), whose exact propagation
        keeps every harmonic: switch it off there.
    evanescent
        ``asm`` only: ``"drop"`` removes waves with spatial frequency beyond ``n/λ`` (they are gone after
        a few wavelengths); ``"decay"`` attenuates them by ``exp(-κ |z|)``, ``κ = 2π sqrt(f² - n²/λ²)``,
        which is continuous at ``z = 0`` (near-field distances of a wavelength or less).

    Under ``jax.jit``/``grad``/``vmap``, ``z`` and the field's wavelength may be traced: the kernel is
    then built differentiably on the field's namespace (not cached, not checked), and
    ``method="fresnel"`` evaluates both Fresnel kernels and selects by ``|z| <= z_c`` elementwise.
    A traced ``z`` of 0 is propagated like any other (with ``evanescent="drop"`` that removes the
    evanescent waves; ``"decay"`` returns the input).
    """
    if not isinstance(field, Field):
        raise FieldError(f"propagate needs a Field, got {type(field).__name__}")
    z = _distance(z)
    _check_options(method, pad, evanescent)
    if not is_traced(z) and z == 0.0:
        return field
    return _propagate_many(field, [z], method, pad, check, stack=False, band_limit=band_limit,
                           evanescent=evanescent)


def focal_stack(field: Field, zs: Any, method: str = "asm", *, pad: float = 2.0, check: bool = True,
                band_limit: bool = True, evanescent: str = "drop") -> Field:
    """Fields at every distance in ``zs`` (µm), stacked on a new leading axis.

    One forward FFT is shared by all planes (then one multiply and one inverse FFT per plane), so a
    stack of M planes costs about (M + 1) FFTs instead of 2M. Options as in :func:`propagate`; ``zs``
    may be a traced 1-D array.
    """
    if is_traced(zs):
        if np.ndim(zs) != 1:
            raise FieldError("a traced focal_stack distance array must be 1-D")
        zs = [zs[i] for i in range(int(zs.shape[0]))]
    else:
        zs = [float(z) for z in np.atleast_1d(np.asarray(zs, dtype=np.float64))]
        if not zs or not all(math.isfinite(z) for z in zs):
            raise FieldError(f"focal_stack needs a non-empty list of finite distances, got {zs!r}")
    _check_options(method, pad, evanescent)
    return _propagate_many(field, zs, method, pad, check, stack=True, band_limit=band_limit,
                           evanescent=evanescent)


def _propagate_many(field: Field, zs: list[Any], method: str, pad: float, check: bool,
                    stack: bool, band_limit: bool = True, evanescent: str = "drop") -> Field:
    xp = field.xp
    shape = tuple(field.u.shape[-2:])
    padded = _padded_shape(shape, pad)
    spectrum = None
    planes = []
    single = len(zs) == 1
    for z in zs:
        if not is_traced(z) and z == 0.0:
            planes.append(field.u)
            continue
        m = _resolve_method(field, z, method, padded)
        if spectrum is None:
            src = _pad(field.u, xp, padded)
            spectrum = _fft2(src, xp, overwrite=src is not field.u)
        h, info = _kernel(field, padded, z, m, band_limit, evanescent)
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
