"""Zernike radial polynomials from the recurrence against exact rational arithmetic (to n = 100),
orthonormality on the disc (to n = 40), and the Noll <-> ANSI index tables."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from holostim.optics import (
    FieldError,
    ansi_to_nm,
    ansi_to_noll,
    nm_to_ansi,
    nm_to_noll,
    noll_to_ansi,
    noll_to_nm,
    radial_polynomial,
    zernike_polynomial,
)


def exact_radial(n: int, m: int, rho: float) -> float:
    """The explicit factorial sum in exact rationals (no cancellation), rounded once at the end."""
    m = abs(m)
    r = Fraction(rho)  # the float's exact value
    f = math.factorial
    total = sum(Fraction((-1) ** k * f(n - k), f(k) * f((n + m) // 2 - k) * f((n - m) // 2 - k))
                * r ** (n - 2 * k) for k in range((n - m) // 2 + 1))
    return float(total)


RHOS = np.array([0.0, 0.1, 0.35, 0.5, 0.77, 0.9, 0.999, 1.0])


@pytest.mark.parametrize("n", [*range(0, 21), 33, 50, 64, 75, 99, 100])
def test_recurrence_matches_exact_rational_evaluation(n):
    ms = range(n % 2, n + 1, 2) if n <= 20 else sorted({n % 2, n % 2 + 2, 10 + n % 2, n - 2, n})
    for m in ms:
        got = radial_polynomial(n, m, RHOS)
        want = np.array([exact_radial(n, m, float(r)) for r in RHOS])
        assert np.max(np.abs(got - want)) < 1e-12, (n, m)
        assert got[-1] == pytest.approx(1.0, abs=1e-13)  # R_n^m(1) = 1


def test_high_order_near_the_rim_is_of_order_one():
    # the factorial sum in float64 gave 47.9 here (terms of 1e28 cancelling)
    z = zernike_polynomial(nm_to_ansi(50, 0), np.array([0.999]), np.array([0.0]))
    assert z[0] == pytest.approx(math.sqrt(51) * exact_radial(50, 0, 0.999), rel=1e-11)
    assert z[0] == pytest.approx(0.47, abs=0.005)
    r = radial_polynomial(100, 0, np.linspace(0, 1, 2001))
    assert np.max(np.abs(r)) <= 1 + 1e-12  # |R_n^m| <= 1 on the disc


def test_orthonormal_on_the_disc_to_order_40():
    nmax = 40
    # Gauss-Legendre in ρ (exact for the degree-81 integrands ρ R R'), trapezoid in θ (exact for
    # trigonometric polynomials of degree < 128)
    x, w = np.polynomial.legendre.leggauss(64)
    rho, wr = (x + 1) / 2, w / 2
    theta = np.arange(128) * (2 * np.pi / 128)
    rr, tt = np.meshgrid(rho, theta, indexing="ij")
    weight = (wr[:, None] * rr * (2 * np.pi / 128)).ravel() / np.pi  # (1/π) ∫ dA
    js = range(nm_to_ansi(nmax, nmax) + 1)
    basis = np.stack([zernike_polynomial(j, rr, tt).ravel() for j in js])
    gram = (basis * weight) @ basis.T
    assert len(js) == 861
    assert np.max(np.abs(gram - np.eye(len(js)))) < 1e-10


# Noll (1976), Table 1 / the common tables (e.g. Wikipedia "Zernike polynomials"): j -> (n, m)
NOLL = {1: (0, 0), 2: (1, 1), 3: (1, -1), 4: (2, 0), 5: (2, -2), 6: (2, 2), 7: (3, -1), 8: (3, 1),
        9: (3, -3), 10: (3, 3), 11: (4, 0), 12: (4, 2), 13: (4, -2), 14: (4, 4), 15: (4, -4),
        16: (5, 1), 17: (5, -1), 18: (5, 3), 19: (5, -3), 20: (5, 5), 21: (5, -5), 22: (6, 0),
        23: (6, -2), 24: (6, 2), 25: (6, -4), 26: (6, 4), 27: (6, -6), 28: (6, 6)}
# ANSI Z80.28 / OSA: j -> (n, m)
ANSI = {0: (0, 0), 1: (1, -1), 2: (1, 1), 3: (2, -2), 4: (2, 0), 5: (2, 2), 6: (3, -3), 7: (3, -1),
        8: (3, 1), 9: (3, 3), 10: (4, -4), 11: (4, -2), 12: (4, 0), 13: (4, 2), 14: (4, 4),
        15: (5, -5), 16: (5, -3), 17: (5, -1), 18: (5, 1), 19: (5, 3), 20: (5, 5), 21: (6, -6),
        22: (6, -4), 23: (6, -2), 24: (6, 0), 25: (6, 2), 26: (6, 4), 27: (6, 6)}
# Noll -> ANSI for the first 22 Noll terms (e.g. primary spherical: Noll 11 = ANSI 12)
NOLL_TO_ANSI = {1: 0, 2: 2, 3: 1, 4: 4, 5: 3, 6: 5, 7: 7, 8: 8, 9: 6, 10: 9, 11: 12, 12: 13, 13: 11,
                14: 14, 15: 10, 16: 18, 17: 17, 18: 19, 19: 16, 20: 20, 21: 15, 22: 24}


def test_index_tables():
    for j, nm in NOLL.items():
        assert noll_to_nm(j) == nm and nm_to_noll(*nm) == j
    for j, nm in ANSI.items():
        assert ansi_to_nm(j) == nm and nm_to_ansi(*nm) == j
    for j, a in NOLL_TO_ANSI.items():
        assert noll_to_ansi(j) == a and ansi_to_noll(a) == j
    # round trips far beyond the tables (and exact integer arithmetic for large indices)
    assert all(ansi_to_noll(noll_to_ansi(j)) == j for j in range(1, 5000))
    assert all(nm_to_ansi(*ansi_to_nm(j)) == j for j in range(0, 5000))
    assert ansi_to_nm(10**12) == ansi_to_nm(10**12)  # no float sqrt rounding
    n, m = ansi_to_nm(10**12)
    assert nm_to_ansi(n, m) == 10**12


def test_bad_indices():
    for bad in (0, -1, 2.0, True):
        with pytest.raises(FieldError, match="Noll index"):
            noll_to_nm(bad)
    with pytest.raises(FieldError, match="ANSI index"):
        ansi_to_nm(-1)
    with pytest.raises(FieldError, match="not a Zernike term"):
        nm_to_noll(3, 0)
