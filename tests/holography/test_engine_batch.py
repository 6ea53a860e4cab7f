"""Batched compute: every set of a (B, N, N) stack is byte for byte its single ``compute``.

The reference is always ``HologramEngine.compute`` of the same target with the same seed on the same
engine; the batch must give the same phase bytes and the same metrics, for every method, both
precisions, flat and Gaussian sources, padding, the plain (``fast=False``) path, and mixed lists where
some targets go to the direct sum.
"""

from __future__ import annotations

import numpy as np
import pytest
from holo_helpers import random_spots

from holostim.backend import Backend
from holostim.holography import METHODS, EngineError, HologramEngine, ImageTarget, SpotTarget
from holostim.holography.batch import choose_batch

N = 64


def _engine(precision="single", **kw):
    return HologramEngine((N, N), backend=Backend("numpy", precision, 1), precision=precision, **kw)


def _targets(count=3, spots=(20, 25, 30, 18)):
    return [random_spots(N, spots[i % len(spots)], seed=10 + i) for i in range(count)]


def _same(batch_result, single_result):
    assert batch_result.phase.dtype == np.float32 and batch_result.phase.shape == single_result.phase.shape
    assert batch_result.phase.tobytes() == single_result.phase.tobytes()
    for name in ("efficiency", "uniformity", "std_error", "tolerance_error", "gap"):
        assert getattr(batch_result.metrics, name) == getattr(single_result.metrics, name), name
    assert batch_result.iterations == single_result.iterations


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("precision", ["single", "double"])
def test_each_set_of_a_batch_is_byte_identical_to_its_single_compute(method, precision):
    eng = _engine(precision)
    targets = _targets(3)
    seeds = [7, 8, 9]
    batch = eng.compute_batch(targets, method, 6, seeds=seeds, fix_after=3, beta=0.7)
    for target, seed, res in zip(targets, seeds, batch, strict=True):
        _same(res, eng.compute(target, method, 6, seed=seed, fix_after=3, beta=0.7))
    # one (3, N, N) plan did the transforms: the stack exists with that shape
    assert eng._stacks[3].buffer.shape == (3, N, N)
    # and the sets really differ (a stack of copies would pass the comparison above too)
    assert len({r.phase.tobytes() for r in batch}) == 3


@pytest.mark.parametrize("kw", [{"source": ("gaussian", 20.0)}, {"padding": 2}, {"fast": False},
                                {"fast": False, "source": ("gaussian", 20.0)}],
                         ids=["gaussian", "padded", "plain", "plain-gaussian"])
@pytest.mark.parametrize("method", ["wgs", "raar"])
def test_batches_match_single_computes_for_every_engine_kind(kw, method):
    eng = _engine(**kw)
    targets = _targets(2)
    for init in ("target", "random"):
        batch = eng.compute_batch(targets, method, 4, seeds=[1, 2], init=init)
        for target, seed, res in zip(targets, (1, 2), batch, strict=True):
            _same(res, eng.compute(target, method, 4, seed=seed, init=init))


def test_the_batched_fftw_plan_transforms_each_slice_like_the_single_plan():
    """What the byte identity rests on: FFTW's (B, N, N) plan rounds every slice as the (N, N) plan does."""
    be = Backend("numpy", "single", 1)
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((4, 128, 128)) + 1j * rng.standard_normal((4, 128, 128))).astype(np.complex64)
    stack, one = be.new_fft_plan((4, 128, 128)), be.new_fft_plan((128, 128))
    stack.buffer[...] = data
    stack.forward()
    for b in range(4):
        one.buffer[...] = data[b]
        one.forward()
        assert one.buffer.tobytes() == stack.buffer[b].tobytes()
    stack.inverse()
    np.testing.assert_allclose(stack.buffer[3] / stack.size, data[3], atol=1e-5)


def test_stacks_of_a_given_size_and_a_short_last_one():
    eng = _engine()
    targets = _targets(7)
    seeds = list(range(7))
    got = eng.compute_batch(targets, "wgs", 4, seeds=seeds, batch=3)  # stacks of 3, 3 and one alone
    for target, seed, res in zip(targets, seeds, got, strict=True):
        _same(res, eng.compute(target, "wgs", 4, seed=seed))
    assert set(eng._stacks) == {3}
    assert eng.compute_batch(targets[:2], "wgs", 4, seeds=0, batch=1)[1].phase.tobytes() == \
        eng.compute(targets[1], "wgs", 4, seed=0).phase.tobytes()


