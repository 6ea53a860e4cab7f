"""HologramEngine: phase masks for one SLM, computed fast and repeatedly.

One engine per SLM shape, backend and precision. It plans its FFT and allocates every large buffer
once; each :meth:`HologramEngine.compute` then runs the chosen method (:mod:`.methods`) in that buffer
with fused kernels (:mod:`.kernels`):

* The grid lives in FFT layout (``ifftshift`` of the centred grid) for the whole loop, so no shifts are
  ever done; only the final phase is read back centred (and cropped if padded).
* The Fourier-plane projection only touches the lit pixels: the far field is gathered into a short
  vector (spots), the WGS weights are updated on it, and it is written back into a zeroed buffer, all in
  one fused call (``fourier_step`` of the kernels). Every normalisation factor is folded into those
  values, so the unnormalised in-place FFTs need no scaling pass.
* The SLM-plane projection (and RAAR's reflections) is one fused pass over memory.
* Metrics are computed on the lit-pixel vector; the tolerance error's dark-pixel part is one fused
  reduction, run only when a tolerance stop or a history asks for it.

A compute is three steps: start (upload the target, the starting field, the weights, or the last
hologram for a warm start), the loop (one iteration at a time until a :class:`~.stopping.StopRule`
says stop) and finish (phase read-out and final metrics).

On the GPU nothing inside the loop waits for the device: no ``.get()``, no ``float()`` of a device
value. Exceptions, documented because they are the only syncs: a ``tolerance`` stop reads the error
every ``check_every`` iterations (default 5 on the GPU, 1 on the CPU); a ``budget_ms`` run times its first
two iterations with CUDA events (one sync) and then runs the number of iterations that fit the rest of
the budget without further syncs (:mod:`.stopping`). The finished phase comes back in one transfer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from holostim.backend import Backend, PlainFFT, get_backend, to_numpy
from holostim.checks import non_negative, positive, shape_pair
from holostim.holography.errors import EngineError
from holostim.holography.kernels import fast_kernels, plain_kernels
from holostim.holography.methods import (
    DEFAULT_BETA,
    DEFAULT_FIX_AFTER,
    GS_STEP,
    METHODS,
    MethodError,
    check_method,
    fourier_step_mode,
)
from holostim.holography.metrics import (
    DEFAULT_EPS_A,
    DEFAULT_EPS_R,
    HologramMetrics,
    Metric,
    MetricsHistory,
    lit_metrics,
    tolerance_scale,
)
from holostim.holography.result import HologramResult, Timings
from holostim.holography.spot_algorithm import check_spot_algorithm, choose_spot_algorithm
from holostim.holography.stopping import Budget, LoopTimer, StopRule
from holostim.holography.targets import ImageTarget, SpotTarget, TargetError

__all__ = ["METHODS", "EngineError", "HologramEngine", "HologramResult", "MethodError", "Timings"]

_INITS = ("target", "random")

_BUILT_IN_PID: int | None = None
"""The process that built an engine (``None``: none yet). A forked child inherits this value, not the FFT
and kernel threads it implies, which is how a child knows it is one (:func:`_refuse_forked`)."""


def _refuse_forked() -> None:
    """Refuse engines in a process forked after an engine existed: they could hang, never compute.

    FFTW's thread pool and numba's parallel kernels keep worker threads; ``fork`` copies the process
    without them, so the first FFT or kernel launch in the child can wait forever on a thread that is
    not there. A spawned process starts clean (Dask's worker processes are spawned).
    """
    if _BUILT_IN_PID is not None and _BUILT_IN_PID != os.getpid():
        raise EngineError(
            f"this process (pid {os.getpid()}) was forked from one that had built a HologramEngine (pid "
            f"{_BUILT_IN_PID}); FFTW's and numba's worker threads do not survive a fork, so an engine "
            "here could hang: start worker processes with 'spawn' (multiprocessing.get_context('spawn'))"
        )


def _rebuild(kwargs: dict[str, Any], backend: tuple[str, str, int]) -> HologramEngine:
    """Unpickle an engine: a new one from the same arguments (new plans and buffers, same results)."""
    name, precision, threads = backend
    be = get_backend(name, precision)
    if be.threads != threads:
        be = Backend(name, precision, threads)
    return HologramEngine(backend=be, **kwargs)


def _graph_loop(engine: HologramEngine):
    """The CUDA-graph runner of ``engine`` (:mod:`.cuda_graph`), or None (one log line) off the GPU."""
    if not (engine.backend.is_gpu and engine.fast):
        logging.getLogger(__name__).info(
            "cuda_graph=True needs the cupy backend with fast kernels (this engine: %s, fast=%s); "
            "running the plain loop", engine.backend.name, engine.fast)
        return None
    from holostim.holography.cuda_graph import GraphLoop

    return GraphLoop()


@dataclass
class _Run:
    """The state of one compute: the uploaded target, the method's words and the per-spot vectors.

    ``w`` (weights: ones for GS/RAAR), ``step`` (each spot's WGS step exponent and last sign), ``phase``
    (Kim's frozen phasors) are what the Fourier step updates; ``g`` and ``a`` are its scratch vectors.
    """

    method: str
    mode: int
    beta: float
    fix_after: int
    eps_r: float
    eps_a: float
    history: bool
    warm: bool
    idx: np.ndarray  # flat FFT-layout indices of the lit pixels (host)
    idx_d: Any
    w_d: Any  # target weights, float64, sum 1
    t: Any  # target amplitudes scaled for the unnormalised FFTs
    weights: Any  # the WGS weights kept for a warm start (None for GS/RAAR)
    w: Any
    step: Any
    phase: Any
    g: Any
    a: Any
    transfer_ms: float = 0.0
    x: Any = None  # the RAAR iterate
    hist: list = field(default_factory=list)

    @property
    def raar(self) -> bool:
        """RAAR keeps its own iterate ``x`` and measures the hologram ``P_M x`` with a second plan."""
        return self.method == "raar"


class HologramEngine:
    """Computes SLM phase masks for spot and image targets (see the module docstring).

    Parameters
    ----------
    shape : (ny, nx)
        SLM pixels; the returned phase has this shape.
    backend : {"auto", "numpy", "cupy"} or Backend
        Where to compute; "auto" uses a GPU only where CuPy sees one.
    precision : {"single", "double"}
    source : "uniform", ("gaussian", waist_px) or array
        Illumination amplitude on the SLM: flat; a Gaussian beam ``exp(-r² / waist²)`` (``waist_px`` is the
        1/e² intensity radius in SLM pixels, centred on pixel ``(ny//2, nx//2)``); or any non-negative
        (ny, nx) amplitude array. Always normalised to unit power.
    padding : int
        Computational padding factor ``p`` >= 1: the SLM sits in the middle of a ``p`` times larger grid,
        so the far field is sampled ``p`` times more finely (sub-pixel spot placement, see
        :mod:`.targets`) at ``p²`` times the cost.
    fast : bool
        Use the fused kernels and planned FFT (default). ``False`` runs the same loop with plain
        ``xp`` calls and unplanned ``xp.fft``: the reference the fast path is tested against.
    clock : callable, optional
        Seconds, like (and by default) :func:`time.perf_counter`: what ``budget_ms`` and the timings are
        measured with. Tests pass a fake clock to check the budget logic exactly.
    cuda_graph : bool
        On the GPU, capture the loop of a fixed-iteration compute into a CUDA graph once and replay it
        (one launch for all iterations; :mod:`.cuda_graph`). Graph mode is a fixed iteration count: a
        compute with a tolerance, a budget or a history runs the plain loop. Off the GPU, or if the capture
        fails, the plain loop runs (one log line).
    spot_algorithm : {"auto", "fft", "direct"}
        Who computes a 2-D spot target: this FFT loop or the direct sum (:mod:`.direct_sum`, exact
        sub-pixel positions); "auto" picks by the cost rule of :mod:`.spot_algorithm` (what sessions use,
        ``engine.spot_algorithm``). The default "fft" keeps a library engine on this loop for 2-D spots;
        3-D targets always use the direct sum.
    defocus : DefocusModel, optional
        How a spot depth ``z`` (sample µm) becomes an SLM phase (:mod:`.defocus`); needed for 3-D targets.

    Notes
    -----
    Threads: :meth:`compute` and :meth:`far_field` may be called from any thread (the session's worker);
    calls on one engine are serialised by its lock, and separate engines (one per SLM) run in parallel:
    each has its own FFT plan and buffers, and FFTW and the numba kernels release the GIL.
    Construction plans the FFT (FFTW wisdom is cached on disk) and runs each kernel once, so the first
    compute is as fast as the later ones.
    """

    def __init__(
        self,
        shape: Any,
        backend: str | Backend = "auto",
        precision: str = "single",
        source: Any = "uniform",
        padding: int = 1,
        fast: bool = True,
        clock: Callable[[], float] | None = None,
        cuda_graph: bool = False,
        spot_algorithm: str = "fft",
        defocus: Any = None,
    ):
        global _BUILT_IN_PID
        _refuse_forked()
        self._init_args = {"shape": shape, "precision": precision, "source": source, "padding": padding,
                           "fast": fast, "clock": clock}
        self.shape = shape_pair(shape, "engine shape", EngineError)
        self.spot_algorithm = check_spot_algorithm(spot_algorithm)
        self.defocus = defocus
        self._direct = None  # the direct-sum engine, made on first use
        self.backend = get_backend(backend, precision)
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 1:
            raise EngineError(f"padding {padding!r} must be an integer >= 1 (1 = no padding)")
        self.padding = int(padding)
        ny, nx = self.shape
        self.grid_shape = (ny * self.padding, nx * self.padding)
        self.fast = bool(fast)
        self.clock = clock if clock is not None else time.perf_counter
        be = self.backend
        self.source_amplitude = self._make_source(source)  # numpy, SLM shape, unit power
        # the amplitude in FFT layout: a (1, 1) scalar for a flat unpadded source (no memory traffic)
        if self.padding == 1 and np.ptp(self.source_amplitude) == 0:
            amp = np.full((1, 1), self.source_amplitude.flat[0])
        else:
            amp = np.fft.ifftshift(self._embed(self.source_amplitude))
        self._amp = be.asarray(amp, dtype=be.real_dtype)
        self._kern = fast_kernels(be) if self.fast else plain_kernels(be)
        self._plan = self._new_plan()
        self._buf = self._plan.buffer
        self._flat = self._buf.reshape(-1)
        self._x = None  # RAAR iterate, allocated on first use
        self._mplan = None  # second plan for RAAR metrics, allocated on first use
        self._last_field = None
        self._last_idx: np.ndarray | None = None
        self._last_weights = None
        self._iter_ms: dict[str, float] = {}
        self._stacks: OrderedDict[int, Any] = OrderedDict()  # compute_batch's (B, N, N) stacks, by B
        self._lock = threading.RLock()
        self.cuda_graph = bool(cuda_graph)
        self._graph = _graph_loop(self) if self.cuda_graph else None
        self._warm_up()
        _BUILT_IN_PID = os.getpid()

    def __reduce__(self):
        """Pickle as the constructor's arguments: plans and buffers are rebuilt where it is unpickled.

        So an engine (or a task holding one) can be sent to a worker process; the copy computes the same
        masks but starts without the last hologram (no warm start carried over).
        """
        kwargs = {k: v for k, v in self._init_args.items() if k != "clock" or v is not None}
        kwargs.pop("precision")
        be = self.backend
        return _rebuild, (kwargs, (be.name, be.precision, int(be.threads)))

    def _new_plan(self):
        """A private in-place FFT over the grid: planned (fast) or plain ``xp.fft`` (the reference)."""
        if self.fast:
            return self.backend.new_fft_plan(self.grid_shape)
        return PlainFFT(self.backend, self.grid_shape)

    def _warm_up(self) -> None:
        """Pay the one-time costs now, not in the first (interactive) compute.

        The first execution of an FFTW plan starts its threads, and each numba kernel is loaded from the
        on-disk cache (or compiled) on its first call: together tens to hundreds of milliseconds.
        """
        self._buf.fill(0)
        self._plan.forward()
        self._plan.inverse()
        self._kern.project_slm(self._buf, self._amp)
        tmp = self.backend.xp.empty((2, 2), dtype=self.backend.real_dtype)
        self._kern.extract_phase(self._buf, tmp, (1, 1))
        self._kern.dark_excess(self._buf, 1.0, 1.0)
        self.backend.synchronize()

    # ---------------------------------------------------------------------------------------------------
    def _make_source(self, source: Any) -> np.ndarray:
        ny, nx = self.shape
        if isinstance(source, str) and source == "uniform":
            a = np.ones(self.shape)
        elif isinstance(source, (tuple, list)) and len(source) == 2 and source[0] == "gaussian":
            waist = source[1]
            if not isinstance(waist, (int, float, np.number)) or not np.isfinite(waist) or waist <= 0:
                raise EngineError(f"Gaussian waist {waist!r} must be a positive number of SLM pixels")
            y, x = np.mgrid[0:ny, 0:nx]
            a = np.exp(-((y - ny // 2) ** 2 + (x - nx // 2) ** 2) / float(waist) ** 2)
        elif isinstance(source, np.ndarray) or hasattr(source, "__array__"):
            a = np.asarray(to_numpy(source), dtype=np.float64)
            if a.shape != self.shape:
                raise EngineError(f"source amplitude has shape {a.shape}; the SLM is {self.shape}")
            if not np.isfinite(a).all() or (a < 0).any() or a.sum() <= 0:
                raise EngineError("source amplitude must be finite, >= 0 and not all zero")
        else:
            raise EngineError(
                f"source {source!r} is not 'uniform', ('gaussian', waist_px) or a (ny, nx) amplitude array"
            )
        return a / np.sqrt(np.sum(a**2))

    def _embed(self, a: np.ndarray) -> np.ndarray:
        """Place an SLM-shaped array in the middle of the (padded) grid: SLM centre on grid centre."""
        if self.padding == 1:
            return a
        big_y, big_x = self.grid_shape
        ny, nx = self.shape
        oy, ox = big_y // 2 - ny // 2, big_x // 2 - nx // 2
        out = np.zeros(self.grid_shape, dtype=a.dtype)
        out[oy : oy + ny, ox : ox + nx] = a
        return out

    def _lit(self, target: SpotTarget | ImageTarget) -> tuple[np.ndarray, np.ndarray]:
        """Flat FFT-layout indices of the lit pixels and their weights (sum 1)."""
        if isinstance(target, SpotTarget):
            if target.shape != self.shape:
                raise TargetError(
                    f"the target was made for a {target.shape[0]}x{target.shape[1]} grid but this engine's "
                    f"SLM is {self.shape[0]}x{self.shape[1]}; build it with shape={self.shape}"
                )
            iy, ix = target.lit_pixels(self.grid_shape)
            w = target.weights
        elif isinstance(target, ImageTarget):
            if target.shape not in (self.shape, self.grid_shape):
                raise TargetError(
                    f"image target of shape {target.shape} does not match the SLM {self.shape} "
                    f"or the computational grid {self.grid_shape}"
                )
            iy, ix, w = target.lit_pixels(self.grid_shape)
        else:
            raise TargetError(f"target {type(target).__name__} is not a SpotTarget or an ImageTarget")
        big_y, big_x = self.grid_shape
        flat = ((iy - big_y // 2) % big_y) * big_x + (ix - big_x // 2) % big_x
        return flat.astype(np.int64), np.asarray(w, dtype=np.float64)

    # ---------------------------------------------------------------------------------------------------
    def far_field(self, phase: Any, source: Any = None) -> np.ndarray:
        """The engine's Fourier model: the centred, orthonormal far field of ``source * exp(i phase)``.

        ``fftshift(fft2(ifftshift(u), norm="ortho"))`` of the SLM field ``u`` embedded in the middle of
        the computational grid (equal to the SLM grid without padding): the zero order is at index
        ``(Ny//2, Nx//2)`` and ``sum |F|² == sum |u|²`` (Parseval). ``source`` defaults to the engine's
        source amplitude, normalised to unit power, so the result's total power is 1. Computed with the
        same planned FFT the iterations use.

        Returns
        -------
        numpy complex array, shape :attr:`grid_shape`
        """
        ph = np.asarray(to_numpy(phase), dtype=np.float64)
        if ph.shape != self.shape:
            raise EngineError(f"phase has shape {ph.shape}; this engine's SLM is {self.shape}")
        amp = self.source_amplitude if source is None else np.asarray(to_numpy(source), dtype=np.float64)
        if amp.shape != self.shape:
            raise EngineError(f"source amplitude has shape {amp.shape}; this engine's SLM is {self.shape}")
        u = np.fft.ifftshift(self._embed(amp * np.exp(1j * ph)))
        with self._lock:
            self._buf[...] = self.backend.asarray(u, dtype=self.backend.complex_dtype)
            out = to_numpy(self._plan.forward()).astype(np.complex128)
        return np.fft.fftshift(out) / np.sqrt(out.size)

    # ---------------------------------------------------------------------------------------------------
    def compute(
        self,
        target: SpotTarget | ImageTarget,
        method: str = "wgs",
        iterations: int | None = 20,
        tolerance: float | None = None,
        budget_ms: float | None = None,
        warm_start: bool = False,
        *,
        history: bool = False,
        beta: float = DEFAULT_BETA,
        fix_after: int = DEFAULT_FIX_AFTER,
        init: str | np.ndarray = "target",
        seed: int | None = 0,
        eps_r: float = DEFAULT_EPS_R,
        eps_a: float = DEFAULT_EPS_A,
        check_every: int | None = None,
    ) -> HologramResult:
        """Compute a phase mask for ``target``.

        Parameters
        ----------
        target : SpotTarget or ImageTarget
        method : {"gs", "wgs", "wgs-kim", "raar"}
        iterations : int or None
            Most iterations to run (0 returns the starting phase); ``None`` = no limit, which needs a
            ``budget_ms``.
        tolerance : float, optional
            Stop as soon as the tolerance error (:mod:`.metrics`) is <= this.
        budget_ms : float, optional
            Stop before an iteration that would not finish within this many milliseconds of the call
            (the interactive mode: as many iterations as fit). The budget covers the whole call; a warm
            start always runs one iteration, since the carried field is the previous target's hologram.
        warm_start : bool
            Start from the last computed phase (and, for WGS, the last weights of spots that stay on
            the same pixel) instead of ``init``; falls back to ``init`` on the first call.
        history : bool
            Record the metrics after every iteration in ``result.metrics.history`` (costs one reduction
            per iteration, plus one FFT for RAAR).
        beta : float
            RAAR relaxation in (0, 1].
        fix_after : int
            wgs-kim: iterations after which the Fourier phase is frozen.
        init : {"target", "random"} or array
            Starting phase: "target" is the inverse FFT of the target amplitude with a random phase on each
            lit pixel (seeded by ``seed``), projected on the SLM amplitude; "random" is a uniform random
            phase (``numpy.random.default_rng(seed)``); an (ny, nx) array is used as given.
        eps_r, eps_a : float
            Tolerances of the tolerance error.
        check_every : int, optional
            How often the tolerance stop is tested (default 1 on the CPU, 5 on the GPU, where each test is
            a host sync).

        Returns
        -------
        HologramResult
            ``phase`` (numpy float32 in [0, 2π), SLM shape), ``iterations`` run, ``metrics`` of the
            returned phase, ``timings``, ``stopped_by``.
        """
        _refuse_forked()
        t_start = self.clock()
        self._check_args(method, iterations, tolerance, budget_ms, beta, fix_after, eps_r, eps_a, check_every)
        if isinstance(target, SpotTarget) and choose_spot_algorithm(
                self.spot_algorithm, target, method, self.shape, self.padding, tolerance) == "direct":
            return self._direct_sum().compute(
                target, method, iterations, tolerance, budget_ms, warm_start, history=history,
                fix_after=fix_after, init=init, seed=seed, eps_r=eps_r, eps_a=eps_a, check_every=check_every,
                t_start=t_start)
        if check_every is None:
            check_every = 5 if self.backend.is_gpu else 1
        stop = StopRule(iterations, tolerance, budget_ms, int(check_every))
        with self._lock:
            run = self._start(target, method, bool(warm_start), history, float(beta), int(fix_after), init,
                              seed, float(eps_r), float(eps_a), need_metrics=history or tolerance is not None)
            timer = LoopTimer(self.backend.xp, self.backend.is_gpu, self.clock)
            budget = None
            if budget_ms is not None:
                budget = Budget(budget_ms, t_start, timer, self._iter_ms.get(method))
            timer.start()
            k = None
            if self._graph is not None and self._graph.fits(run, stop, budget):
                k, stopped_by = self._graph.run(self, run, stop.max_iterations), "iterations"
            if k is None:
                k, stopped_by = self._loop(run, stop, budget)
            return self._finish(run, k, stopped_by, timer.elapsed_ms(), t_start)

    def compute_batch(
        self,
        targets: list[SpotTarget | ImageTarget],
        method: str = "wgs",
        iterations: int = 20,
        *,
        seeds: Any = 0,
        batch: int | None = None,
        beta: float = DEFAULT_BETA,
        fix_after: int = DEFAULT_FIX_AFTER,
        init: str | np.ndarray = "target",
        eps_r: float = DEFAULT_EPS_R,
        eps_a: float = DEFAULT_EPS_A,
    ) -> list[HologramResult]:
        """Compute many targets, B at a time in one (B, Ny, Nx) FFT plan (:mod:`.batch`).

        Every result equals :meth:`compute` of its target with its seed (``compute(target, method,
        iterations, seed=seed, beta=..., ...)``): the same phase, byte for byte, and the same metrics;
        its timings are its share of its batch. A fixed iteration count from a fresh start only: no
        tolerance, budget, history or warm start, and the FFT loop's warm-start state is left as it was.

        Parameters
        ----------
        targets : list of SpotTarget or ImageTarget
            Spot targets that the engine gives to the direct sum (3-D, or few spots with
            ``spot_algorithm="auto"``) are computed one by one with :meth:`compute`.
        seeds : int, None or sequence
            One seed per target, or one for all.
        batch : int, optional
            Most targets per FFT stack (default: all the FFT-loop targets in one stack; a stack of B
            holds B grids, twice that for RAAR); 1 runs :meth:`compute` for each target.

        Returns
        -------
        list of HologramResult, in the order of ``targets``.
        """
        from holostim.holography.batch import check_seeds

        _refuse_forked()
        t_start = self.clock()
        if iterations is None:
            raise EngineError("a batch runs a fixed number of iterations: give iterations (an integer >= 0)")
        self._check_args(method, iterations, None, None, beta, fix_after, eps_r, eps_a, None)
        targets = list(targets)
        seeds = check_seeds(seeds, len(targets))
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, (int, np.integer))
                                  or batch < 1):
            raise EngineError(f"batch {batch!r} must be an integer >= 1 (targets per FFT stack)")
        out: list[HologramResult | None] = [None] * len(targets)
        fft = []
        for i, target in enumerate(targets):
            if isinstance(target, SpotTarget) and choose_spot_algorithm(
                    self.spot_algorithm, target, method, self.shape, self.padding, None) == "direct":
                out[i] = self.compute(target, method, iterations, seed=seeds[i], beta=beta,
                                      fix_after=fix_after, init=init, eps_r=eps_r, eps_a=eps_a)
            else:
                fft.append(i)
        size = len(fft) if batch is None else int(batch)
        with self._lock:
            kept = self._keep_warm_state()
            try:
                self._batches(targets, fft, size, seeds, out, method, iterations, beta, fix_after, init,
                              eps_r, eps_a, t_start)
            finally:
                self._last_field, self._last_idx, self._last_weights = kept
        return out  # type: ignore[return-value]

    def _keep_warm_state(self):
        """A copy of what a warm start would use, for :meth:`compute_batch` to put back afterwards."""
        last = None if self._last_field is None else self._last_field.copy()
        return last, self._last_idx, self._last_weights

    def _batches(self, targets, fft, size, seeds, out, method, iterations, beta, fix_after, init, eps_r,
                 eps_a, t_start) -> None:
        """The FFT-loop targets ``fft`` (indices) in stacks of ``size``, results into ``out``."""
        from holostim.holography.batch import run_batch

        for j in range(0, len(fft), max(size, 1)):
            part = fft[j:j + size]
            if len(part) == 1:
                i = part[0]
                out[i] = self.compute(targets[i], method, iterations, seed=seeds[i], beta=beta,
                                      fix_after=fix_after, init=init, eps_r=eps_r, eps_a=eps_a)
                continue
            t0 = t_start if j == 0 else self.clock()
            results = run_batch(self, [targets[i] for i in part], method, int(iterations),
                                [seeds[i] for i in part], beta=float(beta), fix_after=int(fix_after),
                                init=init, eps_r=float(eps_r), eps_a=float(eps_a), t_start=t0)
            for i, res in zip(part, results, strict=True):
                out[i] = res

    def _direct_sum(self):
        """The direct-sum engine on this engine's SLM, backend, source and clock (made once)."""
        if self._direct is None:
            from holostim.holography.direct_sum import DirectSumEngine

            self._direct = DirectSumEngine(self.shape, self.backend, source_amplitude=self.source_amplitude,
                                           defocus=self.defocus, fast=self.fast, clock=self.clock)
        return self._direct

    @staticmethod
    def _check_args(method, iterations, tolerance, budget_ms, beta, fix_after, eps_r, eps_a, check_every):
        """Validate the arguments of :meth:`compute` before any work (each error names the value)."""
        check_method(method, beta, fix_after)
        if iterations is None:
            if budget_ms is None:
                raise EngineError("iterations=None (no limit) needs a budget_ms to stop on")
        elif isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise EngineError(f"iterations {iterations!r} must be an integer >= 0 (or None with budget_ms)")
        if tolerance is not None:
            non_negative(tolerance, "tolerance", EngineError)
        if budget_ms is not None:
            positive(budget_ms, "budget_ms", EngineError)
        positive(eps_r, "eps_r", EngineError)
        positive(eps_a, "eps_a", EngineError)
        if check_every is not None and (not isinstance(check_every, (int, np.integer)) or check_every < 1):
            raise EngineError(f"check_every {check_every!r} must be an integer >= 1")

    # ---------------------------------------------------------------------------------------------------
    # start
    def _start(self, target, method, warm_start, history, beta, fix_after, init, seed, eps_r, eps_a, *,
               need_metrics) -> _Run:
        """Upload the target and set up the starting field, the weights and the per-spot vectors."""
        be, xp, n_grid = self.backend, self.backend.xp, self._plan.size
        idx, w = self._lit(target)
        t_up = self.clock()  # the target is the only host->device copy
        idx_d = be.asarray(idx)
        w_d = be.asarray(w, dtype=xp.float64)
        # target amplitude for unit power, divided by sqrt(N): after the unnormalised inverse FFT the buffer
        # holds exactly the orthonormal projection (see the module docstring)
        t_s = be.asarray(np.sqrt(w / n_grid), dtype=be.real_dtype)
        be.synchronize()
        transfer_ms = (self.clock() - t_up) * 1e3 if be.is_gpu else 0.0
        warm = warm_start and self._last_field is not None
        if warm:
            self._buf[...] = self._last_field
        elif self._fill_start(init, seed, t_s, idx_d, self._buf):
            self._plan.inverse()
        self._kern.project_slm(self._buf, self._amp)
        weights = self._start_weights(idx, warm) if method in ("wgs", "wgs-kim") else None
        run = self._new_run(method, beta, fix_after, eps_r, eps_a, history, warm, idx, idx_d, w_d, t_s,
                            weights, transfer_ms)
        if run.raar:
            self._start_raar(run, need_metrics)
        return run

    def _new_run(self, method, beta, fix_after, eps_r, eps_a, history, warm, idx, idx_d, w_d, t_s, weights,
                 transfer_ms) -> _Run:
        """The per-spot state vectors of one compute (shared by :meth:`compute` and the batch path)."""
        be, xp = self.backend, self.backend.xp
        n = idx.shape[0]
        step = xp.zeros((2, n), dtype=be.real_dtype)  # WGS step exponents (start 1) and last signs (0)
        step[0] = 1
        if weights is None and method in ("wgs", "wgs-kim"):
            weights = xp.ones(n, dtype=be.real_dtype)
        w_vec = weights if weights is not None else xp.ones(n, dtype=be.real_dtype)
        return _Run(method, fourier_step_mode(method), beta, fix_after, eps_r, eps_a, history, warm, idx,
                    idx_d, w_d, t_s, weights, w_vec, step, xp.ones(n, dtype=be.complex_dtype),
                    xp.empty(n, dtype=be.complex_dtype), xp.empty(n, dtype=be.real_dtype), transfer_ms)

    def _upload(self, target) -> tuple[np.ndarray, Any, Any, Any]:
        """A target's lit pixels (host indices, device indices, weights, scaled amplitudes) on the device."""
        be, xp = self.backend, self.backend.xp
        idx, w = self._lit(target)
        t_s = be.asarray(np.sqrt(w / self._plan.size), dtype=be.real_dtype)
        return idx, be.asarray(idx), be.asarray(w, dtype=xp.float64), t_s

    def _start_raar(self, run: _Run, need_metrics: bool) -> None:
        """RAAR's iterate starts at the starting field; its first reflection goes into the buffer."""
        if self._x is None:
            self._x = self.backend.xp.empty_like(self._buf)
        run.x = self._x
        run.x[...] = self._buf
        self._kern.raar_start(run.x, self._buf, self._amp)
        if need_metrics and self._mplan is None:
            self._mplan = self._new_plan()

    def _fill_start(self, init, seed, t_s, idx_d, buf) -> bool:
        """Fill ``buf`` (one grid, FFT layout) with the start; True if it still needs the inverse FFT.

        The caller then runs the inverse FFT (for ``init="target"``, which fills the far field) and the
        SLM projection: one grid at a time in :meth:`compute`, the whole stack at once in a batch.
        """
        be, xp = self.backend, self.backend.xp
        if isinstance(init, str) and init == "target":
            rng = np.random.default_rng(seed)
            ph = be.asarray(rng.uniform(0, 2 * np.pi, t_s.shape[0]), dtype=be.real_dtype)
            buf.fill(0)
            buf.reshape(-1)[idx_d] = t_s * xp.exp(1j * ph)
            return True
        else:
            if isinstance(init, str):
                if init != "random":
                    raise EngineError(
                        f"init {init!r} is not one of {', '.join(_INITS)} or an (ny, nx) phase array"
                    )
                phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, self.shape)
            else:
                phase = np.asarray(to_numpy(init), dtype=np.float64)
                if phase.shape != self.shape or not np.isfinite(phase).all():
                    raise EngineError(
                        f"init phase has shape {phase.shape} (need {self.shape}, finite values)"
                    )
            u = np.fft.ifftshift(self._embed(np.exp(1j * phase)))
            buf[...] = be.asarray(u, dtype=be.complex_dtype)
            return False

    def _start_weights(self, idx: np.ndarray, warm: bool):
        """WGS weights: the last compute's for spots on the same pixel (warm start), their mean for others."""
        be, xp = self.backend, self.backend.xp
        n = idx.shape[0]
        if not warm or self._last_idx is None or self._last_weights is None:
            return xp.ones(n, dtype=be.real_dtype)
        order = np.argsort(self._last_idx)
        pos = np.searchsorted(self._last_idx, idx, sorter=order)
        pos = np.minimum(pos, order.size - 1)
        src = order[pos]
        found = self._last_idx[src] == idx
        if not found.any():
            return xp.ones(n, dtype=be.real_dtype)
        last = self._last_weights
        mean_kept = xp.mean(last[be.asarray(src[found])])
        w = xp.where(be.asarray(found), last[be.asarray(src)], mean_kept).astype(be.real_dtype)
        return w / xp.mean(w)

    # ---------------------------------------------------------------------------------------------------
    # the loop
    def _loop(self, run: _Run, stop: StopRule, budget: Budget | None) -> tuple[int, str]:
        """Iterate until ``stop`` (or the budget) says so; returns (iterations run, what stopped them).

        The hologram after ``k`` iterations is measured (history, tolerance) before iteration ``k``
        starts: for RAAR with its own plan, otherwise from the forward FFT the iteration needs anyway.
        A warm start always runs one iteration: the carried field is the previous target's hologram.
        """
        k = 0
        while True:
            check = stop.checks_tolerance(k)
            if run.raar and (run.history or check):
                if self._observe(run, stop, check, self._raar_far_field(run)):
                    return k, "tolerance"
            if k >= stop.max_iterations:
                return k, "iterations"
            if budget is not None and not (run.warm and k == 0) and budget.exhausted(k):
                return k, "budget"
            self._plan.forward()
            if not run.raar and (run.history or check) and self._observe(run, stop, check, self._flat):
                self._plan.inverse()  # back to the SLM field of this (accepted) hologram
                self._kern.project_slm(self._buf, self._amp)
                return k, "tolerance"
            self._iterate(run, k)
            k += 1

    def _iterate(self, run: _Run, k: int) -> None:
        """One iteration, entered with the far field in the buffer: Fourier step, inverse FFT, SLM step."""
        # The first iteration of a warm start is a plain GS step: a spot that was not in the last pattern
        # starts dark, and a weight update would multiply its weight by up to 1e3 and pull all the light
        # into it for several iterations. The carried weights are kept for the next step.
        mode = GS_STEP if run.warm and k == 0 else run.mode
        self._kern.fourier_step(self._flat, run.idx_d, run.t, run.w, run.step, run.phase, run.g, run.a, mode,
                                k < max(run.fix_after, 1))
        self._plan.inverse()
        if run.raar:
            self._kern.raar_update(run.x, self._buf, self._amp, run.beta)
        else:
            self._kern.project_slm(self._buf, self._amp)

    def _raar_far_field(self, run: _Run):
        """The (flat, unnormalised) far field of RAAR's hologram ``P_M x``, in the second plan's buffer."""
        self._kern.project_slm_into(run.x, self._mplan.buffer, self._amp)
        return self._mplan.forward().reshape(-1)

    def _observe(self, run: _Run, stop: StopRule, check: bool, far_field) -> bool:
        """Measure the current hologram from its far field; True if it meets the tolerance (when checked)."""
        mvec = self._metrics_vec(far_field, run)
        if run.history:
            run.hist.append(mvec)
        return check and stop.tolerance_met(float(mvec[Metric.tolerance_error]))

    def _metrics_vec(self, flat_src, run: _Run):
        """The 5 metrics (device vector) of ``flat_src``, the unnormalised FFT of a unit-power field."""
        xp, n_grid = self.backend.xp, self._plan.size
        g = xp.take(flat_src, run.idx_d)
        lit_i = (g.real.astype(xp.float64) ** 2 + g.imag.astype(xp.float64) ** 2) / n_grid
        scale = tolerance_scale(lit_i) / n_grid
        dark = self._kern.dark_excess(flat_src.reshape(self.grid_shape), scale, run.eps_a)
        return lit_metrics(lit_i, run.w_d, 1.0, dark, run.eps_r, run.eps_a)

    # ---------------------------------------------------------------------------------------------------
    # finish
    def _finish(self, run: _Run, k: int, stopped_by: str, loop_ms: float, t_start: float) -> HologramResult:
        """Keep the hologram for a warm start, read its phase out and measure it."""
        be, xp = self.backend, self.backend.xp
        per_iter = loop_ms / k if k else 0.0
        if k:
            self._iter_ms[run.method] = per_iter
        if run.raar:  # the hologram: P_M x for RAAR, the buffer itself otherwise
            self._kern.project_slm_into(run.x, self._buf, self._amp)
        if self._last_field is None:
            self._last_field = xp.empty_like(self._buf)
        self._last_field[...] = self._buf
        phase_d = xp.empty(self.shape, dtype=be.real_dtype)
        self._kern.extract_phase(self._buf, phase_d, (self.shape[0] // 2, self.shape[1] // 2))
        self._plan.forward()
        final = self._metrics_vec(self._flat, run)
        if run.weights is not None:  # (the GPU step leaves the weights unnormalised: they are scale-free)
            run.weights /= xp.mean(run.weights)
        kept = run.weights is not None
        self._last_idx, self._last_weights = (run.idx, run.weights) if kept else (None, None)
        t_down = self.clock()
        phase = to_numpy(phase_d).astype(np.float32, copy=False)
        vals = to_numpy(final)
        hist = to_numpy(xp.stack(run.hist)) if run.hist else None
        transfer_ms = run.transfer_ms + ((self.clock() - t_down) * 1e3 if be.is_gpu else 0.0)
        metrics = HologramMetrics(*(float(v) for v in vals), history=self._history(run, hist, vals, k))
        timings = Timings((self.clock() - t_start) * 1e3, per_iter, transfer_ms)
        return HologramResult(phase, k, metrics, timings, run.method, stopped_by)

    @staticmethod
    def _history(run: _Run, hist: np.ndarray | None, final: np.ndarray, k: int) -> MetricsHistory | None:
        """The per-iteration metrics, entry ``k`` the returned hologram (appended if the loop did not)."""
        if not run.history:
            return None
        if hist is None or hist.shape[0] == k:
            hist = final[None, :] if hist is None else np.vstack([hist, final[None, :]])
        return MetricsHistory(*(hist[:, m].copy() for m in Metric))
