"""Zernike polynomials: ANSI (OSA) single index, orthonormal on the unit disc.

Aberrations are given as coefficients in radians of these orthonormal polynomials, so that a
coefficient *is* the RMS wavefront error it contributes over the pupil, and coefficients of
different terms add in quadrature — the convention of ANSI Z80.28 and of most wavefront sensors.

``Z_j`` with ``j = (n (n + 2) + m) / 2``; normalisation ``sqrt(2 (n + 1))`` for ``m != 0`` and
``sqrt(n + 1)`` for ``m = 0``, so ``(1/π) ∫_disc Z_i Z_j dA = δ_ij``.  ``m > 0`` is ``cos(m θ)``,
``m < 0`` is ``sin(|m| θ)``, with ``θ`` measured from +x towards +y.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from holostim.backend import array_namespace
from holostim.checks import positive
from holostim.optics.field import FieldError, _device_kw, grid

__all__ = ["ansi_to_nm", "nm_to_ansi", "zernike_phase", "zernike_polynomial", "ZERNIKE_NAMES"]

#: Common names of the first ANSI terms.
ZERNIKE_NAMES = {
    0: "piston", 1: "tilt y", 2: "tilt x", 3: "oblique astigmatism", 4: "defocus",
    5: "vertical astigmatism", 6: "vertical trefoil", 7: "vertical coma", 8: "horizontal coma",
    9: "oblique trefoil", 12: "primary spherical",
}


def ansi_to_nm(j: int) -> tuple[int, int]:
    """Radial order ``n`` and azimuthal frequency ``m`` of ANSI index ``j`` (``j >= 0``)."""
    if not isinstance(j, (int, np.integer)) or j < 0:
        raise FieldError(f"Zernike ANSI index {j!r} must be a non-negative integer")
    n = int(math.ceil((-3 + math.sqrt(9 + 8 * int(j))) / 2))
    m = 2 * int(j) - n * (n + 2)
    return n, m


def nm_to_ansi(n: int, m: int) -> int:
    """ANSI index of ``(n, m)``; needs ``|m| <= n`` and ``n - m`` even."""
    if n < 0 or abs(m) > n or (n - m) % 2:
        raise FieldError(f"(n, m)=({n}, {m}) is not a Zernike term; need |m| <= n and n - m even")
    return (n * (n + 2) + m) // 2


def _radial(n: int, m: int, rho: Any, xp: Any) -> Any:
    m = abs(m)
    out = xp.zeros_like(rho)
    for k in range((n - m) // 2 + 1):
        c = ((-1) ** k * math.factorial(n - k)
             / (math.factorial(k) * math.factorial((n + m) // 2 - k) * math.factorial((n - m) // 2 - k)))
        out = out + c * rho ** (n - 2 * k)
    return out


def zernike_polynomial(j: int, rho: Any, theta: Any) -> Any:
    """Orthonormal Zernike ``Z_j(ρ, θ)`` evaluated on arrays (no masking outside ``ρ <= 1``)."""
    n, m = ansi_to_nm(j)
    xp = array_namespace(rho, theta)
    norm = math.sqrt(n + 1) if m == 0 else math.sqrt(2 * (n + 1))
    r = _radial(n, m, rho, xp)
    if m > 0:
        return norm * r * xp.cos(m * theta)
    if m < 0:
        return norm * r * xp.sin(-m * theta)
    return norm * r


def _coefficient_items(coefficients: Any) -> list[tuple[int, float]]:
    if isinstance(coefficients, Mapping):
        items = [(int(j), float(c)) for j, c in coefficients.items()]
    elif isinstance(coefficients, (Sequence, np.ndarray)):
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
    theta = xp.atan2(ys, xs)
    phase = xp.zeros((int(shape[-2]), int(shape[-1])), dtype=xp.float64, **_device_kw(like))
    for j, c in _coefficient_items(coefficients):
        phase = phase + c * zernike_polynomial(j, rho, theta)
    return xp.where(rho <= 1.0, phase, xp.zeros_like(phase))
