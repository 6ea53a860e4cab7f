"""The zero-order avoidance planner against a plain grid search, and its answers where they are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from holostim.zero_order import plan_field_shift

LO, HI = np.array([0.0, 0.0]), np.array([127.0, 127.0])
ZERO = np.array([64.0, 64.0])


def clear(spots, d, zero, radius, lo=LO, hi=HI):
    moved = np.asarray(spots, float).reshape(-1, 2) + d
    return bool(np.all(np.hypot(*(moved - zero).T) >= radius) and np.all(moved >= lo - 1e-9)
                and np.all(moved <= hi + 1e-9))


def grid_minimum(spots, zero, radius, step, extent):
    """The plain implementation: the shortest clear shift among a fine grid of shifts."""
    g = np.arange(-extent, extent + step / 2, step)
    dx, dy = np.meshgrid(g, g)
    shifts = np.column_stack([dx.ravel(), dy.ravel()])
    ok = np.ones(len(shifts), bool)
    for s in np.asarray(spots, float).reshape(-1, 2):
        moved = shifts + s
        ok &= np.hypot(*(moved - zero).T) >= radius
        ok &= np.all((moved >= LO) & (moved <= HI), axis=1)
    return None if not ok.any() else float(np.hypot(*shifts[ok].T).min())


def test_spots_already_clear_need_no_shift():
    assert np.array_equal(plan_field_shift([[10, 10], [100, 30]], ZERO, 8, LO, HI), [0.0, 0.0])


def test_one_spot_on_the_zero_order_moves_by_the_radius():
    d = plan_field_shift([[64, 64]], ZERO, 8, LO, HI, clearance_px=0.0)
    assert math.hypot(*d) == pytest.approx(8.0)
    d = plan_field_shift([[66, 64]], ZERO, 8, LO, HI, clearance_px=0.0)
    np.testing.assert_allclose(d, [6.0, 0.0], atol=1e-9)  # straight away from the zero order


def test_no_shift_fits_when_the_spots_fill_the_field():
    spots = [[0, 0], [127, 127], [64, 64]]  # the field allows no shift at all, one spot is on the axis
    assert plan_field_shift(spots, ZERO, 8, LO, HI) is None


@pytest.mark.parametrize("seed", range(12))
def test_the_plan_is_the_minimum_a_grid_search_finds(seed):
    rng = np.random.default_rng(seed)
    radius = float(rng.uniform(4, 12))
    n = int(rng.integers(1, 7))
    spots = ZERO + rng.normal(0, radius, (n, 2))  # crowded around the zero order: the hard case
    spots = np.clip(spots, 5, 122)
    d = plan_field_shift(spots, ZERO, radius, LO, HI, clearance_px=0.0)
    step = 0.05
    brute = grid_minimum(spots, ZERO, radius, step, extent=4 * radius)
    assert brute is not None and d is not None
    assert clear(spots, d, ZERO, radius - 1e-6)
    # exact ≤ any grid point; the grid's best is within one cell diagonal of the exact minimum
    assert math.hypot(*d) <= brute + 1e-9
    assert brute <= math.hypot(*d) + step * math.sqrt(2)


def test_the_clearance_lands_the_spots_beyond_the_radius():
    d = plan_field_shift([[64, 64], [70, 60]], ZERO, 8, LO, HI)
    assert clear([[64, 64], [70, 60]], d, ZERO, 8.2)
