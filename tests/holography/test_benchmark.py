from __future__ import annotations

import numpy as np

from holostim.cli import main as cli_main
from holostim.holography.benchmark import make_problems, numpy_reference


def test_benchmark_problems_follow_the_issue():
    p = make_problems(1024)
    for name, count in (("rand50", 50), ("rand200", 200)):
        xy = p[name].xy
        assert len(xy) == count and len(np.unique(xy, axis=0)) == count
        assert xy.min() >= 256 and xy.max() < 768 and np.all(xy == np.rint(xy))
        assert np.hypot(xy[:, 0] - 512, xy[:, 1] - 512).min() > 16
    g = p["grid10"].xy
    assert len(g) == 100 and set(np.diff(np.unique(g[:, 0]))) == {24}
    assert np.allclose(g.mean(0), 512 + 40)
    assert p["star"].shape == (1024, 1024)


def test_numpy_reference_matches_the_engine_quality():
    from holostim.holography import HologramEngine, metrics

    t = make_problems(128)["rand50"]
    init = np.random.default_rng(1).uniform(0, 2 * np.pi, (128, 128))
    eng = HologramEngine((128, 128), backend="numpy", precision="double")
    # GS is the same arithmetic: the same hologram
    phase, ms = numpy_reference(t, (128, 128), "gs", 10, init)
    r = eng.compute(t, method="gs", iterations=10, init=init)
    d = np.abs(np.angle(np.exp(1j * (phase - r.phase))))
    assert d.max() < 1e-3 and ms > 0
    # the engine's WGS adds an adaptive step to plain Leonardo: the same quality on many spots
    phase, _ = numpy_reference(t, (128, 128), "wgs", 10, init)
    r = eng.compute(t, method="wgs", iterations=10, init=init)
    ref = metrics.evaluate(eng.far_field(phase), t)
    assert abs(ref.efficiency - r.metrics.efficiency) < 0.01
    assert r.metrics.uniformity > 0.99 and ref.uniformity > 0.99


def test_bench_runs_through_the_cli(capsys):
    rc = cli_main(["bench", "--quick", "--size", "64", "--repeats", "1", "--curve-iterations", "5",
                   "--iterations", "3", "--backend", "numpy"])
    out = capsys.readouterr().out
    assert rc == 0
    for word in ("ms/it", "ms->0.99", "/2FFT", "rand50", "grid10", "star", "RAAR vs GS", "warm vs cold",
                 "speed-up"):
        assert word in out, word
