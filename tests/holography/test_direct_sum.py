"""The direct-sum engine: the FFT engine's iteration at z = 0, exact sub-pixel and 3-D placement, WGS.

* at integer positions and z = 0 it is the FFT engine (same start, same updates): masks, spot
  amplitudes and phases after one iteration and the converged metrics agree to float tolerance;
* sub-pixel positions land where asked, measured independently with ``optics.fourier_lens`` on a
  padded grid (centroids);
* WGS makes 50 spots on 3 planes uniform (>= 0.99) within 20 iterations, with both defocus models;
* the high-NA depth groups (full per-depth phasors) give the same fields cached or rebuilt;
* the stop rules (budget with a fake clock, tolerance), history, warm start and refusals.
(Depth placement through the optics core is in test_defocus.py, with the same spot waves.)
"""

from __future__ import annotations

import numpy as np
import pytest
from holo_helpers import random_spots

from holostim.holography import EngineError, HologramEngine, MethodError, SpotTarget, TargetError
from holostim.holography import spot_basis as spot_basis_module
from holostim.holography.defocus import DefocusModel
from holostim.holography.direct_sum import DirectSumEngine
from holostim.holography.spot_algorithm import SpotAlgorithmError, choose_spot_algorithm, direct_sum_crossover
from holostim.optics import Field, fourier_lens

N = 128


def _wrapdiff(a, b):
    return np.abs(np.angle(np.exp(1j * (np.asarray(a, float) - np.asarray(b, float)))))


def _model(kind="high_na"):
    return DefocusModel(kind, 1.04, 200_000.0, 200_000.0 / 512, 8.0, 1.0, 1.33)


@pytest.mark.parametrize("method,precision,tol", [("gs", "double", 1e-9), ("wgs", "double", 1e-9),
                                                  ("wgs-kim", "double", 1e-9), ("wgs", "single", 2e-3)])
def test_equals_the_fft_engine_at_integer_positions(method, precision, tol):
    n = 64
    spots = random_spots(n, 16, seed=4)
    fft = HologramEngine((n, n), backend="numpy", precision=precision)
    direct = DirectSumEngine((n, n), backend="numpy", precision=precision)
    one_f = fft.compute(spots, method=method, iterations=1, fix_after=4)
    one_d = direct.compute(spots, method=method, iterations=1, fix_after=4)
    assert _wrapdiff(one_f.phase, one_d.phase).max() < 5 * tol + 1e-9
    iy, ix = spots.lit_pixels((n, n))
    g_fft = fft.far_field(one_f.phase)[iy, ix]
    g_dir = direct.spot_values(one_d.phase, spots)
    np.testing.assert_allclose(np.abs(g_dir), np.abs(g_fft), rtol=tol, atol=tol * np.abs(g_fft).max())
    assert _wrapdiff(np.angle(g_dir), np.angle(g_fft)).max() < 5 * tol + 1e-9
    conv_f = fft.compute(spots, method=method, iterations=20, fix_after=4).metrics
    conv_d = direct.compute(spots, method=method, iterations=20, fix_after=4).metrics
    for name in ("efficiency", "uniformity", "std_error", "gap"):
        assert getattr(conv_d, name) == pytest.approx(getattr(conv_f, name), rel=tol, abs=tol), name


