"""HologramEngine: phase masks for one SLM, computed fast and repeatedly.

One engine per SLM shape, backend and precision. It plans its FFT and allocates every large buffer
once; each :meth:`HologramEngine.compute` then runs the chosen algorithm (:mod:`.algorithms`) in that
buffer with fused kernels (:attr:`holostim.backend.Backend.kernels`):

* The grid lives in FFT layout (``ifftshift`` of the centred grid) for the whole loop, so no shifts are
  ever done; only the final phase is read back centred (and cropped if padded).
* The Fourier-plane projection only touches the lit pixels: the far field is gathered into a short
  vector (spots), the WGS weights are updated on it, and it is written back into a zeroed buffer, all in
  one fused call (:meth:`~holostim.backend.NumbaKernels.fourier_step`). Every normalisation factor is
  folded into those values, so the unnormalised in-place FFTs need no scaling pass.
* The SLM-plane projection (and RAAR's reflections) is one fused pass over memory.
* Metrics are computed on the lit-pixel vector; the tolerance error's dark-pixel part is one fused
  reduction, run only when a tolerance stop or a history asks for it.

On the GPU nothing inside the loop waits for the device: no ``.get()``, no ``float()`` of a device
value. Exceptions, documented because they are the only syncs: a ``tolerance`` stop reads the error
every ``check_every`` iterations (default 5 on the GPU, 1 on the CPU); a ``budget_ms`` run times its first
two iterations with CUDA events (one sync) and then runs the number of iterations that fit the rest of
the budget without further syncs. The finished phase comes back in one transfer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.backend import Backend, PlainKernels, get_backend, to_numpy
from holostim.errors import HolostimError
from holostim.holography.algorithms import (
    DEFAULT_BETA,
    DEFAULT_FIX_AFTER,
    METHODS,
    MethodError,
    check_method,
    fourier_update,
)
from holostim.holography.metrics import (
    DEFAULT_EPS_A,
    DEFAULT_EPS_R,
    METRIC_NAMES,
    HologramMetrics,
    MetricsHistory,
    lit_metrics,
    tolerance_scale,
)
from holostim.holography.targets import ImageTarget, SpotTarget, TargetError, check_shape

__all__ = ["METHODS", "EngineError", "HologramEngine", "HologramResult", "MethodError", "Timings"]

_INITS = ("target", "random")


class EngineError(HolostimError, ValueError):
    """A bad engine setting or compute argument (shape, source, padding, iterations, budget...)."""


@dataclass(frozen=True)
class Timings:
    """Where the time of one compute went, in milliseconds.

    ``total_ms`` is the whole call (target upload, iterations, final metrics, phase download);
    ``per_iteration_ms`` the loop time divided by the iterations run (including the per-iteration metrics
    when a history or a tolerance stop asked for them; timed with CUDA events on the GPU);
    ``transfer_ms`` the host↔device copies (0 on the CPU backend, where nothing moves).
    """

    total_ms: float
    per_iteration_ms: float
    transfer_ms: float


@dataclass(frozen=True)
class HologramResult:
    """What :meth:`HologramEngine.compute` returns."""

    phase: np.ndarray
    iterations: int
    metrics: HologramMetrics
    timings: Timings
    method: str
    stopped_by: str  # "iterations", "tolerance" or "budget"


class _PlainFFT:
    """Unplanned ``xp.fft`` on a buffer, with the :class:`~holostim.backend.FFTPlan` interface."""

    def __init__(self, backend: Backend, shape: tuple[int, int]):
        self.xp = backend.xp
        self.buffer = backend.xp.zeros(shape, dtype=backend.complex_dtype)
        self.size = shape[0] * shape[1]

    def forward(self):
        self.buffer[...] = self.xp.fft.fft2(self.buffer)
        return self.buffer

    def inverse(self):
        self.buffer[...] = self.xp.fft.ifft2(self.buffer) * self.size
        return self.buffer


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
    ):
        self.shape = check_shape(shape, "engine shape", EngineError)
        self.backend = get_backend(backend, precision)
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 1:
            raise EngineError(f"padding {padding!r} must be an integer >= 1 (1 = no padding)")
        self.padding = int(padding)
        ny, nx = self.shape
        self.grid_shape = (ny * self.padding, nx * self.padding)
        self.fast = bool(fast)
        be, xp = self.backend, self.backend.xp
        self.source_amplitude = self._make_source(source)  # numpy, SLM shape, unit power
        # the amplitude in FFT layout: a (1, 1) scalar for a flat unpadded source (no memory traffic)
        if self.padding == 1 and np.ptp(self.source_amplitude) == 0:
            amp = np.full((1, 1), self.source_amplitude.flat[0])
        else:
            amp = np.fft.ifftshift(self._embed(self.source_amplitude))
        self._amp = be.asarray(amp, dtype=be.real_dtype)
        self._kern = be.kernels if self.fast else PlainKernels(xp)
        self._plan = be.new_fft_plan(self.grid_shape) if self.fast else _PlainFFT(be, self.grid_shape)
        self._buf = self._plan.buffer
        self._flat = self._buf.reshape(-1)
        self._x = None  # RAAR iterate, allocated on first use
        self._mplan = None  # second plan for RAAR metrics, allocated on first use
        self._last_field = None
        self._last_idx: np.ndarray | None = None
        self._last_weights = None
        self._iter_ms: dict[str, float] = {}
        self._lock = threading.RLock()
        self.last_phase: np.ndarray | None = None
        self._warm_up()

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

    def _lit(self, target: SpotTarget | ImageTarget) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat FFT-layout indices of the lit pixels, their weights (sum 1), and centred (iy, ix)."""
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
        return flat.astype(np.int64), np.asarray(w, dtype=np.float64), np.stack([iy, ix])

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
        t_start = time.perf_counter()
        self._check_args(method, iterations, tolerance, budget_ms, beta, fix_after, eps_r, eps_a, check_every)
        with self._lock:
            return self._compute(
                t_start, target, method, iterations, tolerance, budget_ms, warm_start, history, beta,
                int(fix_after), init, seed, float(eps_r), float(eps_a), check_every,
            )

    @staticmethod
    def _check_args(method, iterations, tolerance, budget_ms, beta, fix_after, eps_r, eps_a, check_every):
        check_method(method, beta, fix_after)
        if iterations is None:
            if budget_ms is None:
                raise EngineError("iterations=None (no limit) needs a budget_ms to stop on")
        elif isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise EngineError(f"iterations {iterations!r} must be an integer >= 0 (or None with budget_ms)")
        if tolerance is not None and not (np.isfinite(tolerance) and tolerance >= 0):
            raise EngineError(f"tolerance {tolerance!r} must be a finite number >= 0")
        if budget_ms is not None and not (np.isfinite(budget_ms) and budget_ms > 0):
            raise EngineError(f"budget_ms {budget_ms!r} must be a positive number of milliseconds")
        for name, v in (("eps_r", eps_r), ("eps_a", eps_a)):
            if not (np.isfinite(v) and v > 0):
                raise EngineError(f"{name} {v!r} must be a positive number")
        if check_every is not None and (not isinstance(check_every, (int, np.integer)) or check_every < 1):
            raise EngineError(f"check_every {check_every!r} must be an integer >= 1")

    # ---------------------------------------------------------------------------------------------------
    def _start_field(self, init, seed, t_s, idx_d) -> None:
        """Fill the buffer with the starting SLM field (FFT layout, SLM-constrained)."""
        be, xp = self.backend, self.backend.xp
        if isinstance(init, str) and init == "target":
            rng = np.random.default_rng(seed)
            ph = be.asarray(rng.uniform(0, 2 * np.pi, t_s.shape[0]), dtype=be.real_dtype)
            self._buf.fill(0)
            self._flat[idx_d] = t_s * xp.exp(1j * ph)
            self._plan.inverse()
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
            self._buf[...] = be.asarray(u, dtype=be.complex_dtype)
        self._kern.project_slm(self._buf, self._amp)

    def _start_weights(self, idx: np.ndarray, warm: bool):
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

    def _metrics_vec(self, flat_src, idx_d, w_d, n_grid, eps_r, eps_a, want_dark):
        """The 5 metrics (device vector) of ``flat_src``, the unnormalised FFT of a unit-power field."""
        xp = self.backend.xp
        g = xp.take(flat_src, idx_d)
        lit_i = (g.real.astype(xp.float64) ** 2 + g.imag.astype(xp.float64) ** 2) / n_grid
        dark = None
        if want_dark:
            scale = tolerance_scale(lit_i) / n_grid
            dark = self._kern.dark_excess(flat_src.reshape(self.grid_shape), scale, eps_a)
        return lit_metrics(lit_i, w_d, 1.0, dark, eps_r, eps_a)

    def _compute(self, t_start, target, method, iterations, tolerance, budget_ms, warm_start, history, beta,
                 fix_after, init, seed, eps_r, eps_a, check_every) -> HologramResult:
        be, xp, kern, plan = self.backend, self.backend.xp, self._kern, self._plan
        buf, flat, amp = self._buf, self._flat, self._amp
        n_grid = plan.size
        idx, w, _ = self._lit(target)
        # upload the target (the only host->device copy)
        t_up = time.perf_counter()
        idx_d = be.asarray(idx)
        w_d = be.asarray(w, dtype=xp.float64)
        # target amplitude for unit power, divided by sqrt(N): after the unnormalised inverse FFT the buffer
        # holds exactly the orthonormal projection (see the module docstring)
        t_s = be.asarray(np.sqrt(w / n_grid), dtype=be.real_dtype)
        be.synchronize()
        transfer_ms = (time.perf_counter() - t_up) * 1e3 if be.is_gpu else 0.0

        warm = bool(warm_start) and self._last_field is not None
        if warm:
            buf[...] = self._last_field
            kern.project_slm(buf, amp)
        else:
            self._start_field(init, seed, t_s, idx_d)
        weights = self._start_weights(idx, warm) if method in ("wgs", "wgs-kim") else None
        state: dict = {}
        # the fused Fourier step's vectors: weights (ones for GS/RAAR), Kim's phasors, scratch
        mode = {"wgs": 1, "wgs-kim": 2}.get(method, 0)
        n_lit = idx.shape[0]
        w_vec = weights if weights is not None else xp.ones(n_lit, dtype=be.real_dtype)
        kim_phase = xp.ones(n_lit, dtype=be.complex_dtype)
        w_step = xp.zeros((2, n_lit), dtype=be.real_dtype)  # WGS step exponents (start 1) and last signs
        w_step[0] = 1
        g_s = xp.empty(n_lit, dtype=be.complex_dtype)
        a_s = xp.empty(n_lit, dtype=be.real_dtype)
        if method == "raar":
            if self._x is None:
                self._x = xp.empty_like(buf)
            x = self._x
            x[...] = buf
            kern.raar_start(x, buf, amp)
            if (history or tolerance is not None) and self._mplan is None:
                self._mplan = (
                    be.new_fft_plan(self.grid_shape) if self.fast else _PlainFFT(be, self.grid_shape)
                )

        if check_every is None:
            check_every = 5 if be.is_gpu else 1
        need_metrics = history or tolerance is not None
        hist: list = []
        max_iter = iterations if iterations is not None else np.iinfo(np.int64).max
        stopped_by = "iterations"
        est_ms = self._iter_ms.get(method)
        gpu_limit = None
        gpu_probe = 2
        if be.is_gpu:
            ev_start = xp.cuda.Event()
            ev_end = xp.cuda.Event()
            ev_start.record()
        t_loop = time.perf_counter()
        k = 0
        while True:
            check_tol = tolerance is not None and k % check_every == 0
            if method == "raar":
                if need_metrics and (history or check_tol):
                    kern.project_slm_into(x, self._mplan.buffer, amp)
                    self._mplan.forward()
                    mvec = self._metrics_vec(self._mplan.buffer.reshape(-1), idx_d, w_d, n_grid, eps_r, eps_a,
                                             True)
                    if history:
                        hist.append(mvec)
                    if check_tol and float(mvec[3]) <= tolerance:
                        stopped_by = "tolerance"
                        break
            if k >= max_iter:
                break
            # time budget: on the CPU compare the clock before each iteration; on the GPU time a probe
            # a warm start always takes one iteration: the carried field is the last target's hologram
            if budget_ms is not None and not (warm and k == 0):
                if be.is_gpu:
                    if gpu_limit is None and (k == gpu_probe or (k == 0 and est_ms)):
                        if k == gpu_probe:  # the one sync of a budgeted GPU run
                            ev_end.record()
                            ev_end.synchronize()
                            est_ms = xp.cuda.get_elapsed_time(ev_start, ev_end) / gpu_probe
                        left = budget_ms - (time.perf_counter() - t_start) * 1e3 - 0.5 * est_ms
                        gpu_limit = k + max(0, int(left // est_ms))
                    if gpu_limit is not None and k >= gpu_limit:
                        stopped_by = "budget"
                        break
                else:
                    elapsed = (time.perf_counter() - t_start) * 1e3
                    per = (time.perf_counter() - t_loop) * 1e3 / k if k else (est_ms or 0.0)
                    # the finishing FFT + phase read-out costs about half an iteration
                    if elapsed + 1.5 * per > budget_ms:
                        stopped_by = "budget"
                        break
            plan.forward()
            if method != "raar":
                if need_metrics and (history or check_tol):
                    mvec = self._metrics_vec(flat, idx_d, w_d, n_grid, eps_r, eps_a, True)
                    if history:
                        hist.append(mvec)
                    if check_tol and float(mvec[3]) <= tolerance:
                        stopped_by = "tolerance"
                        plan.inverse()  # back to the SLM field of this (accepted) hologram
                        kern.project_slm(buf, amp)
                        break
            # The first iteration of a warm start is a plain GS step: a spot that was not in the last
            # pattern starts dark, and a weight update would multiply its weight by up to 1e3 and pull all
            # the light into it for several iterations. The carried weights are kept for the next step.
            gs_step = warm and k == 0
            if self.fast:  # one fused call (numba) or four launches (CuPy)
                kern.fourier_step(flat, idx_d, t_s, w_vec, w_step, kim_phase, g_s, a_s,
                                  0 if gs_step else mode, k < max(fix_after, 1))
            else:
                g = xp.take(flat, idx_d)
                vals = fourier_update(g, t_s, weights, "gs" if gs_step else method, k, fix_after, state)
                buf.fill(0)
                flat[idx_d] = vals
            plan.inverse()
            if method == "raar":
                kern.raar_update(x, buf, amp, beta)
            else:
                kern.project_slm(buf, amp)
            k += 1
        if be.is_gpu:
            ev_end.record()
            ev_end.synchronize()
            loop_ms = xp.cuda.get_elapsed_time(ev_start, ev_end)
        else:
            loop_ms = (time.perf_counter() - t_loop) * 1e3
        per_iter = loop_ms / k if k else 0.0
        if k:
            self._iter_ms[method] = per_iter

        # the hologram: P_M x for RAAR, the buffer itself otherwise
        if method == "raar":
            kern.project_slm_into(x, buf, amp)
        if self._last_field is None:
            self._last_field = xp.empty_like(buf)
        self._last_field[...] = buf
        phase_d = xp.empty(self.shape, dtype=be.real_dtype)
        kern.extract_phase(buf, phase_d, (self.shape[0] // 2, self.shape[1] // 2))
        plan.forward()
        final = self._metrics_vec(flat, idx_d, w_d, n_grid, eps_r, eps_a, True)
        if weights is not None:  # (the GPU step leaves the weights unnormalised: they are scale-free)
            weights /= xp.mean(weights)
        self._last_idx, self._last_weights = (idx, weights) if weights is not None else (None, None)
        t_down = time.perf_counter()
        phase = to_numpy(phase_d).astype(np.float32, copy=False)
        vals = to_numpy(final)
        hist_np = to_numpy(xp.stack(hist)) if hist else None
        if be.is_gpu:
            transfer_ms += (time.perf_counter() - t_down) * 1e3
        if history:
            if hist_np is None or hist_np.shape[0] == k:  # the final hologram was not recorded in the loop
                hist_np = vals[None, :] if hist_np is None else np.vstack([hist_np, vals[None, :]])
            mh = MetricsHistory(*(hist_np[:, i].copy() for i in range(len(METRIC_NAMES))))
        else:
            mh = None
        metrics = HologramMetrics(*(float(v) for v in vals), history=mh)
        self.last_phase = phase
        total_ms = (time.perf_counter() - t_start) * 1e3
        return HologramResult(phase, k, metrics, Timings(total_ms, per_iter, transfer_ms), method, stopped_by)

