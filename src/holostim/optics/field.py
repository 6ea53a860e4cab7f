"""The optical field record every element and propagator takes and returns.

A :class:`Field` is a complex scalar field ``u`` sampled on a centred grid (index ``N//2`` is the
optical axis), together with what is needed to interpret it physically: the sample spacing
``(dy, dx)`` in micrometres, the vacuum wavelength(s) in micrometres and the refractive index of the
medium it travels in.  It is immutable so that elements can be plain functions ``Field -> Field``
that never surprise a caller by editing its input.

Leading axes of ``u`` batch several patterns or wavelengths: ``wavelength`` is either a scalar or an
array that broadcasts against ``u.shape[:-2]`` (e.g. shape ``(L,)`` for ``u`` of shape ``(L, Y, X)``),
optionally with spectral ``weights`` of the same shape for incoherent sums.

The array ``u`` may be numpy, CuPy or any array-API array; its namespace is found with
:func:`holostim.backend.array_namespace`, so everything here runs unchanged on a GPU.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.backend import array_namespace, is_traced, place
from holostim.checks import positive
from holostim.errors import HolostimError

__all__ = [
    "Field",
    "FieldError",
    "SamplingWarning",
    "coordinates",
    "frequencies",
    "grid",
    "intensity",
    "power",
    "real_dtype_of",
    "resize",
]


class FieldError(HolostimError, ValueError):
    """A field, mask or optical parameter that cannot describe real light (bad value or shape)."""


class SamplingWarning(UserWarning):
    """The chosen sampling would alias: the result is not trustworthy without the suggested fix."""


def warn_sampling(message: str, stacklevel: int = 3) -> None:
    """Emit a :class:`SamplingWarning` (one place so tests and users can filter them)."""
    warnings.warn(message, SamplingWarning, stacklevel=stacklevel)


def _as_spacing(spacing: Any) -> tuple[float, float]:
    if is_traced(spacing):  # e.g. the focal-plane pitch λf/(N d) under jax.grad in f: no check possible
        return (spacing, spacing) if np.ndim(spacing) == 0 else (spacing[0], spacing[1])
    if isinstance(spacing, (tuple, list)) and len(spacing) == 2 and is_traced(*spacing):
        return (spacing[0], spacing[1])
    if np.ndim(spacing) == 0:
        d = positive(spacing, "spacing", FieldError)
        return (d, d)
    vals = tuple(np.asarray(spacing, dtype=float).ravel().tolist())
    if len(vals) != 2:
        raise FieldError(f"spacing={spacing!r} must be one number or a pair (dy, dx) in µm")
    return (positive(vals[0], "spacing dy", FieldError), positive(vals[1], "spacing dx", FieldError))


def _as_wavelength(wavelength: Any) -> float | np.ndarray:
    if is_traced(wavelength):
        if np.ndim(wavelength) != 0:
            raise FieldError(
                f"a traced wavelength must be a scalar, got shape {tuple(wavelength.shape)}; "
                "map over wavelengths with jax.vmap, or give a concrete wavelength array"
            )
        return wavelength  # inside jit/grad/vmap: no value to check
    if np.ndim(wavelength) == 0:
        return positive(wavelength, "wavelength", FieldError)
    wl = np.asarray(wavelength, dtype=np.float64)
    bad = ~(np.isfinite(wl) & (wl > 0))
    if bad.any():
        raise FieldError(
            f"wavelength contains {wl[bad][0]!r}; every wavelength must be a finite positive number (µm)"
        )
    wl = wl.copy()
    wl.setflags(write=False)
    return wl


def real_dtype_of(xp: Any, dtype: Any) -> Any:
    """The real floating dtype matching a complex (or real) dtype: complex64 -> float32, else float64."""
    if dtype == xp.complex64 or dtype == xp.float32:
        return xp.float32
    return xp.float64


def complex_dtype_of(xp: Any, dtype: Any) -> Any:
    """The complex dtype matching a real or complex dtype: float32/complex64 -> complex64, else complex128."""
    if dtype == xp.complex64 or dtype == xp.float32:
        return xp.complex64
    return xp.complex128


@dataclass(frozen=True, eq=False)
class Field:
    """A sampled complex scalar field; immutable.

    Parameters
    ----------
    u
        Complex amplitude, shape ``(..., y, x)``. Real input is promoted to the matching complex dtype
        (float32 -> complex64, otherwise complex128). Any array-API array (numpy, CuPy, ...).
    spacing
        Sample spacing ``(dy, dx)`` in µm, or one number for square pixels.
    wavelength
        Vacuum wavelength in µm: a scalar, or an array broadcasting against ``u.shape[:-2]``.
    n
        Refractive index of the medium the field is in (wavelength in the medium is ``wavelength / n``).
    weights
        Optional spectral weights (same shape as an array ``wavelength``) used by :func:`intensity`
        with ``incoherent=True``.

    Raises
    ------
    FieldError
        For a non-positive or non-finite spacing, wavelength or index, ``u`` with fewer than two axes,
        a wavelength array that does not broadcast against the leading axes, or NaN in ``u``.

    Notes
    -----
    Under ``jax.jit``/``grad``/``vmap`` ``u``, a scalar ``wavelength`` and the spacing may be traced:
    their values cannot be checked there, so the checks run only on concrete inputs.
    """

    u: Any
    spacing: tuple[float, float]
    wavelength: float | np.ndarray
    n: float = 1.0
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        u = self.u
        if not hasattr(u, "shape") or not hasattr(u, "dtype"):
            u = np.asarray(u)
        if u.ndim < 2:
            raise FieldError(f"field u has shape {tuple(u.shape)}; it needs at least two axes (y, x)")
        xp = array_namespace(u)
        if not xp.isdtype(u.dtype, "complex floating"):
            if not xp.isdtype(u.dtype, ("real floating", "integral", "bool")):
                raise FieldError(f"field u has dtype {u.dtype}; give a complex or real floating array")
            u = xp.astype(u, complex_dtype_of(xp, u.dtype))
        object.__setattr__(self, "u", u)
        object.__setattr__(self, "spacing", _as_spacing(self.spacing))
        object.__setattr__(self, "wavelength", _as_wavelength(self.wavelength))
        n = float(self.n) if np.ndim(self.n) == 0 else float("nan")
        if not math.isfinite(n) or n <= 0:
            raise FieldError(f"refractive index n={self.n!r} must be a finite positive number")
        object.__setattr__(self, "n", n)
        wl = self.wavelength
        if isinstance(wl, np.ndarray):
            batch = tuple(u.shape[:-2])
            try:
                np.broadcast_shapes(wl.shape, batch)
                ok = wl.ndim <= len(batch)
            except ValueError:
                ok = False
            if not ok:
                raise FieldError(
                    f"wavelength array of shape {wl.shape} does not broadcast against the leading axes "
                    f"{batch} of u (shape {tuple(u.shape)}); give one wavelength per leading-axis entry"
                )
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=np.float64)
            wl_shape = wl.shape if isinstance(wl, np.ndarray) else ()
            if w.shape != wl_shape or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise FieldError(
                    f"spectral weights {self.weights!r} must be finite, non-negative and shaped like "
                    f"the wavelength array {wl_shape}"
                )
            object.__setattr__(self, "weights", w)
        if not is_traced(u) and bool(xp.any(xp.isnan(u))):
            raise FieldError(
                "field u contains NaN; check the phase/amplitude arrays it was built from "
                "(NaN propagates through every FFT and ruins the whole field)"
            )

    def __repr__(self) -> str:
        wl = self.wavelength if self.is_monochromatic else self.wavelength.tolist()
        return (f"Field(shape={tuple(self.u.shape)}, dtype={self.u.dtype}, spacing={self.spacing} µm, "
                f"wavelength={wl} µm, n={self.n}, backend={self.xp.__name__})")

    # --- small conveniences -------------------------------------------------------------------------
    @property
    def xp(self) -> Any:
        """Array namespace of ``u``."""
        return array_namespace(self.u)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``u``."""
        return tuple(self.u.shape)

    @property
    def dtype(self) -> Any:
        """Complex dtype of ``u``."""
        return self.u.dtype

    @property
    def extent(self) -> tuple[float, float]:
        """Grid size ``(Ly, Lx) = (Ny dy, Nx dx)`` in µm."""
        return (self.u.shape[-2] * self.spacing[0], self.u.shape[-1] * self.spacing[1])

    @property
    def medium_wavelength(self) -> float | np.ndarray:
        """Wavelength in the medium, ``wavelength / n`` (µm)."""
        return self.wavelength / self.n

    @property
    def is_monochromatic(self) -> bool:
        """True for a scalar wavelength."""
        return np.ndim(self.wavelength) == 0

    def grid(self) -> tuple[Any, Any]:
        """Centred coordinates ``(y, x)`` in µm, shapes ``(Ny, 1)`` and ``(1, Nx)``, float64."""
        return grid(self.u.shape[-2:], self.spacing, xp=self.xp, like=self.u)

    def with_u(self, u: Any, spacing: Any = None) -> Field:
        """A new field with amplitude ``u`` (and optionally a new spacing), same wavelength and medium.

        Used by elements and propagators: ``u`` comes from arithmetic on an already validated field,
        so the NaN scan is skipped (it would cost a device synchronisation per element on a GPU).
        """
        new = object.__new__(Field)
        object.__setattr__(new, "u", u)
        object.__setattr__(new, "spacing", self.spacing if spacing is None else _as_spacing(spacing))
        object.__setattr__(new, "wavelength", self.wavelength)
        object.__setattr__(new, "n", self.n)
        object.__setattr__(new, "weights", self.weights)
        return new

    def with_medium(self, n: float) -> Field:
        """The same samples, now travelling in a medium of index ``n`` (e.g. after an objective, in water).

        Only the interpretation changes: later propagation uses the wavelength ``λ / n``.
        """
        new = self.with_u(self.u)
        nv = float(n) if np.ndim(n) == 0 else float("nan")
        if not math.isfinite(nv) or nv <= 0:
            raise FieldError(f"refractive index n={n!r} must be a finite positive number")
        object.__setattr__(new, "n", nv)
        return new


