"""The safety gate as a pure unit: limits, weights, refusals, power from the shown phase, the permit."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.config import SafetyConfig
from holostim.safety import LaserPermit, SafetyError, SafetyGate, TargetRefused, Verdict
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


def two_spots(n=64, share=0.5):
    """A phase for spots at (16, 32) and (48, 32) on an n = 64 grid: half the light in each, or all in one.

    ``share=1``: a tilted plane wave, every bit of light on (16, 32). ``share=0.5``: the binary grating
    0, 0, π, π repeated along x, whose ±1 orders (16 px either side of the zero order) take half each.
    """
    y, x = np.mgrid[:n, :n]
    if share == 1.0:
        return (2 * np.pi * (16 - n // 2) * x / n) % (2 * np.pi)
    return np.pi * ((x // 2) % 2)


def test_predicted_power_is_computed_from_the_shown_phase():
    g = gate(laser_power_mw=100.0, max_power_per_spot_mw=100, max_total_power_mw=1000)
    # one tilted plane wave: all the light in one spot, wherever the claimed targets are
    v = g.decide("pattern", two_spots(share=1.0), np.array([[16.0, 32.0]]))
    assert v.light and v.reason == ""
    np.testing.assert_allclose(v.predicted_power_mw, [100.0], rtol=1e-6)  # single precision
    assert v.peak_power_mw == pytest.approx(100.0)
    # the same phase judged for two claimed targets: the other gets nothing
    v = g.decide("pattern", two_spots(share=1.0), np.array([[16.0, 32.0], [40.0, 20.0]]))
    np.testing.assert_allclose(v.predicted_power_mw, [100.0, 0.0], atol=1e-4)
    # the binary grating: half the light on each spot
    v = g.decide("pattern", two_spots(), np.array([[16.0, 32.0], [48.0, 32.0]]))
    np.testing.assert_allclose(v.predicted_power_mw, [50.0, 50.0], rtol=1e-6)
    # a flat phase: every bit of light in the zero order
    at, peak, xy = g.spot_fractions(np.zeros((64, 64)), None)
    assert len(at) == 0 and peak == pytest.approx(1.0) and xy == (32.0, 32.0)


def test_power_limits_total_then_per_spot_then_anywhere():
    def limits(per_spot, total):
        return gate(laser_power_mw=100.0, max_power_per_spot_mw=per_spot, max_total_power_mw=total)

    grating, targets = two_spots(), np.array([[16.0, 32.0], [48.0, 32.0]])
    assert limits(50.001, 100.001).decide("pattern", grating, targets).light  # just within both
    with pytest.raises(SafetyError, match=r"predicted total power 100.0 mW exceeds safety.max_total_power"):
        limits(50.001, 99.9).decide("pattern", grating, targets)
    with pytest.raises(SafetyError, match=r"predicted power 50.0 mW on spot 1 exceeds safety.max_power_per"):
        limits(49.9, 100.001).decide("pattern", grating, targets)
    # light where no target is: the claimed target is dark, the spot elsewhere is over the limit
    with pytest.raises(SafetyError, match=r"100.0 mW in one spot at Fourier pixel \(16, 32\).*no target"):
        limits(50.001, 100.001).decide("pattern", two_spots(share=1.0), np.array([[40.0, 20.0]]))


def test_frame_kinds_and_their_verdicts():
    flat = np.zeros((32, 32))
    g = gate(laser_power_mw=10.0, max_power_per_spot_mw=20.0)
    assert g.decide("pattern", flat, np.zeros((0, 2))) == Verdict("pattern", False, "no targets")
    v = g.decide("test_pattern", flat)
    assert not v.light and "safety.test_patterns_with_laser is off" in v.reason
    assert gate(laser_power_mw=10.0, test_patterns_with_laser=True).decide("test_pattern", flat).light
    v = gate(laser_power_mw=30.0, test_patterns_with_laser=True).decide("test_pattern", flat)
    assert not v.light and v.reason.startswith("test pattern: predicted power 30.0 mW")  # shown, blocked
    assert g.decide("calibration", flat).reason == "calibration.laser_power_mw not set"
    assert g.decide("calibration", flat, calibration_power_mw=5.0).light
    v = g.decide("calibration", flat, calibration_power_mw=50.0)
    assert not v.light and "lower calibration.laser_power_mw" in v.reason
    unset = gate()  # laser_power_mw not stated: shown, but never light
    assert unset.decide("pattern", flat, np.array([[3.0, 4.0]])) == Verdict("pattern", False,
                                                                            "safety.laser_power_mw not set")
    with pytest.raises(SafetyError, match="unknown frame kind 'gray'"):
        g.decide("gray", flat)


def test_permit_needs_the_interlock_a_lit_frame_and_its_record():
    p = LaserPermit(laser_power_mw=10.0)
    assert p.state == (False, "no frame shown yet")
    lit = Verdict("pattern", True, "")
    assert p.interlock(True, "") is None  # no frame yet: still blocked, no change
    assert p.showing(lit) is None  # a frame with light does not permit before its record is durable
    assert p.logged(lit) == (True, "")
    assert p.interlock(False, "display stalled") == (False, "display stalled")
    assert p.interlock(True, "") == (True, "")
    assert p.showing(Verdict("pattern", False, "no targets")) == (False, "no targets")  # before display
    assert p.logged(lit) == (True, "")
    assert p.fail("log write failed: disk full") == (False, "log write failed: disk full")
    assert p.interlock(True, "") is None  # a failure is latched until the next good frame
    assert p.logged(lit) == (True, "")
    assert LaserPermit(laser_power_mw=None).state == (False, "safety.laser_power_mw not set")


class FakeInterlock:
    def __init__(self, state):
        self.state = state

    def interlock_state(self):
        return self.state


def test_interlock_state_is_read_from_the_slm():
    assert SafetyGate.permit(FakeInterlock((True, ""))) == (True, "")
    assert SafetyGate.permit(FakeInterlock((0, "display stalled"))) == (False, "display stalled")


@pytest.mark.parametrize("padding, source", [(1, "uniform"), (2, ("gaussian", 20.0))])
def test_gate_far_field_is_the_engines_model(padding, source):
    from holostim.holography import HologramEngine
    from holostim.safety import far_field_intensity

    engine = HologramEngine((64, 48), backend="numpy", precision="double", source=source, padding=padding)
    phase = np.random.default_rng(1).uniform(0, 2 * np.pi, (64, 48))
    want = np.abs(engine.far_field(phase)) ** 2
    got = far_field_intensity(phase, engine.source_amplitude, engine.padding)
    assert got.shape == want.shape == (64 * padding, 48 * padding)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * want.max())
    assert got.sum() == pytest.approx(1.0, rel=1e-5)


def test_gate_far_field_with_a_planned_fft_equals_scipy_and_box_sums_equal_a_plain_loop():
    """The session's fast gate path (planned FFTW, C box filter) against the plain implementations."""
    from holostim.backend import get_backend
    from holostim.safety import _box_sums, far_field_intensity

    rng = np.random.default_rng(3)
    phase = rng.uniform(0, 2 * np.pi, (48, 64)).astype(np.float32)
    amp = rng.uniform(0.5, 1.0, (48, 64)).astype(np.float32)
    plan = get_backend("numpy", "single").new_fft_plan((96, 128))
    fast = far_field_intensity(phase, amp, 2, plan=plan)
    plain = far_field_intensity(phase, amp, 2)
    np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-9)
    assert far_field_intensity(phase, amp, 2, plan=plan) is not fast  # a fresh array each call
    with pytest.raises(ValueError, match="plan of shape"):
        far_field_intensity(phase, amp, 1, plan=plan)

    a = rng.uniform(0, 1, (20, 30)).astype(np.float32)
    for p in (1, 2):
        padded = np.pad(a.astype(np.float64), p)
        want = np.array([[padded[i:i + 2 * p + 1, j:j + 2 * p + 1].sum() for j in range(30)]
                         for i in range(20)])
        np.testing.assert_allclose(_box_sums(a, p), want, rtol=1e-5, atol=1e-6)
