"""Phase-retrieval methods: GS, weighted GS (Leonardo; Kim's phase-fixed form) and RAAR, each rule once.

All of them alternate two projections:

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

The per-spot rules are written once, here: :func:`wgs_spot_update` (the weight and its adaptive step) and
:func:`kim_phase` (the frozen phase) are plain arithmetic that runs unchanged on one number (the numba
kernel compiles exactly these functions), and on numpy or CuPy vectors (:func:`fourier_projection`, the
plain implementation). The GPU kernel is C++ (``wgs_spot_update`` in ``kernels/cuda/loop.cu``, the same
rule line by line); tests/holography/test_methods.py compiles those lines on the CPU and compares them
with this one. The dense reference implementation the engine is tested against is
:func:`holostim.holography.reference.reference_retrieval`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from holostim.backend import array_module
from holostim.errors import HolostimError

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_FIX_AFTER",
    "GS_STEP",
    "KIM_STEP",
    "METHODS",
    "WGS_STEP",
    "MethodError",
    "check_method",
    "fourier_projection",
    "fourier_step_mode",
    "kim_phase",
    "wgs_spot_update",
]

METHODS = ("gs", "wgs", "wgs-kim", "raar")
DEFAULT_BETA = 0.6
DEFAULT_FIX_AFTER = 10

# What the Fourier-plane step does on the lit pixels (the ``mode`` of the fused kernels): impose the target
# amplitude (GS, RAAR), the weighted target amplitude (WGS), or that with Kim's frozen phase.
GS_STEP, WGS_STEP, KIM_STEP = 0, 1, 2
_STEP_MODES = {"gs": GS_STEP, "raar": GS_STEP, "wgs": WGS_STEP, "wgs-kim": KIM_STEP}

# Smallest positive float32: the floor of a lit pixel's far-field magnitude in the weight rule, so that a
# spot that is exactly dark gets the largest correction instead of a division by zero.
TINY = float(np.finfo(np.float32).tiny)


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


def fourier_step_mode(method: str) -> int:
    """The Fourier-plane step of ``method``: :data:`GS_STEP`, :data:`WGS_STEP` or :data:`KIM_STEP`."""
    return _STEP_MODES[method]


# ---------------------------------------------------------------------------------------------------------
# The per-spot rules. Only arithmetic, comparisons and np.maximum/np.minimum, so that the same function runs
# on a scalar inside a numba kernel and on a whole numpy or CuPy vector.


def wgs_spot_update(a, mean_a, w, step, i) -> None:
    """WGS weight update of spot ``i`` in place (Leonardo's rule with the adaptive step, module docstring).

    Parameters
    ----------
    a : array
        Spot amplitudes over their target amplitudes, ``|g| / t`` (``|g|`` floored at :data:`TINY`).
    mean_a : the mean of ``a`` over all spots
    w : array
        The weights; callers keep them at mean 1.
    step : array, (2, ...)
        Each spot's step exponent (starts at 1) and the sign of its last correction (starts at 0).
    i : int, or ``...`` for all spots at once
        Which spot: the numba kernel calls this once per spot, the plain code once for the vector.

    The correction ``f = mean_a / a`` is bounded by 1e3, so a spot that is momentarily dark cannot blow its
    weight up. The new exponent is stored before the weight uses it, so the weight sees it in the
    precision of ``step``.
    """
    f = mean_a / np.maximum(a[i], 1e-3 * mean_a)
    s = (f > 1) * 1.0 - (f < 1) * 1.0
    flip, keep = s * step[1, i] < 0, s * step[1, i] >= 0
    step[0, i] = flip * (0.8 * step[0, i]) + keep * np.minimum(2 * step[0, i], 1.0)
    step[1, i] = s
    w[i] = w[i] * f ** step[0, i]


def kim_phase(unit, frozen, fresh):
    """Kim's phase-fixed WGS: the spots' Fourier phase, frozen once ``fresh`` ends.

    It follows the far field while ``fresh`` (the first ``fix_after`` iterations) and is the frozen one
    after that.
    """
    return unit if fresh else frozen


def fourier_projection(g, t, w, step, phase, mode: int, fresh: bool):
    """The Fourier-plane projection on the lit pixels with plain array calls (numpy or CuPy).

    The definition the fused kernels (``fourier_step`` in :mod:`holostim.holography.kernels`) are tested
    against, with the same state vectors.

    Parameters
    ----------
    g : array, (n,) complex
        The current far field on the lit pixels (any scale).
    t : array, (n,) real
        Target amplitudes to impose (already scaled for the caller's FFT normalisation).
    w : array, (n,) real
        WGS weights, updated in place and kept at mean 1 (``mode`` :data:`WGS_STEP`, :data:`KIM_STEP`).
    step : array, (2, n) real
        Each spot's step exponent and last correction sign (see :func:`wgs_spot_update`), updated in place.
    phase : array, (n,) complex
        Kim's frozen unit phasors: overwritten while ``fresh``, used from there otherwise.

    Returns
    -------
    array, (n,) complex
        What the projection writes on the lit pixels (dark pixels become 0).
    """
    xp = array_module(g)
    mag = xp.abs(g)
    # where the far field is exactly 0 its phase is undefined: take phase 0, never amplitude 0. (It happens:
    # the hologram of a spot grid is exactly periodic, so a spot added off the lattice starts at exactly 0
    # and would stay dark forever if its amplitude were taken from g / |g|.)
    lit = mag > 0
    unit = xp.where(lit, g / xp.where(lit, mag, 1), 1)
    if mode == GS_STEP:
        return t * unit
    a = xp.maximum(mag, xp.asarray(TINY, dtype=mag.dtype)) / t
    wgs_spot_update(a, xp.mean(a), w, step, ...)
    w /= xp.mean(w)
    if mode == KIM_STEP:
        phase[...] = kim_phase(unit, phase, fresh)
        unit = phase
    return (w * t) * unit
