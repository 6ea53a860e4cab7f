from __future__ import annotations

import threading

import numpy as np
import pytest
from holo_helpers import grid_spots, random_spots

from holostim.backend import BackendError
from holostim.holography import (
    EngineError,
    HologramEngine,
    ImageTarget,
    MethodError,
    SpotTarget,
    TargetError,
    metrics,
    siemens_star,
)
from holostim.holography.kernels import PlainKernels
from holostim.holography.methods import GS_STEP, fourier_projection
from holostim.holography.reference import reference_retrieval

METHODS = ("gs", "wgs", "wgs-kim", "raar")


@pytest.fixture(scope="module")
def engine128():
    return HologramEngine((128, 128), backend="numpy")


def _dense(target, shape):
    img = np.zeros(shape)
    img[target.lit_pixels(shape)] = target.weights
    return img


def _wrapdiff(a, b):
    return np.abs(np.angle(np.exp(1j * (np.asarray(a, float) - np.asarray(b, float)))))


# --- projections and the Fourier model -------------------------------------------------------------------


def test_projections_are_idempotent():
    rng = np.random.default_rng(3)
    k = PlainKernels(np)
    u = rng.standard_normal((32, 32)) + 1j * rng.standard_normal((32, 32))
    amp = rng.random((32, 32)) + 0.1
    once = u.copy()
    k.project_slm(once, amp)
    twice = once.copy()
    k.project_slm(twice, amp)
    np.testing.assert_allclose(np.abs(once), amp)
    np.testing.assert_allclose(twice, once, atol=1e-12)
    # Fourier plane: imposing the target amplitude on the lit pixels twice changes nothing
    g = rng.standard_normal(10) + 1j * rng.standard_normal(10)
    t = rng.random(10) + 0.1
    w, step, phase = np.ones(10), np.array([np.ones(10), np.zeros(10)]), np.ones(10, complex)
    p1 = fourier_projection(g, t, w, step, phase, GS_STEP, True)
    p2 = fourier_projection(p1, t, w, step, phase, GS_STEP, False)
    np.testing.assert_allclose(np.abs(p1), t)
    np.testing.assert_allclose(p2, p1, atol=1e-12)


@pytest.mark.parametrize("padding", [1, 2])
def test_far_field_is_centred_orthonormal_and_parseval(padding):
    eng = HologramEngine((64, 48), backend="numpy", precision="double", padding=padding,
                         source=("gaussian", 20.0))
    phase = np.random.default_rng(0).uniform(0, 2 * np.pi, (64, 48))
    ff = eng.far_field(phase)
    assert ff.shape == (64 * padding, 48 * padding)
    assert np.sum(np.abs(ff) ** 2) == pytest.approx(1, rel=1e-10)  # unit source power, Parseval
    u = np.zeros(ff.shape, complex)
    oy, ox = ff.shape[0] // 2 - 32, ff.shape[1] // 2 - 24
    u[oy : oy + 64, ox : ox + 48] = eng.source_amplitude * np.exp(1j * phase)
    ref = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(u), norm="ortho"))
    np.testing.assert_allclose(ff, ref, atol=1e-12)
    # a blazed grating puts the light k pixels right of the zero order at index N//2
    flat = HologramEngine((64, 64), backend="numpy", precision="double")
    x = np.arange(64)[None, :].repeat(64, 0)
    f2 = flat.far_field(np.mod(2 * np.pi * 5 * x / 64, 2 * np.pi))
    assert np.unravel_index(np.argmax(np.abs(f2)), f2.shape) == (32, 37)
    assert np.abs(f2[32, 37]) ** 2 == pytest.approx(1)


# --- algorithm behaviour -----------------------------------------------------------------------------------


def test_gs_is_error_reduction(engine128, spots128):
    r = engine128.compute(spots128, method="gs", iterations=25, history=True, init="random", seed=1)
    gap = r.metrics.history.gap
    assert len(gap) == 26
    assert np.all(np.diff(gap) <= 1e-6 * gap[:-1]), np.diff(gap).max()
    assert gap[-1] < gap[0]
    assert r.metrics.gap == pytest.approx(gap[-1])


