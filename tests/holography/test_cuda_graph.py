"""The CUDA-graph loop (``cuda_graph=True``): its caching and fallbacks on the CPU, its replay on a GPU.

On the CPU the graph runner is driven by a recording stand-in for CUDA whose "capture" stores the body
without running it and whose "replay" runs it: what a real graph does with the addresses it captured. So
a forgotten per-spot buffer (one the replay would read from the compute that was captured, not the current
one) shows here as a wrong phase on the second compute.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from holo_helpers import random_spots

from holostim.holography import HologramEngine
from holostim.holography.cuda_graph import GraphLoop

N = 64


class RecordingGraphs:
    """Stand-in for CUDA graphs: capture records the body (runs nothing), replay runs it."""

    def __init__(self, fail: Exception | None = None):
        self.fail = fail

    def new_stream(self):
        return "stream"

    def capture(self, stream, body):
        if self.fail is not None:
            raise self.fail
        return body

    def replay(self, graph, stream):
        graph()


def _engine(graphs=None, **kw):
    eng = HologramEngine((N, N), backend="numpy", precision="double", **kw)
    if graphs is not None:
        eng._graph = GraphLoop(api=graphs)
    return eng


def _same(a, b):
    np.testing.assert_allclose(a.phase, b.phase, atol=1e-9)
    for name in ("efficiency", "uniformity", "std_error"):
        assert getattr(a.metrics, name) == pytest.approx(getattr(b.metrics, name), abs=1e-9)


def test_graph_replays_equal_the_plain_loop_across_targets_methods_and_warm_starts():
    graph, plain = _engine(RecordingGraphs()), _engine()
    t1, t2, t3 = random_spots(N, 12, seed=1), random_spots(N, 12, seed=2), random_spots(N, 7, seed=3)
    calls = [
        (t1, dict(method="wgs", iterations=10)),
        (t2, dict(method="wgs", iterations=10)),  # same shape of work: a replay on new spots
        (t2, dict(method="wgs", iterations=10, warm_start=True)),  # warm: first step GS, weights carried
        (t2, dict(method="wgs", iterations=10, warm_start=True)),
        (t3, dict(method="wgs-kim", iterations=12, fix_after=4)),
        (t1, dict(method="raar", iterations=8, beta=0.7)),
        (t3, dict(method="gs", iterations=5)),
        (t1, dict(method="wgs", iterations=10)),  # back to the first graph
    ]
    for target, kw in calls:
        a, b = graph.compute(target, **kw), plain.compute(target, **kw)
        _same(a, b)
        assert a.iterations == b.iterations == kw["iterations"] and a.stopped_by == "iterations"
    loop = graph._graph
    assert loop.replays == len(calls)
    assert loop.captures == 6  # five kinds of work; the first was evicted (4 kept) and is captured again
    assert len(loop._graphs) == loop.max_graphs


def test_weights_kept_for_a_warm_start_do_not_alias_the_graphs_buffer():
    eng = _engine(RecordingGraphs())
    t = random_spots(N, 10, seed=4)
    eng.compute(t, method="wgs", iterations=6)
    kept = eng._last_weights.copy()
    (entry,) = eng._graph._graphs.values()
    assert eng._last_weights is not entry.spots["w"]
    eng._graph._graphs.clear()  # a later capture may reuse or rewrite the buffers: the kept weights stay
    entry.spots["w"][...] = 123.0
    np.testing.assert_array_equal(eng._last_weights, kept)
    assert kept.mean() == pytest.approx(1.0)


def test_stops_other_than_a_count_run_the_plain_loop_with_one_log_line(caplog):
    graph, plain = _engine(RecordingGraphs()), _engine()
    t = random_spots(N, 12, seed=5)
    with caplog.at_level(logging.INFO, logger="holostim.holography.cuda_graph"):
        for kw in (dict(tolerance=0.05), dict(history=True), dict(tolerance=0.01), dict(budget_ms=1e6)):
            a, b = graph.compute(t, method="wgs", iterations=15, **kw), plain.compute(t, method="wgs",
                                                                                      iterations=15, **kw)
            _same(a, b)
            assert a.stopped_by == b.stopped_by
    assert graph._graph.replays == 0 and graph._graph.captures == 0
    lines = [r.getMessage() for r in caplog.records if "cuda_graph" in r.getMessage()]
    assert len(lines) == 1 and "fixed iteration count" in lines[0]


def test_a_failed_capture_falls_back_to_the_plain_loop_for_good(caplog):
    graph = _engine(RecordingGraphs(fail=RuntimeError("cudaErrorStreamCaptureUnsupported")))
    plain = _engine()
    t = random_spots(N, 12, seed=6)
    with caplog.at_level(logging.WARNING, logger="holostim.holography.cuda_graph"):
        for _ in range(3):
            _same(graph.compute(t, method="wgs", iterations=8), plain.compute(t, method="wgs", iterations=8))
    assert not graph._graph.enabled and graph._graph.captures == 0
    (line,) = [r.getMessage() for r in caplog.records]
    assert "capture failed (RuntimeError: cudaErrorStreamCaptureUnsupported)" in line
    assert "plain loop" in line


def test_cuda_graph_off_the_gpu_is_the_plain_loop_with_one_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="holostim.holography.engine"):
        eng = _engine(cuda_graph=True)
    assert eng.cuda_graph and eng._graph is None
    (line,) = [r.getMessage() for r in caplog.records if "cuda_graph" in r.getMessage()]
    assert "needs the cupy backend" in line and "numpy" in line
    t = random_spots(N, 12, seed=7)
    _same(eng.compute(t, method="wgs", iterations=5), _engine().compute(t, method="wgs", iterations=5))


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize("method", ["gs", "wgs", "wgs-kim", "raar"])
def test_cuda_graph_on_the_gpu_equals_the_launch_by_launch_loop(method, precision):
    size = 256
    graph = HologramEngine((size, size), backend="cupy", precision=precision, cuda_graph=True)
    plain = HologramEngine((size, size), backend="cupy", precision=precision)
    tol = 2e-3 if precision == "single" else 1e-9
    for seed in (1, 2, 2):
        t = random_spots(size, 20, seed=seed)
        a = graph.compute(t, method=method, iterations=25, warm_start=seed == 2)
        b = plain.compute(t, method=method, iterations=25, warm_start=seed == 2)
        d = np.angle(np.exp(1j * (a.phase.astype(float) - b.phase)))
        assert np.abs(d).max() < tol
        assert a.metrics.efficiency == pytest.approx(b.metrics.efficiency, abs=tol)
    assert graph._graph.captures >= 1 and graph._graph.replays == 3 and graph._graph.enabled