def test_direct_sum_and_image_targets_in_a_batch_keep_their_order():
    eng = _engine(spot_algorithm="auto")
    few = SpotTarget.from_pixels([[10, 12], [40, 20]], shape=(N, N))  # the direct sum's, under auto
    image = ImageTarget(np.pad(np.ones((8, 8)), 28))
    targets = [random_spots(N, 30, seed=1), few, image, random_spots(N, 25, seed=2)]
    got = eng.compute_batch(targets, "wgs", 5, seeds=[4, 5, 6, 7])
    for target, seed, res in zip(targets, (4, 5, 6, 7), got, strict=True):
        _same(res, eng.compute(target, "wgs", 5, seed=seed))
    assert set(eng._stacks) == {3}  # the direct-sum set was computed alone


def test_a_batch_leaves_the_warm_start_where_it_was():
    eng, ref = _engine(), _engine()
    first, nxt = random_spots(N, 20, seed=3), random_spots(N, 22, seed=4)
    eng.compute(first, "wgs", 5)
    ref.compute(first, "wgs", 5)
    eng.compute_batch(_targets(3), "wgs", 5)
    warm = eng.compute(nxt, "wgs", 5, warm_start=True)
    assert warm.phase.tobytes() == ref.compute(nxt, "wgs", 5, warm_start=True).phase.tobytes()


def test_bad_batch_arguments_are_one_clear_error():
    eng = _engine()
    targets = _targets(2)
    with pytest.raises(EngineError, match="batch 0 must be an integer >= 1"):
        eng.compute_batch(targets, batch=0)
    with pytest.raises(EngineError, match="3 seeds for 2 targets"):
        eng.compute_batch(targets, seeds=[1, 2, 3])
    with pytest.raises(EngineError, match="fixed number of iterations"):
        eng.compute_batch(targets, iterations=None)
    assert eng.compute_batch([], "gs", 3) == []


class _Clock:
    """A fake clock, advanced by the test's stand-in for the batch (``cost`` seconds per batch size)."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_choose_batch_picks_the_fastest_identical_size_from_its_measurement(monkeypatch):
    eng = _engine()
    clock = _Clock()
    real = HologramEngine.compute_batch
    cost = {1: 1.0, 2: 1.2, 4: 1.6, 8: 4.0}  # seconds per batch: 4 is the most masks per second

    def timed(self, targets, *a, **kw):
        out = real(self, targets, *a, **kw)
        clock.t += cost[len(targets)]
        return out

    monkeypatch.setattr(HologramEngine, "compute_batch", timed)
    choice = choose_batch(eng, _targets(2), "wgs", 3, candidates=(1, 2, 4, 8), clock=clock, repeats=1)
    assert choice.size == 4 and choice.reason == "measured"
    assert [(s, ident) for s, _, ident in choice.table] == [(1, True), (2, True), (4, True), (8, True)]
    assert choice.table[2][1] == pytest.approx(4 / 1.6)
    assert choice.to_dict()["measured"][0] == {"size": 1, "masks_per_s": 1.0, "identical": True}


def test_choose_batch_keeps_b_1_where_a_batch_would_not_be_byte_identical(monkeypatch):
    """The guard that holds the library's promise on a backend whose batched FFT rounds differently."""
    from dataclasses import replace

    eng = _engine()
    real = HologramEngine.compute_batch

    def rounding_differently(self, targets, *a, **kw):
        out = real(self, targets, *a, **kw)
        if len(targets) > 1:  # one ulp off in one pixel, as a differently-rounding plan would be
            out = [replace(r, phase=np.nextafter(r.phase, np.float32(7))) for r in out]
        return out

    monkeypatch.setattr(HologramEngine, "compute_batch", rounding_differently)
    choice = choose_batch(eng, _targets(2), "wgs", 3, candidates=(1, 2, 4))
    assert choice.size == 1 and "not byte-identical" in choice.reason
    assert [(s, ident) for s, _, ident in choice.table] == [(1, True), (2, False)]
    assert choose_batch(eng, [], "wgs", 3).size == 1


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["wgs", "raar"])
def test_gpu_batch_is_checked_against_the_single_compute(method):
    """On CuPy the batched cuFFT plan is not promised to round like the single one: measure and report it."""
    eng = HologramEngine((256, 256), backend="cupy")
    targets = [random_spots(256, 40, seed=s) for s in range(4)]
    batch = eng.compute_batch(targets, method, 10, seeds=[0, 1, 2, 3])
    singles = [eng.compute(t, method, 10, seed=s) for s, t in enumerate(targets)]
    for b, s in zip(batch, singles, strict=True):
        d = np.abs(np.angle(np.exp(1j * (b.phase.astype(np.float64) - s.phase))))
        assert d.max() < 2e-3  # the same hologram at worst to float32 rounding of the FFT
    choice = choose_batch(eng, targets, method, 10, candidates=(1, 2, 4))
    if choice.size > 1:  # what it picked keeps the library's promise
        picked = eng.compute_batch(targets, method, 10, seeds=[0, 1, 2, 3], batch=choice.size)
        assert all(b.phase.tobytes() == s.phase.tobytes() for b, s in zip(picked, singles, strict=True))
