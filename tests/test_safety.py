"""The safety gate as a pure unit: limits, weights, refusals, predicted power and the interlock."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.config import SafetyConfig
from holostim.safety import SafetyError, SafetyGate, TargetRefused
from holostim.session import Target


def gate(**limits) -> SafetyGate:
    return SafetyGate(SafetyConfig(**limits))


def nowhere_refused(x, y):
    return None


def test_spot_count_limit_is_inclusive():
    g = gate(max_spots=2)
    g.check_targets([Target(1, 1), Target(2, 2)], nowhere_refused)
    with pytest.raises(SafetyError, match=r"3 spots exceed safety.max_spots = 2"):
        g.check_targets([Target(1, 1), Target(2, 2), Target(3, 3)], nowhere_refused)


@pytest.mark.parametrize("weight", [0.0, -1.0, float("nan"), float("inf")])
def test_weights_must_be_positive_and_finite(weight):
    with pytest.raises(TargetRefused, match=r"target 2 has weight .*; weights must be positive"):
        gate().check_targets([Target(1, 1), Target(2, 2, weight=weight)], nowhere_refused)


def test_refusal_names_the_target_and_the_reason():
    asked = []

    def refusal(x, y):
        asked.append((x, y))
        return "in the zero order" if x > 5 else None

    with pytest.raises(TargetRefused, match=r"^target 2 refused: in the zero order$"):
        gate().check_targets([Target(1, 2), Target(7, 8), Target(9, 9)], refusal)
    assert asked == [(1, 2), (7, 8)]  # stops at the first refusal


def test_predicted_power_shares_the_laser_by_weight_and_efficiency():
    g = gate(laser_power_mw=100.0)
    np.testing.assert_allclose(g.predicted_power([1.0, 3.0], 0.8), [20.0, 60.0])
    # Unknown or non-finite efficiency: the worst case, all the light on the spots.
    np.testing.assert_allclose(g.predicted_power([1.0, 1.0], None), [50.0, 50.0])
    np.testing.assert_allclose(g.predicted_power([1.0, 1.0], float("nan")), [50.0, 50.0])
    np.testing.assert_allclose(g.predicted_power([1.0], 1.7), [100.0])  # clipped to 1
    np.testing.assert_allclose(g.predicted_power([1.0], -0.2), [0.0])  # clipped to 0
    assert g.predicted_power([], 0.5) is None
    assert gate(laser_power_mw=0.0).predicted_power([1.0], 0.5) is None  # power not modelled


def test_power_limits_total_then_per_spot():
    g = gate(max_power_per_spot_mw=30.0, max_total_power_mw=50.0)
    g.check_power(None)
    g.check_power(np.array([]))
    g.check_power(np.array([30.0, 20.0]))  # both limits reached, not exceeded
    with pytest.raises(SafetyError, match=r"predicted total power 51.0 mW exceeds safety.max_total_power_mw"):
        g.check_power(np.array([30.0, 21.0]))
    with pytest.raises(SafetyError, match=r"predicted power 31.0 mW on spot 2 exceeds safety.max_power_per"):
        g.check_power(np.array([10.0, 31.0]))


class FakeInterlock:
    def __init__(self, state):
        self.state = state

    def interlock_state(self):
        return self.state


def test_permit_follows_the_slm_interlock():
    assert SafetyGate.permit(FakeInterlock((True, ""))) == (True, "")
    assert SafetyGate.permit(FakeInterlock((0, "display stalled"))) == (False, "display stalled")
