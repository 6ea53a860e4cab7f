"""Zero-order avoidance: the smallest shift of the whole field that takes every spot out of the zero order.

The zero order is the light the SLM does not diffract; it stays on the optical axis (or where a blaze
puts it), and a target inside its exclusion is refused. Shifting the SLM's pattern alone does not help:
the spots would move off their neurons. What helps is moving the *sample relative to the axis* — the
stage, or galvos before the SLM as in Naparm's ZOBlockAvoider — so that every neuron lands outside the
exclusion, and then recomputing the pattern for the neurons where they now are. This module plans that
move; it moves nothing (holostim has no stage or galvo device today).

In the engine's Fourier pixels the spots ``s_i`` move by the field shift ``D``; the shift must keep
every spot at least ``radius`` from the zero order ``z`` and inside the addressable field
``[lo, hi]``. The feasible ``D`` are a box minus a union of disks (centres ``z - s_i``), and the
smallest ``|D|`` in such a set lies at the origin, at the nearest point of one boundary (a circle or an
edge of the box), or where two boundaries meet (with two unknowns, at most two constraints are active
at the optimum). :func:`plan_field_shift` evaluates exactly those candidates and keeps the nearest
feasible one, so the answer is the true minimum, not a grid search's approximation of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["CLEARANCE_PX", "plan_field_shift"]

CLEARANCE_PX = 0.25
"""How far beyond the exclusion radius the planned spots land (so a rounding error never re-refuses one)."""
_TOL = 1e-9


def plan_field_shift(spots_slm: Any, zero_order_slm: Any, radius_px: float, field_lo: Any, field_hi: Any,
                     clearance_px: float = CLEARANCE_PX) -> np.ndarray | None:
    """The smallest field shift ``D`` (Fourier px, ``(dx, dy)``) that clears the zero order for every spot.

    Parameters
    ----------
    spots_slm : (N, 2)
        The spots ``(x, y)`` in the engine's Fourier pixels, where their neurons are now.
    zero_order_slm : (2,)
        Where the zero order is (``N//2`` minus the blaze shift).
    radius_px : float
        The exclusion radius (``calibration.zero_order_radius_px``); spots must end at least this far
        (plus ``clearance_px``) from the zero order.
    field_lo, field_hi : (2,)
        The addressable field, ``(x, y)`` corners: every shifted spot must stay within it.

    Returns
    -------
    ndarray (2,) or None
        ``D`` with every ``s_i + D`` clear and in the field, of the smallest length; ``(0, 0)`` when the
        spots are clear already; ``None`` when no shift fits (the spots spread too wide to all clear the
        exclusion inside the field).
    """
    s = np.asarray(spots_slm, dtype=np.float64).reshape(-1, 2)
    z = np.asarray(zero_order_slm, dtype=np.float64).reshape(2)
    lo, hi = (np.asarray(v, dtype=np.float64).reshape(2) for v in (field_lo, field_hi))
    r = float(radius_px) + float(clearance_px) if radius_px > 0 else 0.0
    if len(s) == 0:
        return np.zeros(2)
    box_lo, box_hi = lo - s.min(axis=0), hi - s.max(axis=0)  # every spot stays in the field
    if np.any(box_lo > box_hi + _TOL):
        return None
    centres = z[None, :] - s  # D inside the disk of radius r around z - s_i puts spot i in the zero order
    cand = np.array(list(_candidates(centres, r, box_lo, box_hi)), dtype=np.float64)
    ok = np.all(cand >= box_lo - _TOL, axis=1) & np.all(cand <= box_hi + _TOL, axis=1)
    if r > 0:
        for k in range(0, len(cand), 4096):  # (candidates × spots) distances, a block at a time
            part = cand[k:k + 4096, None, :] - centres[None, :, :]
            ok[k:k + 4096] &= np.all(np.hypot(part[..., 0], part[..., 1]) >= r - 1e-7, axis=1)
    if not ok.any():
        return None
    feasible = cand[ok]
    best = feasible[int(np.argmin(np.hypot(feasible[:, 0], feasible[:, 1])))]
    return np.where(np.abs(best) < _TOL, 0.0, best)


def _candidates(centres: np.ndarray, r: float, lo: np.ndarray, hi: np.ndarray):
    """The origin, the nearest point of each boundary, and the meeting points of pairs of boundaries."""
    yield np.zeros(2)
    yield np.clip(np.zeros(2), lo, hi)
    corners = [np.array([x, y]) for x in (lo[0], hi[0]) for y in (lo[1], hi[1])]
    yield from corners
    edges = [(corners[0], corners[1]), (corners[2], corners[3]), (corners[0], corners[2]),
             (corners[1], corners[3])]
    for a, b in edges:  # the nearest point of each edge (the only active constraint there)
        d = b - a
        t = 0.0 if float(d @ d) < _TOL else float(np.clip(-(a @ d) / (d @ d), 0.0, 1.0))
        yield a + t * d
    if r == 0.0:
        return
    for c in centres:
        n = math.hypot(*c)
        if n > _TOL:
            yield c - r * c / n  # the circle's point nearest the origin
        else:  # the origin is the centre: every point of the circle is as near; take a few directions
            for a in np.linspace(0, 2 * math.pi, 16, endpoint=False):
                yield r * np.array([math.cos(a), math.sin(a)])
        for a, b in edges:
            yield from _circle_segment(c, r, a, b)
    yield from _circle_circle(centres, r)


def _circle_circle(centres: np.ndarray, r: float):
    """Where pairs of the equal circles meet (all pairs at once: most are too far apart to meet)."""
    i, j = np.triu_indices(len(centres), k=1)
    d = centres[j] - centres[i]
    n = np.hypot(d[:, 0], d[:, 1])
    near = (n > _TOL) & (n <= 2 * r)
    i, d, n = i[near], d[near], n[near]
    mid = centres[i] + d / 2
    h = np.sqrt(np.maximum(r * r - (n / 2) ** 2, 0.0))
    perp = np.column_stack([-d[:, 1], d[:, 0]]) / n[:, None]
    yield from mid + h[:, None] * perp
    yield from mid - h[:, None] * perp


def _circle_segment(c: np.ndarray, r: float, a: np.ndarray, b: np.ndarray):
    d = b - a
    f = a - c
    qa = float(d @ d)
    if qa < _TOL:
        return
    qb, qc = 2 * float(f @ d), float(f @ f) - r * r
    disc = qb * qb - 4 * qa * qc
    if disc < 0:
        return
    for t in ((-qb - math.sqrt(disc)) / (2 * qa), (-qb + math.sqrt(disc)) / (2 * qa)):
        if -_TOL <= t <= 1 + _TOL:
            yield a + t * d
