"""The zero-order avoidance planner against a plain grid search, and its answers where they are known."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from test_session import calibrated, in_field, write_session  # noqa: F401 (a fixture)

from holostim.session import Session
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


@pytest.fixture
def rig(calibrated, tmp_path):  # noqa: F811
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    return write_session(tmp_path)


def test_the_sessions_plan_moves_a_zero_order_target_out_in_all_three_units(rig):
    with Session.open(rig) as s:
        near = in_field(s, s.zero_order_slm + [2.0, -1.0])
        far = in_field(s, (30, 30))
        assert "zero-order" in s.check_target(near.x, near.y)
        plan = s.field_shift([far, near])
        assert plan is not None and plan.needed
        # every neuron moved by the camera shift is accepted by the session's own rule
        for t in (far, near):
            assert s.check_target(t.x + plan.camera_px[0], t.y + plan.camera_px[1]) is None
        # the three units are the same shift: camera px through the calibration, µm through the geometry
        to_slm, to_um = s.calibration.camera_to_slm, s.geometry.slm_to_sample_um
        before = np.array([[near.x, near.y]])
        moved = to_slm(before + plan.camera_px)[0] - to_slm(before)[0]
        np.testing.assert_allclose(moved, plan.slm_px, atol=1e-9)
        um = to_um(np.array([plan.slm_px])) - to_um(np.zeros((1, 2)))
        np.testing.assert_allclose(um[0], plan.sample_um, atol=1e-9)
        r = s.config.calibration.zero_order_radius_px
        assert r <= math.hypot(*(np.array([2.0, -1.0]) + plan.slm_px)) <= r + 0.5  # just out, not far
        assert not s.field_shift([far]).needed  # nothing to move for a set that fits
