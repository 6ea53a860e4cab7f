"""Batched compute: B targets through one (B, Ny, Nx) FFT plan, each with its own spots, weights and seed.

Why: a library computes thousands of masks with the same engine and the same fixed iteration count. On a
GPU one 512² or 1024² transform leaves most of the device idle, and every launch costs the same few
microseconds whatever its size; B transforms in one cuFFT call (the plans already transform the last two
axes) and B sets' elementwise passes in one kernel fill it. On the CPU FFTW gains little from a batch
(measured in ``benchmarks/library.py``), which is why the library picks B = 1 there by default.

How it stays **identical to** :meth:`~holostim.holography.HologramEngine.compute` for every set: each
step is the single compute's own code on that set's slice of the stack (its upload, seeded start, Fourier
step on its lit pixels, phase read-out and metrics); the elementwise SLM projection runs over the whole
stack at once only where it is the same arithmetic per pixel (fast kernels, a flat source: the numba
kernel then walks the same rows of the same length, the CUDA kernel indexes pixels independently). The
only batched operation is the FFT. FFTW transforms each slice of a (B, N, N) plan bit for bit like the
(N, N) plan (checked here for complex64 and complex128 at 64²-1024²: B = 2, 4, 8 with FFTW_ESTIMATE on
1 and 2 threads, B = 2, 4 at 128²-1024² with FFTW_MEASURE on 1 thread; the tests check it again); cuFFT
makes no such promise, so on the GPU
:func:`choose_batch` checks the bytes on the device before it uses any B > 1.

A batch runs a fixed number of iterations from a fresh start (no tolerance, budget, history or warm
start: those stop sets at different times or carry state from call to call) and never uses the CUDA
graph; it leaves the engine's warm-start state as it was. Spot targets that the engine would give to
the direct sum (3-D, or few spots under ``spot_algorithm="auto"``) are computed one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from holostim.backend import PlainFFT, to_numpy
from holostim.holography.errors import EngineError
from holostim.holography.metrics import HologramMetrics
from holostim.holography.result import HologramResult, Timings

if TYPE_CHECKING:
    from holostim.holography.engine import HologramEngine

__all__ = ["BatchChoice", "BatchStack", "check_seeds", "choose_batch", "run_batch", "stack_for"]

_KEEP_STACKS = 2
"""Stacks (plans and buffers) kept per engine: the library's B and the size of its last, short batch."""


class BatchStack:
    """A (B, gy, gx) buffer with its own FFT plan (planned on the fast engine, else plain ``xp.fft``)."""

    def __init__(self, engine: HologramEngine, size: int):
        shape = (int(size), *engine.grid_shape)
        self.size = int(size)
        self.plan = engine.backend.new_fft_plan(shape) if engine.fast else PlainFFT(engine.backend, shape)
        self.buffer = self.plan.buffer
        self.x = None  # RAAR's iterates, allocated on first use

    def raar_iterates(self, xp):
        """RAAR's (B, gy, gx) iterate stack."""
        if self.x is None:
            self.x = xp.empty_like(self.buffer)
        return self.x


def stack_for(engine: HologramEngine, size: int) -> BatchStack:
    """The engine's stack of ``size`` (made on first use; the last :data:`_KEEP_STACKS` are kept)."""
    stacks = engine._stacks
    if size in stacks:
        stacks.move_to_end(size)
        return stacks[size]
    stack = stacks[size] = BatchStack(engine, size)
    while len(stacks) > _KEEP_STACKS:
        stacks.popitem(last=False)
    return stack


def _whole(engine: HologramEngine) -> bool:
    """Whether the SLM-plane passes may run over the whole stack in one call (module docstring)."""
    return engine.fast and engine._amp.shape == (1, 1)


def _project(engine: HologramEngine, buf, whole: bool) -> None:
    if whole:
        engine._kern.project_slm(buf.reshape(-1, buf.shape[-1]), engine._amp)
    else:
        for b in range(buf.shape[0]):
            engine._kern.project_slm(buf[b], engine._amp)


