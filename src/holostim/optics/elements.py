"""Optical elements: pure functions ``Field -> Field`` that multiply the field by a transmission.

Each element validates what a user can get wrong (a focal length of zero, a mask of the wrong shape,
NaN in a phase) and raises :class:`~holostim.optics.field.FieldError` naming the value.  Geometric
masks are built with the field's own array namespace in float64 and cast, and cached per
(shape, spacing, parameters, dtype, backend), so an element used inside a loop costs one multiply.

Hard-edged apertures are anti-aliased by their exact (rectangle) or supersampled (circle) pixel
coverage: a binary mask on a coarse grid moves the edge by up to half a pixel and adds spurious
high-frequency power, which shows up as wrong ring positions and energy in the far field.

Under ``jax.jit``/``grad``/``vmap`` a parameter (focal length, radius, coefficients, the field's
wavelength) or a mask may be traced: then its checks cannot run and what is built from it is neither
cached nor checked (:func:`~holostim.backend.is_traced` decides, in one place per element).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from holostim.backend import array_namespace, is_traced
from holostim.checks import positive
from holostim.optics.field import (
    Field,
    FieldError,
    _device_kw,
    grid,
    real_dtype_of,
    warn_sampling,
)
from holostim.optics.zernike import zernike_phase

__all__ = [
    "circular_aperture",
    "phase_mask",
    "amplitude_mask",
    "quantize_phase",
    "rectangular_aperture",
    "slm",
    "thin_lens",
    "zernike",
]

TWO_PI = 2 * math.pi

_MASKS: OrderedDict[tuple, Any] = OrderedDict()
_MASK_LOCK = threading.Lock()
_MASK_CACHE_SIZE = 32
_MASK_CACHE_BYTES = 512 * 2**20


def _nbytes(a: Any) -> int:
    size = int(np.prod(a.shape))
    name = str(a.dtype)
    return size * (16 if "complex128" in name else 8 if ("complex64" in name or "float64" in name) else 4)


def _cached(key: tuple | None, build: Callable[[], Any]) -> Any:
    """``build()``, remembered under ``key``.

    Not kept for ``key=None`` (traced parameters) or a traced result (built inside ``jax.jit``).
    """
    if key is None:
        return build()
    with _MASK_LOCK:
        hit = _MASKS.get(key)
        if hit is not None:
            _MASKS.move_to_end(key)
            return hit
    value = build()
    if is_traced(value):  # built inside jit: a tracer must never outlive its trace
        return value
    with _MASK_LOCK:
        _MASKS[key] = value
        while len(_MASKS) > 1 and (len(_MASKS) > _MASK_CACHE_SIZE
                                   or sum(map(_nbytes, _MASKS.values())) > _MASK_CACHE_BYTES):
            _MASKS.popitem(last=False)
    return value


def _key(field: Field, *params: Any) -> tuple | None:
    wl = field.wavelength
    if is_traced(wl, *field.spacing, *params):
        return None
    wl_key = tuple(np.ravel(wl).tolist()) + (np.shape(wl),)
    dev = _device_kw(field.u).get("device")
    return (tuple(field.u.shape[-2:]), field.spacing, wl_key, field.n, str(field.dtype), field.xp.__name__,
            str(dev)) + params


def _to_field_namespace(a: Any, field: Field, name: str) -> Any:
    """Bring a user array (numpy, list, or the field's own kind) into the field's namespace."""
    xp = field.xp
    try:
        if array_namespace(a) is xp or type(a) is type(field.u):
            return a
    except TypeError:
        pass
    try:
        return xp.asarray(np.asarray(a) if not hasattr(a, "shape") else a, **_device_kw(field.u))
    except Exception as exc:  # pragma: no cover - depends on the backend pairing
        raise FieldError(f"{name} could not be moved to the field's array library ({xp.__name__}): {exc}") \
            from exc


def _check_mask_shape(mask: Any, field: Field, name: str) -> None:
    ms, us = tuple(mask.shape), tuple(field.u.shape)
    try:
        ok = np.broadcast_shapes(ms, us) == us
    except ValueError:
        ok = False
    if not ok or len(ms) < 2 or ms[-2:] != us[-2:]:
        raise FieldError(
            f"{name} has shape {ms} but the field has shape {us}; the last two axes (y, x) must match "
            "and any leading axes must broadcast"
        )


def _expi(phase: Any, xp: Any, cdtype: Any) -> Any:
    return xp.exp(1j * xp.astype(phase, cdtype))


def phase_mask(field: Field, phase: Any) -> Field:
    """Multiply ``field`` by ``exp(i phase)`` (phase in radians, shape ``(..., y, x)`` like the field).

    Raises
    ------
    FieldError
        If the phase's last two axes differ from the field's, or it contains NaN or infinity.
    """
    xp = field.xp
    phase = _to_field_namespace(phase, field, "phase")
    _check_mask_shape(phase, field, "phase mask")
    if xp.isdtype(phase.dtype, "complex floating"):
        raise FieldError("phase mask is complex; give the phase in radians (real), or use amplitude_mask")
    if not is_traced(phase) and not bool(xp.all(xp.isfinite(phase))):
        raise FieldError("phase mask contains NaN or infinity; every phase value must be finite (radians)")
    return field.with_u(field.u * _expi(phase, xp, field.dtype))


def amplitude_mask(field: Field, transmission: Any) -> Field:
    """Multiply ``field`` by a (real or complex) transmission of matching shape."""
    xp = field.xp
    t = _to_field_namespace(transmission, field, "transmission")
    _check_mask_shape(t, field, "transmission")
    if not is_traced(t) and not bool(xp.all(xp.isfinite(t))):
        raise FieldError("transmission contains NaN or infinity; every value must be finite")
    if xp.isdtype(t.dtype, "complex floating"):
        t = xp.astype(t, field.dtype)
    else:
        t = xp.astype(t, real_dtype_of(xp, field.dtype))
    return field.with_u(field.u * t)


# ------------------------------------------------------------------------------------------------------
def _wl_column(field: Field) -> Any:
    """Medium wavelength as a float64 array broadcasting against the field (shape (..., 1, 1))."""
    xp = field.xp
    if is_traced(field.wavelength):
        return field.medium_wavelength  # a traced scalar broadcasts as it is
    wl = np.asarray(field.medium_wavelength, dtype=np.float64)
    return xp.asarray(wl.reshape(wl.shape + (1, 1)), **_device_kw(field.u))


def _check_lens_sampling(field: Field, f: float, center: tuple[float, float]) -> None:
    """Warn when the lens chirp's local frequency r / (λ f) passes Nyquist 1/(2 d) inside the grid."""
    if is_traced(f, field.wavelength, *field.spacing):
        return  # no numbers to compare inside a trace
    wl = float(np.min(np.asarray(field.medium_wavelength)))
    for axis, (d, npx, c) in enumerate(((field.spacing[1], field.u.shape[-1], center[0]),
                                        (field.spacing[0], field.u.shape[-2], center[1]))):
        r_ok = wl * abs(f) / (2 * d)
        reach = max(npx // 2 * d + abs(float(c)), (npx - 1 - npx // 2) * d + abs(float(c)))
        if reach > r_ok * (1 + 1e-9):
            name = "xy"[axis]
            warn_sampling(
                f"thin lens f={f:g} µm: its phase aliases beyond |{name}| = λ|f|/(2 d{name}) = {r_ok:.4g} µm "
                f"but the grid reaches {reach:.4g} µm; use fourier_lens for focusing, a finer spacing, "
                f"or a longer focal length", stacklevel=4)
            return


def thin_lens(field: Field, f: float, *, center: tuple[float, float] = (0.0, 0.0)) -> Field:
    """Ideal thin lens of focal length ``f`` µm: ``exp(-i π r² / (λ f))`` (λ in the medium).

    Positive ``f`` focuses; negative ``f`` is a diverging lens.  ``center`` is the optical axis of the
    lens ``(x, y)`` in µm.

    Raises
    ------
    FieldError
        For ``f`` zero, infinite or not a number.
    """
    fv = f if is_traced(f) else _focal_length(f)
    xp = field.xp
    _check_lens_sampling(field, fv, center)

    def build():
        y, x = grid(field.u.shape[-2:], field.spacing, xp=xp, like=field.u)
        r2 = (x - float(center[0])) ** 2 + (y - float(center[1])) ** 2
        phase = -math.pi * r2 / (_wl_column(field) * fv)
        return _expi(phase, xp, field.dtype)

    t = _cached(_key(field, "lens", fv, tuple(map(float, center))), build)
    return field.with_u(field.u * t)


def _focal_length(f: Any) -> float:
    try:
        fv = float(f)
    except (TypeError, ValueError):
        raise FieldError(f"focal length f={f!r} is not a number (µm)") from None
    if not math.isfinite(fv) or fv == 0:
        raise FieldError(
            f"focal length f={f!r} must be finite and non-zero (µm; negative for a diverging lens)"
        )
    return fv


def _size(value: Any, name: str) -> Any:
    """A positive length in µm; a traced one (differentiated, mapped) passes unchecked."""
    return value if is_traced(value) else positive(value, name, FieldError)


def _interval_coverage(c: Any, d: float, lo: float, hi: float, xp: Any) -> Any:
    """Fraction of each pixel ``[c - d/2, c + d/2]`` inside ``[lo, hi]`` (exact, 1-D)."""
    left = xp.maximum(c - d / 2, xp.asarray(lo, dtype=xp.float64))
    right = xp.minimum(c + d / 2, xp.asarray(hi, dtype=xp.float64))
    return xp.clip(right - left, 0.0, d) / d


def rectangular_aperture(field: Field, wx: float, wy: float | None = None, *,
                         center: tuple[float, float] = (0.0, 0.0), antialias: bool = True) -> Field:
    """Rectangle of full widths ``wx`` by ``wy`` µm (``wy`` defaults to ``wx``).

    With ``antialias`` each pixel transmits the exact fraction of its area inside the rectangle.
    """
    wx = _size(wx, "aperture width wx")
    wy = wx if wy is None else _size(wy, "aperture height wy")
    xp = field.xp
    cx, cy = float(center[0]), float(center[1])

    def build():
        y, x = grid(field.u.shape[-2:], field.spacing, xp=xp, like=field.u)
        dy, dx = field.spacing
        if antialias:
            tx = _interval_coverage(x, dx, cx - wx / 2, cx + wx / 2, xp)
            ty = _interval_coverage(y, dy, cy - wy / 2, cy + wy / 2, xp)
        else:
            tx = xp.astype(xp.abs(x - cx) <= wx / 2, xp.float64)
            ty = xp.astype(xp.abs(y - cy) <= wy / 2, xp.float64)
        return xp.astype(ty * tx, real_dtype_of(xp, field.dtype))

    t = _cached(_key(field, "rect", wx, wy, cx, cy, antialias), build)
    return field.with_u(field.u * t)


def circular_aperture(field: Field, radius: float, *, center: tuple[float, float] = (0.0, 0.0),
                      antialias: bool = True, supersample: int = 16) -> Field:
    """Disc of ``radius`` µm.

    With ``antialias`` a pixel transmits its covered area fraction: the disc's chord is intersected
    exactly with the pixel in x on ``supersample`` sub-rows per pixel in y (error ~ 1/supersample²).
    """
    radius = _size(radius, "aperture radius")
    if not isinstance(supersample, (int, np.integer)) or supersample < 1:
        raise FieldError(f"supersample={supersample!r} must be a positive integer")
    xp = field.xp
    cx, cy = float(center[0]), float(center[1])

    def build():
        y, x = grid(field.u.shape[-2:], field.spacing, xp=xp, like=field.u)
        dy, dx = field.spacing
        if not antialias:
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
            return xp.astype(inside, real_dtype_of(xp, field.dtype))
        cov = xp.zeros((y.shape[0], x.shape[1]), dtype=xp.float64, **_device_kw(field.u))
        s = int(supersample)
        for k in range(s):
            yk = y - cy + dy * ((k + 0.5) / s - 0.5)
            h2 = radius**2 - yk**2
            inside = h2 > 0  # "double where": sqrt's infinite slope at 0 would make a radius gradient NaN
            half = xp.where(inside, xp.sqrt(xp.where(inside, h2, xp.ones_like(h2))), xp.zeros_like(h2))
            left = xp.maximum(x - cx - dx / 2, -half)
            right = xp.minimum(x - cx + dx / 2, half)
            cov = cov + xp.clip(right - left, 0.0, dx)
        return xp.astype(cov / (s * dx), real_dtype_of(xp, field.dtype))

    t = _cached(_key(field, "circ", radius, cx, cy, antialias, int(supersample)), build)
    return field.with_u(field.u * t)


def zernike(field: Field, coefficients: Sequence[float] | Mapping[int, float], radius: float, *,
            center: tuple[float, float] = (0.0, 0.0)) -> Field:
    """Aberration ``exp(i Σ c_j Z_j(r/radius, θ))`` from ANSI-indexed orthonormal coefficients (rad).

    A coefficient is the RMS phase error (radians) of its term over the pupil of ``radius`` µm;
    outside the pupil the field is left unchanged (combine with :func:`circular_aperture` to clip it).
    """
    xp = field.xp
    if is_traced(coefficients) or (isinstance(coefficients, Mapping) and is_traced(*coefficients.values())):
        coeff_key = None
    else:
        coeff_key = (tuple(sorted(coefficients.items())) if isinstance(coefficients, Mapping)
                     else tuple(np.asarray(coefficients, dtype=float).ravel().tolist()))

    def build():
        ph = zernike_phase(coefficients, field.u.shape[-2:], field.spacing, radius, center=center,
                           like=field.u)
        return _expi(ph, xp, field.dtype)

    key = None if coeff_key is None else _key(field, "zernike", coeff_key, float(radius),
                                              tuple(map(float, center)))
    t = _cached(key, build)
    return field.with_u(field.u * t)


# ------------------------------------------------------------------------------------------------------
def quantize_phase(phase: Any, levels: int | None) -> Any:
    """Wrap ``phase`` to ``[0, 2π)`` and round it to ``levels`` equal gray levels (None: no rounding)."""
    xp = array_namespace(phase)
    wrapped = xp.remainder(phase, TWO_PI)
    if levels is None:
        return wrapped
    q = xp.remainder(xp.round(wrapped * (levels / TWO_PI)), float(levels))
    return q * (TWO_PI / levels)


def _pixel_profile(s: int, fill: float) -> np.ndarray:
    """Transmission of the ``s`` sub-samples across one pixel with an active width ``fill`` (of 1)."""
    centres = (np.arange(s) + 0.5) / s - 0.5
    left = np.maximum(centres - 0.5 / s, -fill / 2)
    right = np.minimum(centres + 0.5 / s, fill / 2)
    return np.clip(right - left, 0.0, 1.0 / s) * s


def slm(field: Field, phase: Any, *, pitch: float | tuple[float, float],
        fill_factor: float | tuple[float, float] = 1.0, levels: int | None = 256,
        supersample: int = 1) -> Field:
    """A pixelated phase-only SLM: quantised phase per pixel, dead space between pixels.

    Parameters
    ----------
    field
        Illumination on the SLM, sampled ``supersample`` times per pixel: shape ``(My·s, Mx·s)``,
        spacing ``pitch / s``.
    phase
        Phase per SLM pixel in radians, shape ``(My, Mx)``; wrapped to ``[0, 2π)``.
    pitch
        Pixel pitch in µm (one number or ``(py, px)``).
    fill_factor
        Linear fraction of each pixel that modulates (``0 < F <= 1``, one number or ``(Fy, Fx)``); the
        dead space is modelled as absorbing, so the pixel envelope puts ``F² sinc²(F/p)`` per axis into
        the first order of a ``p``-pixel blazed grating.  With ``supersample=1`` the envelope cannot be
        resolved and the fill factor only scales the amplitude by ``Fy·Fx`` (the zero-order mean).
    levels
        Number of gray levels over 2π (``None``: continuous phase).
    supersample
        Samples per pixel per axis; >= 4 resolves the pixel aperture and its diffraction envelope.
    """
    if not isinstance(supersample, (int, np.integer)) or supersample < 1:
        raise FieldError(f"supersample={supersample!r} must be a positive integer (samples per SLM pixel)")
    if levels is not None and (not isinstance(levels, (int, np.integer)) or levels < 2):
        raise FieldError(f"levels={levels!r} must be an integer >= 2 (gray levels over 2π) or None")
    py, px = (pitch, pitch) if np.ndim(pitch) == 0 else tuple(pitch)
    py, px = positive(py, "SLM pitch", FieldError), positive(px, "SLM pitch", FieldError)
    fy, fx = (fill_factor, fill_factor) if np.ndim(fill_factor) == 0 else tuple(fill_factor)
    for ff in (fy, fx):
        if not (isinstance(ff, (int, float, np.floating)) and 0 < float(ff) <= 1):
            raise FieldError(f"fill_factor={fill_factor!r} must be in (0, 1] (active fraction of the pixel)")
    xp = field.xp
    s = int(supersample)
    phase = _to_field_namespace(phase, field, "SLM phase")
    if phase.ndim != 2:
        raise FieldError(f"SLM phase must be 2-D (My, Mx) per pixel, got shape {tuple(phase.shape)}")
    my, mx = phase.shape
    if tuple(field.u.shape[-2:]) != (my * s, mx * s):
        raise FieldError(
            f"SLM phase of {my}x{mx} pixels with supersample={s} needs an illumination field of shape "
            f"({my * s}, {mx * s}), got {tuple(field.u.shape[-2:])}; build the source on that grid"
        )
    want = (py / s, px / s)
    if any(abs(a - b) > 1e-6 * b for a, b in zip(field.spacing, want, strict=True)):
        raise FieldError(
            f"illumination spacing {field.spacing} µm does not match pitch/supersample = {want} µm; "
            "sample the source at the SLM sub-pixel spacing"
        )
    if not is_traced(phase) and not bool(xp.all(xp.isfinite(phase))):
        raise FieldError("SLM phase contains NaN or infinity; every pixel phase must be finite (radians)")
    rdt = real_dtype_of(xp, field.dtype)
    q = quantize_phase(xp.astype(phase, xp.float64), levels)
    if s > 1:
        q = xp.reshape(xp.broadcast_to(xp.reshape(q, (my, 1, mx, 1)), (my, s, mx, s)), (my * s, mx * s))
    t = _expi(xp.astype(q, rdt), xp, field.dtype)
    if (fy, fx) != (1, 1) and (fy, fx) != (1.0, 1.0):
        if s == 1:
            t = t * float(fy * fx)
        else:
            prof_y = np.tile(_pixel_profile(s, float(fy)), my).reshape(my * s, 1)
            prof_x = np.tile(_pixel_profile(s, float(fx)), mx).reshape(1, mx * s)
            amp = xp.asarray((prof_y * prof_x).astype(np.float32 if rdt == xp.float32 else np.float64),
                             **_device_kw(field.u))
            t = t * amp
    return field.with_u(field.u * t)
