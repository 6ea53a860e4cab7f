"""Light sources: fields that start an optical system.

All sources take the grid ``shape`` ``(Ny, Nx)``, ``spacing`` (µm) and vacuum ``wavelength`` (µm),
the medium index ``n``, a complex ``dtype`` (default complex128, or the precision of ``like``) and an
array namespace ``xp`` (or an array ``like`` whose namespace, device and precision to use), and
build the field in float64 before casting, so a single-precision source is the rounded
double-precision one.  Phases use the ``exp(+i k z)`` convention of the
propagators: a wave diverging from a point has phase ``+k r``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from holostim.backend import array_namespace
from holostim.checks import positive, shape_pair
from holostim.optics.field import (
    Field,
    FieldError,
    _as_spacing,
    complex_dtype_of,
    grid,
    warn_sampling,
)

__all__ = ["gaussian_beam", "gaussian_beam_parameters", "plane_wave", "point_source"]


def _xp_dtype(xp: Any, like: Any, dtype: Any) -> tuple[Any, Any]:
    """Namespace and complex dtype for a new source (``dtype``: a dtype, or ``"single"``/``"double"``)."""
    if like is not None:
        xp = array_namespace(like)
    elif xp is np:
        xp = array_namespace(np.zeros(1))
    if dtype is None:
        return xp, (xp.complex128 if like is None else complex_dtype_of(xp, like.dtype))
    name = str(getattr(dtype, "__name__", dtype)).split(".")[-1].strip("'<>")
    if name in ("single", "complex64", "float32"):
        return xp, xp.complex64
    if name in ("double", "complex128", "float64"):
        return xp, xp.complex128
    raise FieldError(f"dtype={dtype!r}; use complex64/'single' or complex128/'double'")


def _complex(re: Any, im: Any, xp: Any, dtype: Any) -> Any:
    return xp.astype(re, dtype) + 1j * xp.astype(im, dtype)


def plane_wave(shape: tuple[int, int], spacing: Any, wavelength: float, *, amplitude: float = 1.0,
               angle: tuple[float, float] = (0.0, 0.0), n: float = 1.0, dtype: Any = None,
               xp: Any = np, like: Any = None) -> Field:
    """Plane wave of constant ``amplitude``, tilted by ``angle = (θx, θy)`` radians from the axis.

    A tilt gives the linear phase ``k (x sin θx + y sin θy)``; it aliases when
    ``n sin θ > λ / (2 d)``, which raises a :class:`SamplingWarning`.
    """
    ny, nx = shape_pair(shape, "shape", FieldError)
    wavelength = positive(wavelength, "wavelength", FieldError)
    dy, dx = _as_spacing(spacing)
    xp, dtype = _xp_dtype(xp, like, dtype)
    tx, ty = float(angle[0]), float(angle[1])
    k = 2 * math.pi * n / wavelength
    for s, d, ax in ((math.sin(tx), dx, "x"), (math.sin(ty), dy, "y")):
        if abs(n * s) > wavelength / (2 * d):
            warn_sampling(f"plane-wave tilt n sin θ{ax} = {n * s:.4g} exceeds λ/(2 d{ax}) = "
                          f"{wavelength / (2 * d):.4g}: the linear phase aliases; "
                          "reduce the angle or the spacing")
    y, x = grid((ny, nx), (dy, dx), xp=xp, like=like)
    ph = k * (x * math.sin(tx) + y * math.sin(ty))
    u = float(amplitude) * _complex(xp.cos(ph), xp.sin(ph), xp, dtype)
    return Field(u, (dy, dx), wavelength, n=n)


def gaussian_beam_parameters(waist: float, wavelength: float, z: float, n: float = 1.0) -> dict:
    """Analytic Gaussian-beam quantities at distance ``z`` from the waist.

    Returns ``z_R = π w0² n / λ``, ``w = w0 sqrt(1 + (z/z_R)²)``, the curvature radius
    ``R = z (1 + (z_R/z)²)`` (inf at the waist) and the Gouy phase ``arctan(z / z_R)``.
    """
    w0 = positive(waist, "waist", FieldError)
    wl = positive(wavelength, "wavelength", FieldError)
    zr = math.pi * w0**2 * n / wl
    w = w0 * math.sqrt(1 + (z / zr) ** 2)
    r = math.inf if z == 0 else z * (1 + (zr / z) ** 2)
    return {"z_R": zr, "w": w, "R": r, "gouy": math.atan2(z, zr)}


def gaussian_beam(shape: tuple[int, int], spacing: Any, wavelength: float, waist: float, *, z: float = 0.0,
                  center: tuple[float, float] = (0.0, 0.0), power: float | None = None, n: float = 1.0,
                  dtype: Any = None, xp: Any = np, like: Any = None) -> Field:
    """TEM00 Gaussian beam of 1/e² intensity radius ``waist`` µm, observed ``z`` µm after its waist.

    ``u = (w0/w) exp(-r²/w²) exp(i [k r² / (2 R) - ψ])`` with ``ψ = arctan(z/z_R)``, the carrier
    ``exp(i k z)`` omitted (a constant).  At ``z = 0`` the beam is flat-phased; ``z < 0`` gives a
    converging beam.  Peak amplitude 1 at the waist, or scaled so that ``Σ|u|² dy dx = power``.
    """
    ny, nx = shape_pair(shape, "shape", FieldError)
    wavelength = positive(wavelength, "wavelength", FieldError)
    w0 = positive(waist, "waist", FieldError)
    dy, dx = _as_spacing(spacing)
    xp, dtype = _xp_dtype(xp, like, dtype)
    p = gaussian_beam_parameters(w0, wavelength, float(z), n)
    k = 2 * math.pi * n / wavelength
    y, x = grid((ny, nx), (dy, dx), xp=xp, like=like)
    r2 = (x - float(center[0])) ** 2 + (y - float(center[1])) ** 2
    amp = (w0 / p["w"]) * xp.exp(-r2 / p["w"] ** 2)
    curv = 0.0 if math.isinf(p["R"]) else k / (2 * p["R"])
    ph = curv * r2 - p["gouy"]
    u = _complex(amp * xp.cos(ph), amp * xp.sin(ph), xp, dtype)
    if power is not None:
        pw = positive(power, "power", FieldError)
        total = float(xp.sum(amp**2)) * dy * dx
        u = u * math.sqrt(pw / total)
    return Field(u, (dy, dx), wavelength, n=n)


def point_source(shape: tuple[int, int], spacing: Any, wavelength: float, z: float, *,
                 position: tuple[float, float] = (0.0, 0.0), amplitude: float = 1.0, n: float = 1.0,
                 dtype: Any = None, xp: Any = np, like: Any = None) -> Field:
    """Field of a point source ``z`` µm before the plane (Rayleigh–Sommerfeld impulse response).

    ``u = amplitude · z / (i λ) · exp(i k ρ) / ρ²`` with ``ρ = sqrt(r² + z²)``, ``λ`` in the medium.
    The spherical phase is sampled faithfully only within ``r_max = z tanθ`` where
    ``n sin θ = λ / (2 d)``; a grid larger than that warns.
    """
    ny, nx = shape_pair(shape, "shape", FieldError)
    wavelength = positive(wavelength, "wavelength", FieldError)
    try:
        z = float(z)
    except (TypeError, ValueError):
        raise FieldError(f"point-source distance z={z!r} must be a non-zero number (µm)") from None
    if not math.isfinite(z) or z == 0:
        raise FieldError(f"point-source distance z={z!r} must be finite and non-zero (µm)")
    dy, dx = _as_spacing(spacing)
    xp, dtype = _xp_dtype(xp, like, dtype)
    wl = wavelength / n
    k = 2 * math.pi / wl
    for d, npx, ax in ((dx, nx, "x"), (dy, ny, "y")):
        sin_max = wl / (2 * d)
        half = npx * d / 2
        if sin_max < 1:
            r_max = abs(z) * sin_max / math.sqrt(1 - sin_max**2)
            if half > r_max:
                warn_sampling(
                    f"point source at z={z:.4g} µm: the spherical phase aliases beyond r = {r_max:.4g} µm "
                    f"(where the local frequency reaches 1/(2 d{ax})) but the grid reaches {half:.4g} µm; "
                    f"reduce the spacing, shrink the grid or move the source further away")
    y, x = grid((ny, nx), (dy, dx), xp=xp, like=like)
    rho = xp.sqrt((x - float(position[0])) ** 2 + (y - float(position[1])) ** 2 + z**2)
    amp = float(amplitude) * abs(z) / (wl * rho**2)
    # z/(iλ) = |z|/λ · (-i sign z)
    ph = k * rho * math.copysign(1.0, z) - math.copysign(math.pi / 2, z)
    u = _complex(amp * xp.cos(ph), amp * xp.sin(ph), xp, dtype)
    return Field(u, (dy, dx), wavelength, n=n)
