"""The schedule expanded: onset arithmetic, seeded random order (reproducible, a permutation per trial)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holostim.protocol import ScheduleSpec, expand


def _schedule(**kw) -> ScheduleSpec:
    default = [{"pattern": p, "duration_ms": d} for p, d in zip("abcd", (100, 50, 25, 10), strict=True)]
    steps = kw.pop("steps", default)
    return ScheduleSpec.model_validate({"steps": steps, **kw})


def test_onsets_baselines_intervals_and_total():
    plan = expand(_schedule(repetitions=2, inter_step_interval_ms=200, inter_trial_interval_ms=1000,
                            baseline_pre_ms=500, baseline_post_ms=300))
    # trial 0: a@500 (100) +200 b@800 (50) +200 c@1050 (25) +200 d@1275 (10) -> ends 1285
    # ITI 1000 -> trial 1 starts at 2285: a@2285, b@2585, c@2835, d@3060 -> ends 3070; post 300 -> 3370
    assert [s.onset_ms for s in plan.steps] == [500, 800, 1050, 1275, 2285, 2585, 2835, 3060]
    assert plan.total_ms == 3370
    assert [s.index for s in plan.steps] == list(range(8))
    assert [s.trial for s in plan.steps] == [0] * 4 + [1] * 4
    assert [s.position for s in plan.steps] == [0, 1, 2, 3] * 2
    assert [s.pattern for s in plan.steps] == list("abcd") * 2
    assert [s.duration_ms for s in plan.steps] == [100, 50, 25, 10] * 2
    assert plan.seed is None and plan.trigger == "timer" and len(plan) == 8


def test_defaults_lay_the_steps_back_to_back():
    plan = expand(_schedule())
    assert [s.onset_ms for s in plan.steps] == [0, 100, 150, 175]
    assert plan.total_ms == 185


def test_a_steps_power_is_kept_and_none_means_the_patterns():
    plan = expand(_schedule(steps=[{"pattern": "a", "duration_ms": 1, "power_mw_per_spot": 2.5},
                                   {"pattern": "b", "duration_ms": 1}]))
    assert [s.power_mw_per_spot for s in plan.steps] == [2.5, None]


def test_random_order_from_a_seed_is_this_literal_order():
    # np.random.default_rng(42), one permutation(4) per trial in trial order: [3,2,1,0], [3,2,0,1], [0,3,2,1].
    plan = expand(_schedule(order="random", seed=42, repetitions=3))
    assert [plan.trial_order(t) for t in range(3)] == [list("dcba"), list("dcab"), list("adcb")]
    assert plan.seed == 42
    # Onsets follow the shuffled order: durations d=10, c=25, b=50, a=100 back to back in trial 0.
    assert [s.onset_ms for s in plan.steps[:4]] == [0, 10, 35, 85]
    assert plan.total_ms == 3 * 185
    assert expand(_schedule(order="random", seed=42, repetitions=3)) == plan


def test_different_seeds_give_different_orders():
    orders = {tuple(s.pattern for s in expand(_schedule(order="random", seed=seed, repetitions=5)).steps)
              for seed in range(10)}
    assert len(orders) == 10


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 12), reps=st.integers(1, 20), seed=st.integers(0, 2**63 - 1))
def test_each_trial_holds_each_step_exactly_once(n, reps, seed):
    steps = [{"pattern": f"p{i}", "duration_ms": 1 + i} for i in range(n)]
    plan = expand(_schedule(steps=steps, order="random", seed=seed, repetitions=reps))
    assert len(plan.steps) == n * reps
    for t in range(reps):
        assert Counter(plan.trial_order(t)) == Counter(f"p{i}" for i in range(n))
    onsets = [s.onset_ms for s in plan.steps]
    assert onsets == sorted(onsets)
    pairs = zip(plan.steps, plan.steps[1:], strict=False)
    assert all(b.onset_ms >= a.onset_ms + a.duration_ms for a, b in pairs)


def test_a_missing_seed_is_drawn_once_and_returned():
    drawn = []

    def draw() -> int:
        drawn.append(123)
        return 123

    plan = expand(_schedule(order="random", repetitions=4), draw_seed=draw)
    assert drawn == [123] and plan.seed == 123
    assert plan == expand(_schedule(order="random", seed=123, repetitions=4))
    # The default draws from the OS: a seed that fits the protocol file's seed field.
    seed = expand(_schedule(order="random")).seed
    assert isinstance(seed, int) and 0 <= seed <= 2**63 - 1


def test_fixed_order_draws_no_seed():
    def draw() -> int:
        raise AssertionError("a fixed order needs no seed")

    plan = expand(_schedule(seed=5), draw_seed=draw)
    assert plan.seed is None and plan.trial_order(0) == list("abcd")


@pytest.mark.parametrize("trigger", ["timer", "ttl_start", "ttl_per_step"])
def test_onsets_are_laid_out_the_same_in_every_trigger_mode(trigger):
    plan = expand(_schedule(trigger=trigger, inter_step_interval_ms=10))
    assert plan.trigger == trigger
    assert [s.onset_ms for s in plan.steps] == [0, 110, 170, 205]
