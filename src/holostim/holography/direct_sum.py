"""Direct-sum (GSW-style) phase retrieval for spots: exact sub-pixel and 3-D positions, no FFT.

For a spot target the Fourier-plane projection only ever reads and writes the N spot values, so the
FFT's full far field is work thrown away when N is small. The direct sum computes exactly those values
and superposes exactly those waves (:class:`~.spot_basis.SpotBasis`: two rank-N complex GEMMs per
iteration through the backend's ``xp``: BLAS on numpy, cuBLAS on CuPy, the same code), with:

* each spot at its exact position: sub-pixel ``(x, y)`` and a depth ``z`` (the defocus of
  :mod:`.defocus`), no padding, no rounding to a grid;
* the Fourier step of the FFT engine, written once in :func:`.methods.fourier_projection` (GS, WGS with
  its adaptive step, Kim's phase-fixed WGS); RAAR is not offered (its reflections act on the whole far
  field, which the direct sum does not have);
* the SLM step of the FFT engine (its fused ``project_slm`` kernel);
* the metrics of :mod:`.metrics` on the spot values with the same names: efficiency (power in the spots'
  focal pixels, each at its own depth, over the power leaving the SLM), uniformity, std_error, gap, and
  tolerance_error counting the spots only (the direct sum has no dark pixels to measure: their part is 0);
* the stop rules of :mod:`.stopping` (iterations, tolerance, ``budget_ms``), single or double precision.

At z = 0 and integer positions it is the FFT engine's iteration exactly (same start, same updates), which
the tests check to float tolerance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from holostim.backend import Backend, get_backend, to_numpy
from holostim.backend.blas import single_blas_thread
from holostim.holography.defocus import DefocusModel
from holostim.holography.errors import EngineError
from holostim.holography.kernels import fast_kernels, plain_kernels
from holostim.holography.methods import (
    DEFAULT_FIX_AFTER,
    GS_STEP,
    MethodError,
    check_method,
    fourier_projection,
    fourier_step_mode,
)
from holostim.holography.metrics import (
    DEFAULT_EPS_A,
    DEFAULT_EPS_R,
    HologramMetrics,
    Metric,
    MetricsHistory,
    lit_metrics,
)
from holostim.holography.result import HologramResult, Timings
from holostim.holography.spot_algorithm import DIRECT_METHODS
from holostim.holography.spot_basis import SpotBasis
from holostim.holography.stopping import Budget, LoopTimer, StopRule
from holostim.holography.targets import SpotTarget, TargetError

__all__ = ["DIRECT_METHODS", "DirectSumEngine"]


class DirectSumEngine:
    """Phase masks for spot targets by direct superposition (module docstring).

    Parameters
    ----------
    shape : (ny, nx)
        SLM pixels.
    backend, precision : as :class:`~holostim.holography.HologramEngine`.
    source_amplitude : array (ny, nx), optional
        The SLM illumination amplitude (centred, any scale: normalised to unit power); flat by default.
    defocus : DefocusModel, optional
        How a depth becomes an SLM phase; needed only for targets with ``z != 0``.
    fast : bool
        The fused SLM-projection kernel (default) or its plain ``xp`` reference.
    clock : callable, optional
        Seconds, like :func:`time.perf_counter`: what ``budget_ms`` and the timings use.
    """

    def __init__(self, shape: tuple[int, int], backend: str | Backend = "auto", precision: str = "single",
                 source_amplitude: Any = None, defocus: DefocusModel | None = None, fast: bool = True,
                 clock: Callable[[], float] | None = None):
        self.shape = (int(shape[0]), int(shape[1]))
        self.backend = get_backend(backend, precision)
        be = self.backend
        amp = np.ones(self.shape) if source_amplitude is None else np.asarray(to_numpy(source_amplitude),
                                                                              dtype=np.float64)
        if amp.shape != self.shape:
            raise EngineError(f"source amplitude has shape {amp.shape}; the SLM is {self.shape}")
        amp = amp / np.sqrt(np.sum(amp**2))
        if np.ptp(amp) == 0:
            amp = np.full((1, 1), amp.flat[0])
        self._amp = be.asarray(amp, dtype=be.real_dtype)
        self.defocus = defocus
        self._kern = fast_kernels(be) if fast else plain_kernels(be)
        self.clock = clock if clock is not None else time.perf_counter
        self._u = be.xp.empty(self.shape, dtype=be.complex_dtype)
        self._last_field = None
        self._last_key: tuple | None = None
        self._last_weights = None
        self._iter_ms: dict[str, float] = {}
        self._lock = threading.RLock()

    def basis(self, target: SpotTarget) -> SpotBasis:
        """The spot waves of ``target`` on this engine's backend (checks the target's grid)."""
        if not isinstance(target, SpotTarget):
            raise TargetError(f"the direct sum computes spot targets; got {type(target).__name__}")
        if target.shape != self.shape:
            raise TargetError(
                f"the target was made for a {target.shape[0]}x{target.shape[1]} grid but this engine's "
                f"SLM is {self.shape[0]}x{self.shape[1]}; build it with shape={self.shape}"
            )
        return SpotBasis(target, self.backend, self.defocus)

    def spot_values(self, phase: Any, target: SpotTarget) -> np.ndarray:
        """The orthonormal complex field at each spot's focus for an SLM ``phase`` (numpy, complex128)."""
        be = self.backend
        basis = self.basis(target)
        u = be.asarray(np.exp(1j * np.asarray(to_numpy(phase), dtype=np.float64)), dtype=be.complex_dtype)
        u = u * self._amp
        return to_numpy(basis.values(u)).astype(np.complex128)

    # ---------------------------------------------------------------------------------------------------
    def compute(self, target: SpotTarget, *args: Any, **kwargs: Any) -> HologramResult:
        """Compute a phase mask for ``target`` (:meth:`_compute`); on numpy with BLAS on one thread.

        The same bytes whatever the process's BLAS thread count (:mod:`holostim.backend.blas`): the GUI,
        ``holostim compute`` and a library's Dask workers give the same mask for the same spots and seed.
        """
        if self.backend.is_gpu:
            return self._compute(target, *args, **kwargs)
        with single_blas_thread():
            return self._compute(target, *args, **kwargs)

    def _compute(self, target: SpotTarget, method: str = "wgs", iterations: int | None = 20,
                tolerance: float | None = None, budget_ms: float | None = None, warm_start: bool = False, *,
                history: bool = False, fix_after: int = DEFAULT_FIX_AFTER, init: Any = "target",
                seed: int | None = 0, eps_r: float = DEFAULT_EPS_R, eps_a: float = DEFAULT_EPS_A,
                check_every: int | None = None, t_start: float | None = None) -> HologramResult:
        """Compute a phase mask for ``target``; arguments and result as ``HologramEngine.compute``.

        The caller (:class:`~holostim.holography.HologramEngine`) has validated the numeric arguments;
        ``t_start`` is when its call began (the budget counts from there).
        """
        t0 = self.clock() if t_start is None else t_start
        check_method(method, fix_after=fix_after)
        if method not in DIRECT_METHODS:
            raise MethodError(f"method {method!r} is not available for the direct sum; use one of "
                              f"{', '.join(DIRECT_METHODS)} (or spot_algorithm 'fft' for a 2-D target)")
        if check_every is None:
            check_every = 5 if self.backend.is_gpu else 1
        stop = StopRule(iterations, tolerance, budget_ms, int(check_every))
        with self._lock:
            return self._run(target, method, stop, bool(warm_start), history, int(fix_after), init, seed,
                             float(eps_r), float(eps_a), t0)

    def _run(self, target, method, stop, warm_start, history, fix_after, init, seed, eps_r, eps_a, t0):
        be, xp = self.backend, self.backend.xp
        basis = self.basis(target)
        n = len(target)
        t_up = self.clock()
        w_d = be.asarray(target.weights, dtype=xp.float64)
        t = be.asarray(np.sqrt(target.weights), dtype=be.real_dtype)
        be.synchronize()
        transfer_ms = (self.clock() - t_up) * 1e3 if be.is_gpu else 0.0
        key = (target.shape, target.xyz.tobytes())
        warm = warm_start and self._last_field is not None
        u = self._u
        if warm:
            u[...] = self._last_field
        else:
            self._start_field(basis, init, seed, t, u)
        weights = xp.ones(n, dtype=be.real_dtype)
        if method != "gs" and warm and self._last_key == key and self._last_weights is not None:
            weights[...] = self._last_weights
        step = xp.zeros((2, n), dtype=be.real_dtype)
        step[0] = 1
        frozen = xp.ones(n, dtype=be.complex_dtype)
        mode = fourier_step_mode(method)
        hist: list = []
        timer = LoopTimer(xp, be.is_gpu, self.clock)
        budget = Budget(stop.budget_ms, t0, timer, self._iter_ms.get(method)) if stop.budget_ms else None
        timer.start()
        k, stopped_by = 0, "iterations"
        while True:
            g = basis.values(u)
            check = stop.checks_tolerance(k)
            if history or check:
                mvec = lit_metrics(xp.abs(g).astype(xp.float64) ** 2, w_d, 1.0, None, eps_r, eps_a)
                if history:
                    hist.append(mvec)
                if check and stop.tolerance_met(float(mvec[Metric.tolerance_error])):
                    stopped_by = "tolerance"
                    break
            if k >= stop.max_iterations:
                break
            if budget is not None and not (warm and k == 0) and budget.exhausted(k):
                stopped_by = "budget"
                break
            step_mode = GS_STEP if warm and k == 0 else mode
            c = fourier_projection(g, t, weights, step, frozen, step_mode, k < max(fix_after, 1))
            basis.field(c.astype(be.complex_dtype, copy=False), out=u)
            self._kern.project_slm(u, self._amp)
            k += 1
        loop_ms = timer.elapsed_ms()
        return self._finish(basis, u, g, w_d, weights if method != "gs" else None, key, method, k, stopped_by,
                            loop_ms, t0, transfer_ms, hist, history, eps_r, eps_a)

    def _start_field(self, basis: SpotBasis, init, seed, t, u) -> None:
        """The FFT engine's starting fields: the spots with seeded random phases, a random phase, or given."""
        be, xp = self.backend, self.backend.xp
        if isinstance(init, str) and init == "target":
            ph = be.asarray(np.random.default_rng(seed).uniform(0, 2 * np.pi, basis.n), dtype=be.real_dtype)
            basis.field((t * xp.exp(1j * ph)).astype(be.complex_dtype), out=u)
        else:
            if isinstance(init, str):
                if init != "random":
                    raise EngineError(f"init {init!r} is not one of target, random or an (ny, nx) "
                                      "phase array")
                phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, self.shape)
            else:
                phase = np.asarray(to_numpy(init), dtype=np.float64)
                if phase.shape != self.shape or not np.isfinite(phase).all():
                    raise EngineError(f"init phase has shape {phase.shape} (need {self.shape}, "
                                      "finite values)")
            u[...] = be.asarray(np.exp(1j * phase), dtype=be.complex_dtype)
        self._kern.project_slm(u, self._amp)

    def _finish(self, basis, u, g, w_d, weights, key, method, k, stopped_by, loop_ms, t0, transfer_ms, hist,
                history, eps_r, eps_a) -> HologramResult:
        """Keep the field for a warm start, read the phase out, measure the returned hologram."""
        be, xp = self.backend, self.backend.xp
        per_iter = loop_ms / k if k else 0.0
        if k:
            self._iter_ms[method] = per_iter
        if stopped_by != "tolerance":  # the loop's last g belongs to the field before the last update
            g = basis.values(u)
        final = lit_metrics(xp.abs(g).astype(xp.float64) ** 2, w_d, 1.0, None, eps_r, eps_a)
        if self._last_field is None:
            self._last_field = xp.empty_like(u)
        self._last_field[...] = u
        if weights is not None:
            weights /= xp.mean(weights)
        self._last_key, self._last_weights = (key, weights) if weights is not None else (None, None)
        t_down = self.clock()
        phase_d = xp.empty(self.shape, dtype=be.real_dtype)
        self._kern.extract_phase(u, phase_d, (0, 0))  # u is centred already: no shift, wrapped to [0, 2π)
        phase = to_numpy(phase_d).astype(np.float32, copy=False)
        vals = to_numpy(final)
        transfer_ms += (self.clock() - t_down) * 1e3 if be.is_gpu else 0.0
        mh = None
        if history:
            h = np.stack([to_numpy(m) for m in hist]) if hist else np.empty((0, len(Metric)))
            if h.shape[0] == k:
                h = np.vstack([h, vals[None, :]])
            mh = MetricsHistory(*(h[:, m].copy() for m in Metric))
        metrics = HologramMetrics(*(float(v) for v in vals), history=mh)
        timings = Timings((self.clock() - t0) * 1e3, per_iter, transfer_ms)
        return HologramResult(phase, k, metrics, timings, method, stopped_by)