def test_gs_on_two_symmetric_spots_is_the_binary_grating():
    # Two equal spots at +-d pixels from the zero order on an N grid: the start ("target" init: two plane
    # waves with random phases, projected on unit amplitude) is sign(cos(2 pi x / P + phi)) with period
    # P = N / d, a binary 0/pi grating; its +-1 orders carry the same power, so the Fourier projection
    # returns the same two plane waves and GS stays there. Exactly half of each period's samples are
    # positive (cos(x + pi) = -cos x), in one run, so the sampled grating has |c1| = (2 / P) / sin(pi / P)
    # and the two spots get efficiency 8 / (P sin(pi / P))^2 (-> 8 / pi^2 for large P), uniformity 1.
    n, d = 128, 8
    period = n / d
    t = SpotTarget.from_pixels([[n // 2 - d, n // 2], [n // 2 + d, n // 2]], shape=(n, n))
    r = HologramEngine((n, n), backend="numpy", precision="double").compute(t, method="gs", iterations=5)
    assert r.metrics.efficiency == pytest.approx(8 / (period * np.sin(np.pi / period)) ** 2, rel=1e-9)
    assert r.metrics.uniformity == pytest.approx(1, abs=1e-9)


def test_wgs_beats_gs_on_a_regular_grid():
    # The engine's numbers are those of the dense reference implementation (same start, same rules); the
    # claim is the ordering: the weights push dim spots up and bright ones down (WGS more uniform than GS),
    # and freezing the Fourier phase lets them converge further (Kim at least as uniform as Leonardo).
    n, n_it = 256, 20
    eng = HologramEngine((n, n), backend="numpy", precision="double")
    t = grid_spots(n, 10, 12, 20)
    init = np.random.default_rng(1).uniform(0, 2 * np.pi, (n, n))
    got = {}
    for method in ("gs", "wgs", "wgs-kim"):
        got[method] = eng.compute(t, method=method, iterations=n_it, init="random", seed=1).metrics
        _, fields = reference_retrieval(np.ones((n, n)), _dense(t, (n, n)), method, n_it, init)
        ref = metrics.evaluate(fields[-1], t)
        for name in ("efficiency", "uniformity", "std_error", "gap"):
            assert getattr(got[method], name) == pytest.approx(getattr(ref, name), rel=1e-6, abs=1e-9)
    assert got["wgs"].uniformity > got["gs"].uniformity
    assert got["wgs-kim"].uniformity >= got["wgs"].uniformity


def test_tolerance_error_falls_on_the_siemens_star():
    eng = HologramEngine((128, 128), backend="numpy")
    star = siemens_star((128, 128), spokes=36, radius=50)
    for method in ("gs", "raar"):
        r = eng.compute(star, method=method, iterations=30, history=True, beta=0.7, init="random", seed=1)
        tol = r.metrics.history.tolerance_error
        assert tol[-1] < 0.6 * tol[0], (method, tol[0], tol[-1])
        assert np.median(tol[-5:]) < np.median(tol[1:6])


def test_tolerance_stop_and_warm_start_needs_fewer_iterations():
    # a regular grid (where WGS needs tens of iterations) and one spot moved: the interactive case
    eng = HologramEngine((128, 128), backend="numpy")
    t1 = grid_spots(128, 6, 8, 12)
    xy = t1.xy.copy()
    xy[0] += (3, -2)
    t2 = SpotTarget.from_pixels(xy, shape=(128, 128))
    kw = dict(method="wgs", iterations=200, tolerance=1e-3, eps_r=0.02, eps_a=0.5, init="random", seed=1)
    first = eng.compute(t1, **kw)
    assert first.stopped_by == "tolerance" and first.metrics.tolerance_error <= 1e-3
    warm = eng.compute(t2, warm_start=True, **kw)
    cold = HologramEngine((128, 128), backend="numpy").compute(t2, **kw)
    assert warm.stopped_by == cold.stopped_by == "tolerance"
    assert warm.metrics.tolerance_error <= 1e-3 and cold.metrics.tolerance_error <= 1e-3
    # the warm start carries the hologram and weights in which all spots but the moved one are already
    # within tolerance; the cold start begins with every spot out of it
    assert warm.iterations < cold.iterations, (warm.iterations, cold.iterations)


class _Clock:
    """A fake clock (seconds) that stands still unless the test moves it."""

    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def test_budget_stop_logic_with_an_injected_clock(spots128):
    # the stop rule itself is tested exactly in test_stopping.py; here: the engine reads the clock it is given
    clock = _Clock()
    eng = HologramEngine((128, 128), backend="numpy", clock=clock)
    # a clock that stands still: the budget is never spent, the iteration cap stops the run
    r = eng.compute(spots128, method="wgs", iterations=4, budget_ms=10)
    assert (r.iterations, r.stopped_by) == (4, "iterations")
    assert r.timings.total_ms == 0 and r.timings.per_iteration_ms == 0
    # a clock that is past the budget once the call has started: not one iteration starts
    ticks = iter([100.0] + [100.011] * 1000)
    clock2 = HologramEngine((128, 128), backend="numpy", clock=lambda: next(ticks))
    r = clock2.compute(spots128, method="wgs", iterations=None, budget_ms=10)
    assert (r.iterations, r.stopped_by) == (0, "budget")
    assert r.timings.total_ms == pytest.approx(11)


# --- fast paths against the plain implementations ---------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_fast_engine_matches_plain_engine_and_dense_reference(method, spots128):
    n_it = 6 if method == "raar" else 12
    kw = dict(method=method, iterations=n_it, init="random", seed=5, beta=0.7, fix_after=4, history=True)
    fast = HologramEngine((128, 128), backend="numpy").compute(spots128, **kw)
    plain = HologramEngine((128, 128), backend="numpy", fast=False).compute(spots128, **kw)
    init = np.random.default_rng(5).uniform(0, 2 * np.pi, (128, 128))
    ref_phase, fields = reference_retrieval(np.ones((128, 128)), _dense(spots128, (128, 128)), method, n_it,
                                            init, beta=0.7, fix_after=4)
    assert _wrapdiff(fast.phase, plain.phase).max() < 2e-3
    assert _wrapdiff(fast.phase, ref_phase).max() < 2e-3
    ref_gap = [metrics.evaluate(f, spots128).gap for f in fields]
    np.testing.assert_allclose(fast.metrics.history.gap, ref_gap, rtol=1e-4, atol=1e-5)
    for name in ("efficiency", "uniformity", "gap"):
        assert getattr(fast.metrics, name) == pytest.approx(getattr(plain.metrics, name), rel=1e-4, abs=1e-5)


def test_image_target_with_padding_and_gaussian_source_matches_reference():
    star = siemens_star((64, 64), spokes=12, radius=20)
    kw = dict(method="gs", iterations=8, init="random", seed=2)
    src = ("gaussian", 30.0)
    fast = HologramEngine((64, 64), backend="numpy", padding=2, source=src).compute(star, **kw)
    plain = HologramEngine((64, 64), backend="numpy", padding=2, source=src, fast=False).compute(star, **kw)
    assert _wrapdiff(fast.phase, plain.phase).max() < 2e-3
    assert fast.phase.shape == (64, 64)


def test_engine_metrics_agree_with_the_metrics_module(engine128, spots128):
    for method in METHODS:
        r = engine128.compute(spots128, method=method, iterations=10)
        m = metrics.evaluate(engine128.far_field(r.phase), spots128)
        for name in ("efficiency", "uniformity", "std_error", "gap"):
            assert getattr(r.metrics, name) == pytest.approx(getattr(m, name), rel=1e-3, abs=1e-5), name
        assert r.metrics.tolerance_error == pytest.approx(m.tolerance_error, rel=1e-2, abs=1e-4)


def test_single_and_double_precision_agree(spots128):
    kw = dict(method="wgs", iterations=10, init="random", seed=3)
    s = HologramEngine((128, 128), backend="numpy", precision="single").compute(spots128, **kw)
    d = HologramEngine((128, 128), backend="numpy", precision="double").compute(spots128, **kw)
    assert s.phase.dtype == np.float32 and d.phase.dtype == np.float32
    assert _wrapdiff(s.phase, d.phase).max() < 1e-3
    assert s.metrics.uniformity == pytest.approx(d.metrics.uniformity, abs=1e-4)
    assert s.metrics.efficiency == pytest.approx(d.metrics.efficiency, rel=1e-5)


def test_result_contract(engine128, spots128):
    r = engine128.compute(spots128, method="wgs", iterations=5)
    assert r.phase.shape == (128, 128) and r.phase.dtype == np.float32
    assert r.phase.min() >= 0 and r.phase.max() < 2 * np.pi
    assert r.iterations == 5 and r.stopped_by == "iterations"
    assert r.metrics.history is None
    t = r.timings
    assert t.total_ms > 0 and t.per_iteration_ms > 0 and t.transfer_ms == 0
    assert engine128.compute(spots128, iterations=0).iterations == 0
    assert engine128.backend.name == "numpy"


def test_sub_pixel_spot_with_padding_lands_between_pixels():
    eng = HologramEngine((64, 64), backend="numpy", padding=2)
    t = SpotTarget.from_pixels([[40.5, 20.0]], shape=(64, 64))
    r = eng.compute(t, method="gs", iterations=5)
    ff = np.abs(eng.far_field(r.phase)) ** 2
    assert np.unravel_index(np.argmax(ff), ff.shape) == (64 + 2 * (20 - 32), 64 + 2 * 8 + 1)


def test_compute_is_thread_safe(spots128):
    eng = HologramEngine((128, 128), backend="numpy")
    other = HologramEngine((128, 128), backend="numpy")
    ref = eng.compute(spots128, method="wgs", iterations=8).phase
    out = {}

    def work(name, e):
        out[name] = e.compute(spots128, method="wgs", iterations=8).phase

    threads = [threading.Thread(target=work, args=(i, e)) for i, e in enumerate([eng, eng, other, other])]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for ph in out.values():
        np.testing.assert_array_equal(ph, ref)


# --- bad input ----------------------------------------------------------------------------------------------


def test_bad_engine_arguments(engine128, spots128):
    with pytest.raises(EngineError, match=r"engine shape=\(0, 4\) must be two positive integers"):
        HologramEngine((0, 4), backend="numpy")
    with pytest.raises(BackendError, match="'gpu'"):
        HologramEngine((8, 8), backend="gpu")
    with pytest.raises(BackendError, match="'half'"):
        HologramEngine((8, 8), backend="numpy", precision="half")
    with pytest.raises(EngineError, match="padding 0"):
        HologramEngine((8, 8), backend="numpy", padding=0)
    with pytest.raises(EngineError, match="waist -1"):
        HologramEngine((8, 8), backend="numpy", source=("gaussian", -1))
    with pytest.raises(EngineError, match="'laser'"):
        HologramEngine((8, 8), backend="numpy", source="laser")
    with pytest.raises(MethodError, match="unknown method 'gsw'.*gs, wgs, wgs-kim, raar"):
        engine128.compute(spots128, method="gsw")
    with pytest.raises(MethodError, match="beta 1.5"):
        engine128.compute(spots128, method="raar", beta=1.5)
    with pytest.raises(EngineError, match="iterations -1"):
        engine128.compute(spots128, iterations=-1)
    with pytest.raises(EngineError, match="needs a budget_ms"):
        engine128.compute(spots128, iterations=None)
    with pytest.raises(EngineError, match="budget_ms=0 must be a positive"):
        engine128.compute(spots128, budget_ms=0)
    with pytest.raises(EngineError, match="init 'zeros'"):
        engine128.compute(spots128, init="zeros")
    with pytest.raises(TargetError, match="64x64 grid but this engine's SLM is 128x128"):
        engine128.compute(SpotTarget.from_pixels([[3, 3]], shape=(64, 64)))
    with pytest.raises(TargetError, match="does not match"):
        engine128.compute(ImageTarget(np.ones((10, 10))))
    with pytest.raises(EngineError, match="phase has shape"):
        engine128.far_field(np.zeros((3, 3)))


@pytest.mark.gpu
@pytest.mark.parametrize("method", METHODS)
def test_gpu_engine_matches_cpu(method, spots128):
    kw = dict(method=method, iterations=6, init="random", seed=5, beta=0.7, fix_after=3, history=True)
    cpu = HologramEngine((128, 128), backend="numpy").compute(spots128, **kw)
    gpu = HologramEngine((128, 128), backend="cupy").compute(spots128, **kw)
    plain_gpu = HologramEngine((128, 128), backend="cupy", fast=False).compute(spots128, **kw)
    assert _wrapdiff(gpu.phase, cpu.phase).max() < 2e-3
    assert _wrapdiff(gpu.phase, plain_gpu.phase).max() < 2e-3
    np.testing.assert_allclose(gpu.metrics.history.gap, cpu.metrics.history.gap, rtol=1e-4, atol=1e-5)
    assert gpu.timings.transfer_ms >= 0


@pytest.mark.gpu
def test_gpu_budget_and_tolerance(spots128):
    eng = HologramEngine((256, 256), backend="cupy")
    t = random_spots(256, 50, seed=2)
    r = eng.compute(t, method="wgs", iterations=None, budget_ms=20)
    assert r.stopped_by == "budget" and r.iterations > 2
    r2 = eng.compute(t, method="wgs", iterations=200, tolerance=1e-3, eps_r=0.02)
    assert r2.stopped_by == "tolerance"


@pytest.mark.parametrize("weights", [[1, 1], [2, 1]])
@pytest.mark.parametrize("method", ["wgs", "wgs-kim"])
@pytest.mark.parametrize("fast", [True, False])
def test_wgs_two_spots_settle(weights, method, fast):
    # two spots are WGS's hardest case: without the adaptive step the plain update locks into a 9:1 cycle
    eng = HologramEngine((128, 128), backend="numpy", fast=fast)
    t = SpotTarget.from_pixels([[40, 40], [90, 60]], shape=(128, 128), weights=weights)
    r = eng.compute(t, method=method, iterations=40)
    ff = np.abs(eng.far_field(r.phase)) ** 2
    ratio = ff[40, 40] / ff[60, 90]
    assert ratio == pytest.approx(weights[0] / weights[1], rel=0.02)
    assert r.metrics.uniformity > 0.99


@pytest.mark.parametrize("method", ["wgs", "wgs-kim"])
def test_warm_start_with_a_moved_spot_does_not_pull_all_light_into_it(method):
    # the moved spot starts dark; a weight update on it at the first warm iteration would starve the rest
    eng = HologramEngine((256, 256), backend="numpy")
    xy = np.array([[100.0, 90.0], [150.0, 170.0], [120.0, 140.0], [170.0, 100.0], [90.0, 160.0]])
    eng.compute(SpotTarget.from_pixels(xy, shape=(256, 256)), method=method, iterations=20)
    xy[0] += 2
    r = eng.compute(SpotTarget.from_pixels(xy, shape=(256, 256)), method=method, iterations=6, history=True,
                    warm_start=True)
    u = r.metrics.history.uniformity
    assert np.all(u[1:] > 0.98) and u[-1] > 0.999, u  # without the GS first step: 0, 0, 0.19, 0.73, ...


def test_warm_start_takes_one_iteration_even_when_the_budget_is_spent():
    eng = HologramEngine((128, 128), backend="numpy")
    xy = np.array([[40.0, 50.0], [80.0, 90.0], [60.0, 30.0]])
    eng.compute(SpotTarget.from_pixels(xy, shape=(128, 128)), method="wgs", iterations=10)
    xy[0] += 3
    t = SpotTarget.from_pixels(xy, shape=(128, 128))
    r = eng.compute(t, method="wgs", iterations=None, budget_ms=1e-6, warm_start=True)
    assert r.iterations == 1 and r.stopped_by == "budget"  # (any clock is past a 1 ns budget)
    ff = np.abs(eng.far_field(r.phase)) ** 2
    assert ff[53, 43] > 0.2  # the moved spot (x 43, y 53) is lit: the hologram is for the new target