def _raar_start(engine: HologramEngine, x, buf, whole: bool) -> None:
    if whole:
        engine._kern.raar_start(x.reshape(-1, x.shape[-1]), buf.reshape(-1, buf.shape[-1]), engine._amp)
    else:
        for b in range(buf.shape[0]):
            engine._kern.raar_start(x[b], buf[b], engine._amp)


def _raar_update(engine: HologramEngine, x, buf, beta: float, whole: bool) -> None:
    if whole:
        engine._kern.raar_update(x.reshape(-1, x.shape[-1]), buf.reshape(-1, buf.shape[-1]), engine._amp,
                                 beta)
    else:
        for b in range(buf.shape[0]):
            engine._kern.raar_update(x[b], buf[b], engine._amp, beta)


def run_batch(engine: HologramEngine, targets: Sequence[Any], method: str, iterations: int,
              seeds: Sequence[int | None], *, beta: float, fix_after: int, init: Any, eps_r: float,
              eps_a: float, t_start: float) -> list[HologramResult]:
    """Compute ``targets`` (all on the FFT loop) as one stack; call with the engine's lock held.

    Each set's result is what ``engine.compute(target, method, iterations, seed=seed, ...)`` returns
    (phase and metrics; its ``timings`` are its share of the batch: the batch's time divided by B).
    """
    be, xp, kern = engine.backend, engine.backend.xp, engine._kern
    n_sets = len(targets)
    stack = stack_for(engine, n_sets)
    buf, plan = stack.buffer, stack.plan
    whole = _whole(engine)
    runs = []
    need_inverse = False
    for b, (target, seed) in enumerate(zip(targets, seeds, strict=True)):
        idx, idx_d, w_d, t_s = engine._upload(target)
        need_inverse = engine._fill_start(init, seed, t_s, idx_d, buf[b])
        runs.append(engine._new_run(method, beta, fix_after, eps_r, eps_a, False, False, idx, idx_d, w_d, t_s,
                                    None, 0.0))
    if need_inverse:  # the same word for every set: all far fields, or all SLM fields
        plan.inverse()
    _project(engine, buf, whole)
    raar = method == "raar"
    if raar:
        x = stack.raar_iterates(xp)
        x[...] = buf
        _raar_start(engine, x, buf, whole)
    flats = [buf[b].reshape(-1) for b in range(n_sets)]
    t_loop = engine.clock()
    for k in range(iterations):
        plan.forward()
        for run, flat in zip(runs, flats, strict=True):
            kern.fourier_step(flat, run.idx_d, run.t, run.w, run.step, run.phase, run.g, run.a, run.mode,
                              k < max(run.fix_after, 1))
        plan.inverse()
        if raar:
            _raar_update(engine, x, buf, runs[0].beta, whole)
        else:
            _project(engine, buf, whole)
    be.synchronize()
    loop_ms = (engine.clock() - t_loop) * 1e3
    if raar:  # the hologram is P_M x
        for b in range(n_sets):
            kern.project_slm_into(x[b], buf[b], engine._amp)
    centre = (engine.shape[0] // 2, engine.shape[1] // 2)
    phases = xp.empty((n_sets, *engine.shape), dtype=be.real_dtype)
    for b in range(n_sets):
        kern.extract_phase(buf[b], phases[b], centre)
    plan.forward()
    finals = [engine._metrics_vec(flat, run) for run, flat in zip(runs, flats, strict=True)]
    phases_h = to_numpy(phases).astype(np.float32, copy=False)
    vals = to_numpy(xp.stack(finals))
    total = (engine.clock() - t_start) * 1e3 / n_sets
    per_iter = loop_ms / iterations / n_sets if iterations else 0.0
    return [HologramResult(phases_h[b].copy(), int(iterations),
                           HologramMetrics(*(float(v) for v in vals[b])), Timings(total, per_iter, 0.0),
                           method, "iterations")
            for b in range(n_sets)]


@dataclass(frozen=True)
class BatchChoice:
    """What :func:`choose_batch` decided: B, why, and the table it measured (size, masks/s, identical)."""

    size: int
    reason: str
    table: tuple[tuple[int, float, bool], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a manifest."""
        return {"size": self.size, "reason": self.reason,
                "measured": [{"size": s, "masks_per_s": r, "identical": i} for s, r, i in self.table]}


def _stack_bytes(engine: HologramEngine, size: int, method: str) -> int:
    itemsize = np.dtype(engine.backend.complex_dtype).itemsize
    return size * int(np.prod(engine.grid_shape)) * itemsize * (2 if method == "raar" else 1)


def _device_free_bytes(engine: HologramEngine) -> int | None:
    if not engine.backend.is_gpu:
        return None
    free, _total = engine.backend.xp.cuda.runtime.memGetInfo()
    return int(free)


def choose_batch(engine: HologramEngine, probes: Sequence[Any], method: str, iterations: int,
                 candidates: Sequence[int] = (1, 2, 4, 8, 16), *, seed: int = 0,
                 clock: Callable[[], float] | None = None, repeats: int = 2) -> BatchChoice:
    """Measure masks per second at each batch size and pick the fastest whose results are identical.

    ``probes`` are FFT-loop targets (the first of the library's sets); each candidate B computes B of them
    (cycled) ``repeats`` times, timed on ``clock`` (default the engine's), after one untimed run that plans
    the stack. A candidate is kept only if every set's phase is byte-identical to its single
    :meth:`~holostim.holography.HologramEngine.compute`: where a batched FFT plan rounds differently from
    the single one, this finds out on the machine and keeps B = 1. On the GPU a candidate whose buffers
    would take more than half the free device memory is skipped. B = 1 wins ties.
    """
    if not probes:
        return BatchChoice(1, "no set runs on the FFT loop")
    clock = clock if clock is not None else engine.clock
    its = max(1, int(iterations))
    free = _device_free_bytes(engine)
    singles: dict[int, bytes] = {}
    table = []
    for size in sorted({int(c) for c in candidates if int(c) >= 1}):
        if free is not None and _stack_bytes(engine, size, method) > free // 2:
            continue
        targets = [probes[i % len(probes)] for i in range(size)]
        seeds = [seed + i for i in range(size)]
        for i in range(size):
            if i not in singles:
                singles[i] = engine.compute(targets[i], method, its, seed=seeds[i]).phase.tobytes()
        first = engine.compute_batch(targets, method, its, seeds=seeds, batch=size)
        identical = all(r.phase.tobytes() == singles[i] for i, r in enumerate(first))
        t0 = clock()
        for _ in range(max(1, repeats)):
            engine.compute_batch(targets, method, its, seeds=seeds, batch=size)
        dt = max(clock() - t0, 1e-12)
        table.append((size, size * max(1, repeats) / dt, identical))
        if not identical:
            break  # a larger plan is no more likely to round like the single one
    if len(table) > 1:
        engine._stacks.clear()  # free the probe stacks; the build makes its own
    good = [row for row in table if row[2]]
    if not good:
        return BatchChoice(1, "measured: no batched result was byte-identical", tuple(table))
    best = max(good, key=lambda row: (row[1], -row[0]))
    if any(not row[2] for row in table):
        why = f"measured; B >= {min(r[0] for r in table if not r[2])} was not byte-identical"
    else:
        why = "measured"
    return BatchChoice(best[0], why, tuple(table))


def check_seeds(seed: Any, n: int) -> list[int | None]:
    """One seed per target: a sequence of ``n``, or one seed (or ``None``) for all of them."""
    if seed is None or isinstance(seed, (int, np.integer)):
        return [seed] * n
    seeds = list(seed)
    if len(seeds) != n:
        raise EngineError(f"{len(seeds)} seeds for {n} targets: give one seed per target (or one for all)")
    return seeds
