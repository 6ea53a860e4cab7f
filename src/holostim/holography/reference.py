"""The plain dense phase retrieval: what the engine's fast paths are tested against.

Centred grids, orthonormal ``xp.fft``, whole-array ``xp`` calls and the per-spot rules of
:mod:`holostim.holography.methods` applied on the full grid (masked to the lit pixels): the obvious
implementation of each method, with no layout tricks, no folded normalisation and no fused kernels, so a
disagreement with the engine points at the engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from holostim.backend import array_module
from holostim.holography.methods import (
    DEFAULT_BETA,
    DEFAULT_FIX_AFTER,
    TINY,
    check_method,
    kim_phase,
    wgs_spot_update,
)

__all__ = ["reference_retrieval"]


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
    """Run ``iterations`` of ``method`` densely.

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
    step = xp.stack([xp.ones_like(t), xp.zeros_like(t)])  # WGS adaptive step (methods.wgs_spot_update)
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
            mag = xp.where(lit, xp.maximum(xp.abs(f), TINY), 1)
            if method in ("wgs", "wgs-kim"):
                a = mag / xp.where(lit, t, 1)
                n_lit = xp.sum(lit)
                mean_a = xp.sum(xp.where(lit, a, 0)) / n_lit
                wgs_spot_update(a, mean_a, weights, step, ...)
                weights = xp.where(lit, weights, 0)
                weights = weights / (xp.sum(weights) / n_lit)
                target_amp = weights * t
            else:
                target_amp = t
            ph = xp.where(xp.abs(f) > 0, f / mag, 1)
            if method == "wgs-kim":
                frozen = kim_phase(ph, frozen, k < fix_after or frozen is None)
                ph = frozen
            u = _p_slm(xp, _centred_ifft(xp, xp.where(lit, target_amp * ph, 0)), amp)
        fields.append(_centred_fft(xp, u))
    phase = xp.remainder(xp.angle(u), 2 * np.pi)
    return phase, fields
