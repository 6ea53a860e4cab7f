"""Phase-retrieval algorithms: GS, weighted GS (Leonardo; Kim's phase-fixed form) and RAAR.

All of them alternate two projections (ARCHITECTURE.md):

* SLM plane ``P_S``: keep the phase, impose the source amplitude ``A`` (``A u / |u|``);
* Fourier plane ``P_F``: keep the phase, impose the target amplitude ``t`` on lit pixels and zero on dark
  pixels.

``gs``
    ``u <- P_S F^-1 P_F F u``: error reduction; the Fourier-plane distance never grows.
``wgs``
    GS whose target amplitudes on the lit pixels are reweighted each iteration,
    ``w <- w * mean(a) / a`` with ``a = |F u| / t`` (Leonardo et al. 2007): dim spots are pushed up,
    bright ones down, which is what makes spot arrays uniform.
    Each spot's update is raised to an exponent ``gamma`` that is multiplied by 0.8 whenever that spot's
    correction changes sign and doubles back towards 1 otherwise (an Rprop-style step). Without it two
    spots never settle: the hologram of two plane waves, ``arg(a1 e^{i θ1} + a2 e^{i θ2})``, flips from
    favouring one spot to favouring the other as ``a1/a2`` crosses 1, and the plain update locks into a
    9 : 1 limit cycle (uniformity 0.2). With many spots the signs rarely flip and the step stays near 1
    (plain Leonardo).
``wgs-kim``
    The same weights, but after ``fix_after`` iterations the Fourier phase on the lit pixels is frozen
    (Kim et al. 2019): the weights then act on a fixed set of interfering spots and converge to very
    high uniformity without the phase drifting away from under them.
``raar``
    Relaxed averaged alternating reflections (Luke 2005) with ``M`` the SLM amplitude set (which the
    displayed hologram must satisfy exactly) and ``S`` the target set:
    ``x <- beta/2 (R_S R_M + I) x + (1 - beta) P_M x = beta x + beta P_S(2 P_M x - x) + (1 - 2 beta) P_M x``,
    with ``R = 2P - I``. The hologram is ``P_M x`` (its phase is the phase of ``x``). ``beta = 1`` is
    Douglas–Rachford / HIO; smaller ``beta`` leans towards GS. Default ``beta = 0.6``, chosen by
    measurement (benchmarks/engine.py): on the Siemens star at 512², tolerance error after 100 iterations
    0.446 (GS 0.485, beta 0.5 0.473, 0.7 0.547, 0.8 0.92, 0.9 1.57); on the 10 x 10 grid 0.447 (GS 0.696);
    on 50 random spots about GS's efficiency. The textbook 0.9 does not settle on these inconsistent
    targets.

This module holds the parts every implementation shares (method names, the Fourier-plane update on the
lit pixels) and :func:`reference_retrieval`, the plain dense implementation written with ``xp.fft`` and
whole-array ``xp`` calls that the engine's fast paths are tested against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from holostim.backend import array_module
from holostim.errors import HolostimError

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_FIX_AFTER",
    "METHODS",
    "MethodError",
    "check_method",
    "fourier_update",
    "reference_retrieval",
]

METHODS = ("gs", "wgs", "wgs-kim", "raar")
DEFAULT_BETA = 0.6
DEFAULT_FIX_AFTER = 10


class MethodError(HolostimError, ValueError):
    """An unknown algorithm name or a parameter outside its range."""


def check_method(method: Any, beta: float = DEFAULT_BETA, fix_after: int = DEFAULT_FIX_AFTER) -> str:
    """Validate an algorithm name and its parameters; returns the name."""
    if method not in METHODS:
        raise MethodError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if method == "raar" and not (0.0 < float(beta) <= 1.0):
        raise MethodError(f"RAAR beta {beta!r} is outside (0, 1]; 0.5 to 0.9 are typical")
    if method == "wgs-kim" and (int(fix_after) != fix_after or fix_after < 0):
        raise MethodError(
            f"fix_after {fix_after!r} must be a non-negative integer (iterations before the freeze)"
        )
    return method


def fourier_update(g, t, weights, method: str, k: int, fix_after: int, state: dict):
    """Fourier-plane values for the lit pixels at iteration ``k`` (and the WGS weight update).

    Parameters
    ----------
    g : array, (n,) complex
        The current far field on the lit pixels (any scale).
    t : array, (n,) real
        Target amplitudes to impose (already scaled for the caller's FFT normalisation).
    weights : array, (n,) real
        WGS weights, updated in place for ``wgs``/``wgs-kim`` (kept at mean 1); ignored otherwise.
    state : dict
        Holds Kim's frozen phase between calls (key ``"phase"``).

    Returns
    -------
    array, (n,) complex
        What the Fourier projection writes on the lit pixels (dark pixels become 0).
    """
    xp = array_module(g)
    mag = xp.abs(g)
    # where the far field is exactly 0 its phase is undefined: take phase 0, never amplitude 0. (It happens:
    # the hologram of a spot grid is exactly periodic, so a spot added off the lattice starts at exactly 0
    # and would stay dark forever if its amplitude were taken from g / |g|.)
    lit = mag > 0
    unit = xp.where(lit, g / xp.where(lit, mag, 1), 1)
    tiny = xp.asarray(np.finfo(np.float32).tiny, dtype=mag.dtype)
    mag = xp.maximum(mag, tiny)
    if method in ("wgs", "wgs-kim"):
        a = mag / t
        # the factor is bounded by 1e3 so that a spot that is momentarily dark (|g| ~ 0) cannot blow its
        # weight up (the normalisation below keeps the weights at mean 1)
        mean_a = xp.mean(a)
        factor = mean_a / xp.maximum(a, 1e-3 * mean_a)
        # adaptive step (module docstring, ``wgs``): a spot whose correction changes sign takes smaller steps
        if "gamma" not in state:
            state["gamma"] = xp.ones(factor.shape, dtype=weights.dtype)
            state["sign"] = xp.zeros(factor.shape, dtype=weights.dtype)
        sign = xp.sign(factor - 1).astype(weights.dtype)
        flip = sign * state["sign"] < 0
        state["gamma"] = xp.where(flip, 0.8 * state["gamma"], xp.minimum(2 * state["gamma"], 1))
        state["sign"] = sign
        weights *= factor ** state["gamma"]
        weights /= xp.mean(weights)
        amp = weights * t
    else:
        amp = t
    if method == "wgs-kim":
        if k < fix_after or "phase" not in state:
            state["phase"] = unit
        return amp * state["phase"]
    return amp * unit


def _centred_fft(xp, u):
    return xp.fft.fftshift(xp.fft.fft2(xp.fft.ifftshift(u), norm="ortho"))


def _centred_ifft(xp, f):
    return xp.fft.fftshift(xp.fft.ifft2(xp.fft.ifftshift(f), norm="ortho"))


def _p_slm(xp, u, amp):
    m = xp.abs(u)
    return xp.where(m > 0, amp * u / xp.where(m > 0, m, 1), amp)


def reference_retrieval(
    amplitude: Any,
    target_intensity: Any,
    method: str,
    iterations: int,
    init_phase: Any,
    beta: float = DEFAULT_BETA,
    fix_after: int = DEFAULT_FIX_AFTER,
) -> tuple[Any, list[Any]]:
    """The plain dense implementation: centred grids, ``xp.fft`` (orthonormal), whole-array ``xp`` calls.

    Parameters
    ----------
    amplitude : array, (ny, nx)
        Source amplitude on the (padded) grid, centred; normalised here to unit power.
    target_intensity : array, (ny, nx)
        Target far-field intensity on the same grid, centred; lit where > 0.
    init_phase : array, (ny, nx)
        Starting SLM phase.

    Returns
    -------
    phase : array
        Final SLM phase in [0, 2π) on the grid.
    far_fields : list of arrays
        Centred far field of the hologram after each iteration, entry 0 = the start.
    """
    xp = array_module(amplitude)
    check_method(method, beta, fix_after)
    amp = amplitude / xp.sqrt(xp.sum(amplitude**2))
    lit = target_intensity > 0
    w_t = xp.where(lit, target_intensity, 0) / xp.sum(target_intensity)
    t = xp.sqrt(w_t * xp.sum(amp**2))
    weights = xp.ones_like(t)
    gamma, last_sign = xp.ones_like(t), xp.zeros_like(t)  # WGS adaptive step (module docstring)
    u = amp * xp.exp(1j * init_phase)
    x = u
    frozen = None
    fields = [_centred_fft(xp, u)]
    for k in range(iterations):
        if method == "raar":
            q = _p_slm(xp, x, amp)
            f = _centred_fft(xp, 2 * q - x)
            pf = _centred_ifft(xp, xp.where(lit, t * f / xp.where(xp.abs(f) > 0, xp.abs(f), 1), 0))
            x = beta * x + beta * pf + (1 - 2 * beta) * q
            u = _p_slm(xp, x, amp)
        else:
            f = fields[-1]
            mag = xp.where(lit, xp.maximum(xp.abs(f), np.finfo(np.float32).tiny), 1)
            if method in ("wgs", "wgs-kim"):
                a = mag / xp.where(lit, t, 1)
                n_lit = xp.sum(lit)
                mean_a = xp.sum(xp.where(lit, a, 0)) / n_lit
                factor = xp.where(lit, mean_a / xp.maximum(a, 1e-3 * mean_a), 1)
                sign = xp.sign(factor - 1)
                gamma = xp.where(sign * last_sign < 0, 0.8 * gamma, xp.minimum(2 * gamma, 1))
                last_sign = sign
                weights = xp.where(lit, weights * factor**gamma, 0)
                weights = weights / (xp.sum(weights) / n_lit)
                target_amp = weights * t
            else:
                target_amp = t
            ph = xp.where(xp.abs(f) > 0, f / mag, 1)
            if method == "wgs-kim":
                if k < fix_after or frozen is None:
                    frozen = ph
                ph = frozen
            u = _p_slm(xp, _centred_ifft(xp, xp.where(lit, target_amp * ph, 0)), amp)
        fields.append(_centred_fft(xp, u))
    phase = xp.remainder(xp.angle(u), 2 * np.pi)
    return phase, fields