# ------------------------------------------------------------------------------------------------------
def _device_kw(like: Any) -> dict:
    if like is None:
        return {}
    try:
        from array_api_compat import device

        return {"device": device(like)}
    except Exception:
        return {}


def coordinates(n: int, d: float, *, xp: Any = np, like: Any = None) -> Any:
    """Centred sample positions ``(i - n//2) * d`` for ``i = 0..n-1`` (float64), origin at index n//2."""
    kw = _device_kw(like)
    return (xp.astype(xp.arange(int(n), **kw), xp.float64) - float(int(n) // 2)) * (
        d if is_traced(d) else float(d))


def frequencies(n: int, d: float, *, xp: Any = np, like: Any = None) -> Any:
    """Centred spatial frequencies ``(i - n//2) / (n d)`` in cycles/µm; zero frequency at index n//2."""
    return coordinates(n, 1.0 / (int(n) * (d if is_traced(d) else float(d))), xp=xp, like=like)


def grid(shape: tuple[int, int], spacing: Any, *, xp: Any = np, like: Any = None) -> tuple[Any, Any]:
    """Centred coordinates ``(y, x)`` in µm with shapes ``(Ny, 1)`` and ``(1, Nx)`` (float64).

    Works for even and odd sizes: the optical axis is always at index ``N//2``.
    """
    dy, dx = _as_spacing(spacing)
    ny, nx = int(shape[-2]), int(shape[-1])
    y = xp.reshape(coordinates(ny, dy, xp=xp, like=like), (ny, 1))
    x = xp.reshape(coordinates(nx, dx, xp=xp, like=like), (1, nx))
    return y, x


def resize(field: Field, shape: tuple[int, int]) -> Field:
    """Zero-pad or crop ``field`` to ``shape`` about its centre (index ``N//2`` stays the optical axis).

    Padding before :func:`~holostim.optics.propagation.fourier_lens` samples the focal plane more finely
    (pitch ``λ f / (N_padded d)``); cropping keeps a region of interest once the light is known to lie
    inside it.
    """
    try:
        my, mx = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise FieldError(f"shape={shape!r} must be a pair (Ny, Nx) of positive integers") from None
    if my < 1 or mx < 1:
        raise FieldError(f"shape={shape!r} must be a pair (Ny, Nx) of positive integers")
    xp = field.xp
    u = field.u
    ny, nx = u.shape[-2:]
    out = xp.zeros(tuple(u.shape[:-2]) + (my, mx), dtype=u.dtype, **_device_kw(u))
    # source and destination windows that keep index N//2 on index M//2
    sy0, dy0 = max(0, ny // 2 - my // 2), max(0, my // 2 - ny // 2)
    sx0, dx0 = max(0, nx // 2 - mx // 2), max(0, mx // 2 - nx // 2)
    hy, hx = min(ny - sy0, my - dy0), min(nx - sx0, mx - dx0)
    out = place(out, (..., slice(dy0, dy0 + hy), slice(dx0, dx0 + hx)), u[..., sy0:sy0 + hy, sx0:sx0 + hx])
    return field.with_u(out)


def _u_of(field_or_array: Any) -> Any:
    return field_or_array.u if isinstance(field_or_array, Field) else field_or_array


def intensity(field: Field | Any, *, incoherent: bool = False) -> Any:
    """``|u|²`` (real, same precision as ``u``).

    With ``incoherent=True`` the leading wavelength axes are summed with the field's spectral weights
    (equal weights if none were given): the intensity a broadband source really produces, since
    different wavelengths do not interfere.
    """
    u = _u_of(field)
    xp = array_namespace(u)
    i = xp.real(u) ** 2 + xp.imag(u) ** 2
    if not incoherent:
        return i
    if not isinstance(field, Field) or field.is_monochromatic:
        raise FieldError("incoherent=True needs a Field with an array of wavelengths")
    wl = field.wavelength
    w = field.weights if field.weights is not None else np.ones(wl.shape)
    nb = len(wl.shape)
    wb = np.reshape(w, w.shape + (1, 1))
    wx = xp.asarray(wb, dtype=i.dtype, **_device_kw(i))
    axes = tuple(range(i.ndim - 2 - nb, i.ndim - 2))
    return xp.sum(i * wx, axis=axes)


def power(field: Field, spacing: Any = None) -> Any:
    """Total power ``Σ |u|² dy dx`` over the last two axes (a 0-d array per leading-axis entry).

    This is the discrete counterpart of ``∫|u|² dA``; unitary propagators conserve it.
    """
    if isinstance(field, Field):
        u, (dy, dx) = field.u, field.spacing
    else:
        if spacing is None:
            raise FieldError("power() of a bare array needs spacing=(dy, dx) in µm")
        u, (dy, dx) = field, _as_spacing(spacing)
    xp = array_namespace(u)
    return xp.sum(intensity(u), axis=(-2, -1)) * (dy * dx)
