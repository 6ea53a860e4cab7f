"""An engine in other processes: pickled to a spawned one (same masks), refused in a forked one (no hang).

Dask and multiprocessing send engines (or tasks holding them) to worker processes. Pickling sends the
constructor's arguments; the copy rebuilds its plans and buffers and computes the same bytes. A child
forked after an engine existed has lost FFTW's and numba's worker threads, so it refuses to build or run
one with a message naming the fix, instead of hanging on the first FFT.
"""

from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest

from holostim.holography import HologramEngine, SpotTarget
from holostim.holography.engine import EngineError

SHAPE = (32, 32)
SPOTS = np.array([[5.0, 7.0], [20.0, 9.0], [11.0, 25.0]])


def _compute(engine: HologramEngine) -> np.ndarray:
    target = SpotTarget.from_pixels(SPOTS, shape=SHAPE)
    return engine.compute(target, method="wgs", iterations=5, seed=3).phase


def _build_and_compute() -> np.ndarray:
    return _compute(HologramEngine(SHAPE, backend="numpy"))


_INHERITED: list[HologramEngine] = []
"""The parent's engine, which a forked child has in its copy of memory (not sent: a fork pool's worker
that fails to unpickle its task hangs the pool, a multiprocessing limitation)."""


def _compute_inherited() -> np.ndarray:
    return _compute(_INHERITED[0])


def test_a_pickled_engine_computes_the_same_bytes():
    engine = HologramEngine(SHAPE, backend="numpy", precision="double", source=("gaussian", 9.0), padding=2)
    copy = pickle.loads(pickle.dumps(engine))
    assert copy is not engine and copy._buf is not engine._buf
    assert (copy.shape, copy.padding, copy.backend.precision) == (SHAPE, 2, "double")
    np.testing.assert_array_equal(copy.source_amplitude, engine.source_amplitude)
    assert _compute(copy).tobytes() == _compute(engine).tobytes()


def test_a_pickled_engine_keeps_its_fft_threads():
    from holostim.backend import Backend

    engine = HologramEngine(SHAPE, backend=Backend("numpy", "single", 1))
    assert pickle.loads(pickle.dumps(engine)).backend.threads == 1


def test_an_engine_sent_to_a_spawned_process_computes_the_same_bytes():
    engine = HologramEngine(SHAPE, backend="numpy")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        there = pool.apply_async(_compute, (engine,)).get(timeout=120)
    assert there.tobytes() == _compute(engine).tobytes()


def test_a_forked_child_refuses_an_engine_with_the_fix_and_the_parent_goes_on():
    engine = HologramEngine(SHAPE, backend="numpy")
    _INHERITED[:] = [engine]
    before = _compute(engine)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        with pytest.raises(EngineError, match=r"forked .* 'spawn'"):
            pool.apply_async(_build_and_compute).get(timeout=120)
        with pytest.raises(EngineError, match="forked"):
            pool.apply_async(_compute_inherited).get(timeout=120)
    _INHERITED.clear()
    assert _compute(engine).tobytes() == before.tobytes()
