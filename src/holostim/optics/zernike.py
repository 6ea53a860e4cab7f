"""Zernike polynomials: ANSI (OSA) single index, orthonormal on the unit disc.

Aberrations are given as coefficients in radians of these orthonormal polynomials, so that a
coefficient *is* the RMS wavefront error it contributes over the pupil, and coefficients of
different terms add in quadrature — the convention of ANSI Z80.28 and of most wavefront sensors.

``Z_j`` with ``j = (n (n + 2) + m) / 2``; normalisation ``sqrt(2 (n + 1))`` for ``m != 0`` and
``sqrt(n + 1)`` for ``m = 0``, so ``(1/π) ∫_disc Z_i Z_j dA = δ_ij``.  ``m > 0`` is ``cos(m θ)``,
``m < 0`` is ``sin(|m| θ)``, with ``θ`` measured from +x towards +y.

The radial polynomials come from Kintner's three-term recurrence in ``n`` at fixed ``m``, not from
the explicit factorial sum: the sum's alternating terms reach ~1e28 at ``n = 50`` and cancel to
a result of order one, so in float64 it returns noise (``R_50^0(0.999)`` came out as 47.9 instead of
0.47); the recurrence stays accurate to ``n = 100`` and beyond. :func:`noll_to_ansi` and
:func:`ansi_to_noll` convert Noll's single index (used by many wavefront sensors and papers) to and
from the ANSI index used here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from holostim.backend import array_namespace, is_traced
from holostim.checks import positive
from holostim.optics.field import FieldError, _device_kw, grid

__all__ = [
    "ZERNIKE_NAMES",
    "ansi_to_nm",
    "ansi_to_noll",
    "nm_to_ansi",
    "nm_to_noll",
    "noll_to_ansi",
    "noll_to_nm",
    "radial_polynomial",
    "zernike_phase",
    "zernike_polynomial",
]

#: Common names of the first ANSI terms.
ZERNIKE_NAMES = {
    0: "piston", 1: "tilt y", 2: "tilt x", 3: "oblique astigmatism", 4: "defocus",
    5: "vertical astigmatism", 6: "vertical trefoil", 7: "vertical coma", 8: "horizontal coma",
    9: "oblique trefoil", 12: "primary spherical",
}


def ansi_to_nm(j: int) -> tuple[int, int]:
    """Radial order ``n`` and azimuthal frequency ``m`` of ANSI index ``j`` (``j >= 0``)."""
    if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or j < 0:
        raise FieldError(f"Zernike ANSI index {j!r} must be a non-negative integer")
    n = int((math.isqrt(8 * int(j) + 1) - 1) // 2)  # exact in integers, for any size of j
    m = 2 * int(j) - n * (n + 2)
    return n, m


def nm_to_ansi(n: int, m: int) -> int:
    """ANSI index of ``(n, m)``; needs ``|m| <= n`` and ``n - m`` even."""
    _check_nm(n, m)
    return (n * (n + 2) + m) // 2


def _check_nm(n: int, m: int) -> None:
    if n < 0 or abs(m) > n or (n - m) % 2:
        raise FieldError(f"(n, m)=({n}, {m}) is not a Zernike term; need |m| <= n and n - m even")


def noll_to_nm(j: int) -> tuple[int, int]:
    """Radial order ``n`` and azimuthal frequency ``m`` of Noll index ``j`` (``j >= 1``).

    Noll (1976): within an order, ``|m|`` increases; even ``j`` is the ``cos`` term (``m > 0``), odd
    ``j`` the ``sin`` term (``m < 0``).
    """
    if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or j < 1:
        raise FieldError(f"Zernike Noll index {j!r} must be an integer >= 1")
    j = int(j)
    n = int((math.isqrt(8 * j - 7) - 1) // 2)  # largest n with n (n + 1) / 2 < j
    k = j - n * (n + 1) // 2 - 1  # position within order n, from 0
    am = 2 * ((k + 1) // 2) if n % 2 == 0 else 2 * (k // 2) + 1
    if am == 0:
        return n, 0
    return n, am if j % 2 == 0 else -am


def nm_to_noll(n: int, m: int) -> int:
    """Noll index of ``(n, m)``; needs ``|m| <= n`` and ``n - m`` even."""
    _check_nm(n, m)
    base = n * (n + 1) // 2 + 1
    am = abs(m)
    if am == 0:
        return base
    first = base + am - 1  # the two terms of this |m| are Noll first and first + 1
    want_even = m > 0
    return first if (first % 2 == 0) == want_even else first + 1


def noll_to_ansi(j: int) -> int:
    """ANSI (OSA) index of Noll index ``j``."""
    return nm_to_ansi(*noll_to_nm(j))


def ansi_to_noll(j: int) -> int:
    """Noll index of ANSI (OSA) index ``j``."""
    return nm_to_noll(*ansi_to_nm(j))


def radial_polynomial(n: int, m: int, rho: Any) -> Any:
    """Zernike radial polynomial ``R_n^m(ρ)`` (unnormalised, ``R_n^m(1) = 1``), by Kintner's recurrence.

    ``R_n = ((K2 ρ² + K3) R_{n-2} + K4 R_{n-4}) / K1`` with ``K1 = (n+m)(n-m)(n-2)/2``,
    ``K2 = 2n(n-1)(n-2)``, ``K3 = -m²(n-1) - n(n-1)(n-2)``, ``K4 = -n(n+m-2)(n-m-2)/2``, started from
    ``R_m^m = ρ^m`` and ``R_{m+2}^m = (m+2)ρ^{m+2} - (m+1)ρ^m`` (Kintner 1976; Chong et al. 2003).
    Every step is a bounded combination of values in ``[-1, 1]`` on the disc, so no cancellation grows.
    """
    _check_nm(n, abs(m))
    m = abs(m)
    rho2 = rho * rho
    r_prev = rho**m if m else rho * 0.0 + 1.0  # R_m^m
    if n == m:
        return r_prev
    r = ((m + 2) * rho2 - (m + 1)) * r_prev  # R_{m+2}^m
    for k in range(m + 4, n + 1, 2):
        k1 = (k + m) * (k - m) * (k - 2) / 2
        k2 = 2 * k * (k - 1) * (k - 2)
        k3 = -(m**2) * (k - 1) - k * (k - 1) * (k - 2)
        k4 = -k * (k + m - 2) * (k - m - 2) / 2
        r_prev, r = r, ((k2 * rho2 + k3) * r + k4 * r_prev) / k1
    return r


def zernike_polynomial(j: int, rho: Any, theta: Any) -> Any:
    """Orthonormal Zernike ``Z_j(ρ, θ)`` evaluated on arrays (no masking outside ``ρ <= 1``)."""
    n, m = ansi_to_nm(j)
    xp = array_namespace(rho, theta)
    norm = math.sqrt(n + 1) if m == 0 else math.sqrt(2 * (n + 1))
    r = radial_polynomial(n, m, rho)
    if m > 0:
        return norm * r * xp.cos(m * theta)
    if m < 0:
        return norm * r * xp.sin(-m * theta)
    return norm * r


def _coefficient_items(coefficients: Any) -> list[tuple[int, Any]]:
    if is_traced(coefficients):  # jax.grad/vmap over the coefficient vector: every term, unchecked
        if np.ndim(coefficients) != 1:
            raise FieldError("traced Zernike coefficients must be a 1-D vector indexed by ANSI j")
        return [(j, coefficients[j]) for j in range(int(coefficients.shape[0]))]
    if isinstance(coefficients, Mapping) and is_traced(*coefficients.values()):
        items = [(int(j), c) for j, c in coefficients.items()]
        for j, _ in items:
            ansi_to_nm(j)
        return items
    if isinstance(coefficients, Mapping):
        items = [(int(j), float(c)) for j, c in coefficients.items()]
    elif isinstance(coefficients, (Sequence, np.ndarray)) or hasattr(coefficients, "__array__"):
        items = [(j, float(c)) for j, c in enumerate(np.asarray(coefficients, dtype=float).ravel())]
    else:
        raise FieldError(
            f"Zernike coefficients {coefficients!r}: give a sequence indexed by ANSI j or a dict {{j: rad}}"
        )
    for j, c in items:
        if not math.isfinite(c):
            raise FieldError(f"Zernike coefficient for j={j} is {c!r}; it must be finite (radians)")
        ansi_to_nm(j)
    return [(j, c) for j, c in items if c != 0.0]


def zernike_phase(coefficients: Sequence[float] | Mapping[int, float], shape: tuple[int, int],
                  spacing: Any, radius: float, *, center: tuple[float, float] = (0.0, 0.0),
                  xp: Any = np, like: Any = None) -> Any:
    """Phase ``Σ c_j Z_j(r / radius, θ)`` in radians on a centred grid; zero outside the pupil.

    Parameters
    ----------
    coefficients
        Radians per orthonormal term, as a sequence indexed by ANSI ``j`` or a dict ``{j: c}``.
    shape, spacing
        Grid shape ``(Ny, Nx)`` and spacing ``(dy, dx)`` in µm.
    radius
        Pupil radius in µm.
    center
        Pupil centre ``(x, y)`` in µm relative to the grid origin.
    """
    radius = positive(radius, "pupil radius", FieldError)
    if like is not None:
        xp = array_namespace(like)
    y, x = grid(shape, spacing, xp=xp, like=like)
    xs = (x - float(center[0])) / radius
    ys = (y - float(center[1])) / radius
    rho = xp.sqrt(xs**2 + ys**2)
    inside = rho <= 1.0
    # evaluate at ρ = 0 outside the pupil: a high order at the grid's corners (ρ ~ 1.4 or more) would
    # overflow, and an inf there turns the masked-out gradient into NaN
    rho = xp.where(inside, rho, xp.zeros_like(rho))
    theta = xp.atan2(ys, xs)
    phase = xp.zeros((int(shape[-2]), int(shape[-1])), dtype=xp.float64, **_device_kw(like))
    for j, c in _coefficient_items(coefficients):
        phase = phase + c * zernike_polynomial(j, rho, theta)
    return xp.where(inside, phase, xp.zeros_like(phase))