def test_sub_pixel_positions_land_where_asked():
    xy = np.array([[70.25, 40.5], [40.75, 81.3], [90.6, 66.1], [55.4, 50.85]])
    target = SpotTarget.from_pixels(xy, shape=(N, N))
    r = DirectSumEngine((N, N), backend="numpy", precision="double").compute(target, iterations=20)
    pad = 8
    big = np.zeros((pad * N, pad * N), complex)
    o = pad * N // 2 - N // 2
    big[o:o + N, o:o + N] = np.exp(1j * r.phase.astype(float))
    img = np.abs(fourier_lens(Field(big, 8.0, 1.04), 200_000.0).u) ** 2
    for x, y in xy:
        cx, cy = pad * N // 2 + pad * (x - N // 2), pad * N // 2 + pad * (y - N // 2)
        iy0, ix0 = int(round(cy)), int(round(cx))
        win = img[iy0 - 4:iy0 + 5, ix0 - 4:ix0 + 5]
        win = np.maximum(win - 0.3 * win.max(), 0)
        yy, xx = np.mgrid[iy0 - 4:iy0 + 5, ix0 - 4:ix0 + 5]
        fx, fy = (xx * win).sum() / win.sum(), (yy * win).sum() / win.sum()
        got = np.array([N // 2 + (fx - pad * N // 2) / pad, N // 2 + (fy - pad * N // 2) / pad])
        assert np.abs(got - (x, y)).max() < 0.05, (got, (x, y))


@pytest.mark.parametrize("kind", ["paraxial", "high_na"])
def test_wgs_makes_50_spots_on_3_planes_uniform(kind):
    n = 256  # 50 spots spread over 200 px: on a 128² grid's centre they crowd and WGS needs ~30 iterations
    base = random_spots(n, 50, seed=3, window=200)
    z = np.repeat([-10.0, 0.0, 12.0], [17, 17, 16])
    target = SpotTarget.from_pixels(base.xy, shape=(n, n), z=z)
    model = DefocusModel(kind, 1.04, 200_000.0, 200_000.0 / (4 * n), 8.0, 1.0, 1.33)
    r = DirectSumEngine((n, n), backend="numpy", defocus=model).compute(
        target, method="wgs", iterations=20, history=True)
    hist = r.metrics.history
    assert len(hist) == 21 and hist.uniformity[0] < 0.95  # the start (spots with random phases) is not
    assert r.metrics.uniformity >= 0.99 and hist.uniformity[-1] == r.metrics.uniformity
    assert r.metrics.efficiency > 0.7


def test_high_na_groups_cached_or_rebuilt_give_the_same_field(monkeypatch):
    base = random_spots(N, 12, seed=1)
    target = SpotTarget.from_pixels(base.xy, shape=(N, N), z=np.repeat([-4.0, 0.0, 5.0], 4))
    kw = dict(method="wgs", iterations=5)
    def run(t):
        return DirectSumEngine((N, N), backend="numpy", precision="double", defocus=_model()).compute(t, **kw)

    cached = run(target)
    monkeypatch.setattr(spot_basis_module, "PHASOR_CACHE_BYTES", 0)
    rebuilt = run(target)
    assert _wrapdiff(cached.phase, rebuilt.phase).max() < 1e-9
    # at z = 0 the high-NA path (depth groups) and the separable path are one and the same
    flat = run(base)
    plain = DirectSumEngine((N, N), backend="numpy", precision="double").compute(base, **kw)
    assert _wrapdiff(flat.phase, plain.phase).max() < 1e-9


def test_stop_rules_history_and_warm_start(spots128):
    ticks = iter([100.0] + [100.011] * 1000)
    eng = DirectSumEngine((N, N), backend="numpy", clock=lambda: next(ticks))
    r = eng.compute(spots128, iterations=None, budget_ms=10)
    assert (r.iterations, r.stopped_by) == (0, "budget")
    assert r.timings.total_ms == pytest.approx(11)
    eng = DirectSumEngine((N, N), backend="numpy")
    r = eng.compute(spots128, method="wgs", iterations=50, tolerance=0.0)
    assert r.stopped_by == "tolerance" and r.metrics.tolerance_error == 0.0 and r.iterations < 50
    r = eng.compute(spots128, method="wgs", iterations=8, history=True)
    assert len(r.metrics.history) == 9 and r.metrics.history.uniformity[-1] == r.metrics.uniformity
    warm = eng.compute(spots128, method="wgs", iterations=1, warm_start=True, history=True)
    # it starts from the carried hologram, not from a fresh one
    assert warm.metrics.history.uniformity[0] == pytest.approx(r.metrics.uniformity, abs=1e-6)
    assert warm.metrics.history.efficiency[0] == pytest.approx(r.metrics.efficiency, abs=1e-6)


def test_refusals(spots128):
    eng = DirectSumEngine((N, N), backend="numpy")
    with pytest.raises(MethodError, match="'raar' is not available for the direct sum"):
        eng.compute(spots128, method="raar")
    deep = SpotTarget.from_pixels([[40, 50, 3.0]], shape=(N, N))
    with pytest.raises(TargetError, match="3-D target .* needs a defocus model"):
        eng.compute(deep)
    with pytest.raises(TargetError, match="64x64 grid .* 128x128"):
        eng.compute(SpotTarget.from_pixels([[10, 10]], shape=(64, 64)))
    with pytest.raises(EngineError, match="init 'zeros'"):
        eng.compute(spots128, init="zeros")


def test_the_engine_chooses(spots128):
    deep = SpotTarget.from_pixels([[40, 50, 3.0], [70, 60, -2.0]], shape=(N, N))
    assert choose_spot_algorithm("fft", deep, "wgs", (N, N)) == "direct"  # 3-D: always the direct sum
    assert choose_spot_algorithm("auto", spots128, "raar", (N, N)) == "fft"
    assert choose_spot_algorithm("auto", spots128, "wgs", (N, N), tolerance=0.01) == "fft"  # dark pixels
    assert direct_sum_crossover((1024, 1024)) == 15 and direct_sum_crossover((1024, 1024), 2) == 66
    many = random_spots(N, direct_sum_crossover((N, N)) + 1, seed=2)
    few = random_spots(N, direct_sum_crossover((N, N)), seed=3)
    assert choose_spot_algorithm("auto", few, "wgs", (N, N)) == "direct"
    assert choose_spot_algorithm("auto", many, "wgs", (N, N)) == "fft"
    assert choose_spot_algorithm("direct", many, "wgs", (N, N)) == "direct"
    with pytest.raises(SpotAlgorithmError, match="spot_algorithm 'gpu' is unknown"):
        HologramEngine((8, 8), backend="numpy", spot_algorithm="gpu")
    eng = HologramEngine((N, N), backend="numpy", spot_algorithm="direct", defocus=_model())
    alone = DirectSumEngine((N, N), backend="numpy", defocus=_model())
    for target in (spots128, deep):
        a, b = eng.compute(target, iterations=5), alone.compute(target, iterations=5)
        assert _wrapdiff(a.phase, b.phase).max() < 1e-6
    fft = HologramEngine((N, N), backend="numpy", defocus=_model())  # default "fft": 3-D still direct
    a, b = fft.compute(deep, iterations=5), alone.compute(deep, iterations=5)
    assert _wrapdiff(a.phase, b.phase).max() < 1e-6
