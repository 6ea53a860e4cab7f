"""Gradient design: Adam (optax) on the SLM phase through the realistic forward model, under JAX.

The loss is computed on the model's focal planes (:mod:`.model`), with spot powers integrated over discs
(:mod:`.spots`), as a weighted sum of three terms (:class:`LossWeights`):

uniformity
    ``mean_k (s_k / w_k - 1)²`` with ``s_k = P_k / Σ P`` each spot's share and ``w_k`` its target share
    (the spot file's weights, sum 1): a smooth stand-in for the max/min uniformity that also reaches
    per-spot power targets.
efficiency
    ``1 - Σ P_k`` (powers are fractions of the laser's: the illumination has unit power).
stray
    the power in the first-order window outside every spot's disc (ghosts, the zero order).

**The phase stays in its box.** The variable is the retardance the panel shows, in ``[0, 2π)`` (its top
level at most), and each Adam update is clipped back into that box instead of wrapped. With crosstalk
the wrap is not a symmetry: a pixel jumping from 2π to 0 changes its blurred neighbours at once, a
discontinuity the gradient cannot see, and letting pixels cross it made the loss rise within tens of
steps (measured, σ = 1 px). In the box the loss is continuous along the whole path; a WGS start lies
in it already.

One step (forward model, loss, gradient, Adam update) is one ``jax.jit``-compiled function; the loop
runs a fixed number of steps, or stops when the loss has not improved by ``min_delta`` (relative) for
``patience`` steps, and returns the best phase it saw (the quantiser's straight-through gradient lets
Adam step past a minimum of the quantised loss). The start is a WGS mask of the engine
(:func:`wgs_mask`: the hologram the rig would show today) or a seeded random phase; with the same
seed and inputs the result is the same.

JAX and optax are the ``design`` extra; they are imported here only, when a design runs.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.design.errors import DesignError
from holostim.design.model import DesignModel, ForwardModel, focal_intensity
from holostim.design.spots import DesignTarget

__all__ = ["INITS", "DesignResult", "LossWeights", "design_mask", "make_loss", "require_jax", "wgs_mask"]

INITS = ("wgs", "random")


def require_jax() -> None:
    """Raise one line with the install command when JAX or optax is missing."""
    import importlib.util

    missing = [m for m in ("jax", "optax") if importlib.util.find_spec(m) is None]
    if missing:
        raise DesignError(f"gradient design needs {' and '.join(missing)}: pip install -e .[design]")


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (module docstring)."""

    uniformity: float = 1.0
    efficiency: float = 1.0
    stray: float = 0.1

    def __post_init__(self) -> None:
        for name in ("uniformity", "efficiency", "stray"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise DesignError(f"loss weight {name}={v!r} must be a finite number >= 0")


@dataclass(frozen=True)
class DesignResult:
    """A designed mask and how it was reached.

    Attributes
    ----------
    phase : float32 (ny, nx) in [0, 2π): the mask (an ordinary mask: ``save_phase`` writes it).
    start_phase : the starting mask (WGS or random), wrapped likewise.
    init : "wgs", "random" or "array".
    iterations : Adam steps run.
    loss : float64 (iterations + 1,): the loss at the start and after each step.
    best_iteration : the step whose phase is returned (0: the start).
    stopped_by : "iterations" or "patience".
    start_seconds, compile_seconds, optimise_seconds : WGS (or random) start, the first step's trace and
        compilation, and the steps after it.
    """

    phase: np.ndarray
    start_phase: np.ndarray
    init: str
    iterations: int
    loss: np.ndarray
    best_iteration: int
    stopped_by: str
    start_seconds: float
    compile_seconds: float
    optimise_seconds: float

    @property
    def total_seconds(self) -> float:
        """Start, compilation and optimisation together: the time to reach this mask."""
        return self.start_seconds + self.compile_seconds + self.optimise_seconds


def wgs_mask(model: DesignModel, target: DesignTarget, iterations: int = 30,
             seed: int = 0) -> tuple[np.ndarray, float]:
    """The engine's WGS mask for ``target`` (its ideal model; the baseline) and the seconds it took.

    The seconds are the compute's, not the engine's construction (a rig has its engine built already).

    The FFT engine for a 2-D target, the direct sum (with the model's defocus) for a 3-D one, on numpy in
    single precision, with the model's illumination.
    """
    from holostim.holography import HologramEngine

    engine = HologramEngine(model.shape, backend="numpy", precision="single", source=model.engine_source(),
                            defocus=model.defocus_model() if target.target.is_3d else None)
    t1 = time.perf_counter()
    result = engine.compute(target.target, method="wgs", iterations=int(iterations), seed=int(seed))
    return np.asarray(result.phase, dtype=np.float32), time.perf_counter() - t1


def make_loss(forward: ForwardModel, target: DesignTarget, weights: LossWeights | None = None
              ) -> Callable[[Any], tuple[Any, dict[str, Any]]]:
    """``loss(phase) -> (value, {"uniformity", "efficiency", "stray"})`` on a JAX forward model."""
    import jax
    import jax.numpy as jnp

    lw = weights or LossWeights()
    discs = target.discs(forward.grid_shape, forward.padding, forward.model.far_field.spot_radius_px)
    plane = jnp.asarray(discs.plane)
    flat = jnp.asarray(discs.flat)
    spot = jnp.asarray(discs.spot)
    stray_mask = jnp.asarray(discs.stray, dtype=forward.real_dtype)
    w = jnp.asarray(target.weights, dtype=forward.real_dtype)
    n = discs.n_spots

    def loss(phase: Any) -> tuple[Any, dict[str, Any]]:
        focal = forward(phase)
        da = focal.spacing[0] * focal.spacing[1]
        inten = focal_intensity(focal)
        vals = jnp.reshape(inten, (inten.shape[0], -1))[plane, flat] * da
        p = jax.ops.segment_sum(vals, spot, num_segments=n)
        total = jnp.sum(p)
        share = p / total
        unif = jnp.mean((share / w - 1.0) ** 2)
        stray = jnp.sum(inten * stray_mask) * da
        value = lw.uniformity * unif + lw.efficiency * (1.0 - total) + lw.stray * stray
        return value, {"uniformity": unif, "efficiency": total, "stray": stray}

    return loss


_STEPS: OrderedDict[tuple, tuple[Any, int | None]] = OrderedDict()
_STEPS_KEPT = 4


def _compiled_step(model: DesignModel, target: DesignTarget, learning_rate: float,
                   weights: LossWeights) -> tuple[Any, int | None]:
    """The jitted Adam step for this model, target and loss (and the panel's levels), kept for reuse.

    Tracing and compiling a step costs seconds, more than a hundred steps of a small design; a second
    design of the same target (another seed, another start) reuses it. The key holds the model as JSON
    and the LUT's level phases (a LUT file edited in place is a new model).
    """
    import jax
    import jax.numpy as jnp
    import optax

    from holostim.design.model import level_phases

    key = (model.model_dump_json(), level_phases(model.slm).tobytes(), target.xy.tobytes(),
           target.weights.tobytes(), np.asarray(target.target.z).tobytes(), learning_rate, weights)
    hit = _STEPS.get(key)
    if hit is not None:
        _STEPS.move_to_end(key)
        return hit
    forward = ForwardModel(model, target.depths, xp=jnp, dtype="single")
    loss = make_loss(forward, target, weights)
    opt = optax.adam(learning_rate)
    levels = forward.n_levels
    top = 2 * math.pi * ((levels - 1) / levels if levels is not None else 1 - 1e-6)

    @jax.jit
    def step(phase, state):
        (value, _), grad = jax.value_and_grad(loss, has_aux=True)(phase)
        updates, state = opt.update(grad, state, phase)
        return jnp.clip(optax.apply_updates(phase, updates), 0.0, top), state, value

    _STEPS[key] = (step, levels)
    while len(_STEPS) > _STEPS_KEPT:
        _STEPS.popitem(last=False)
    return step, levels


def _start(model: DesignModel, target: DesignTarget, init: Any, seed: int,
           wgs_iterations: int) -> tuple[np.ndarray, str, float]:
    if isinstance(init, str):
        if init == "wgs":
            phase, secs = wgs_mask(model, target, wgs_iterations, seed)
            return phase, "wgs", secs
        if init == "random":
            t0 = time.perf_counter()
            phase = np.random.default_rng(seed).uniform(0, 2 * math.pi, model.shape).astype(np.float32)
            return phase, "random", time.perf_counter() - t0
        raise DesignError(f"init {init!r}: use one of {', '.join(INITS)} or a phase array")
    phase = np.asarray(init, dtype=np.float32)
    if phase.shape != model.shape or not np.isfinite(phase).all():
        raise DesignError(f"starting phase of shape {phase.shape} must be finite and {model.shape}")
    return phase, "array", 0.0


def design_mask(model: DesignModel, target: DesignTarget, *, init: Any = "wgs", iterations: int = 200,
                learning_rate: float = 0.05, loss_weights: LossWeights | None = None, seed: int = 0,
                wgs_iterations: int = 30, patience: int | None = None, min_delta: float = 1e-4,
                callback: Callable[[int, np.ndarray, float], None] | None = None) -> DesignResult:
    """Optimise the SLM phase for ``target`` on ``model`` (module docstring).

    Parameters
    ----------
    init : "wgs", "random" or an array
        The start: the engine's WGS mask (``wgs_iterations``, ``seed``), a uniform random phase drawn
        with ``seed``, or a given phase.
    iterations : int
        Most Adam steps (0 returns the start).
    learning_rate : float
        Adam's step size, radians.
    patience, min_delta
        Stop early when the best loss has not dropped by ``min_delta`` (relative) for ``patience`` steps.
    callback : callable, optional
        ``callback(k, phase, seconds)`` after step ``k`` (the benchmark times the way to a uniformity).

    Raises
    ------
    DesignError
        JAX/optax missing, a bad option, spots too close for their discs.
    """
    require_jax()
    with warnings.catch_warnings():
        # the optics core asks for float64 and JAX (x64 off) gives float32, as this design wants
        warnings.filterwarnings("ignore", message="Explicitly requested dtype float64")
        return _design(model, target, init, iterations, learning_rate, loss_weights, seed, wgs_iterations,
                       patience, min_delta, callback)


def _design(model, target, init, iterations, learning_rate, loss_weights, seed, wgs_iterations,
            patience, min_delta, callback) -> DesignResult:  # type: ignore[no-untyped-def]
    import jax
    import jax.numpy as jnp
    import optax

    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise DesignError(f"iterations {iterations!r} must be an integer >= 0")
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
        raise DesignError(f"learning_rate {learning_rate!r} must be a positive number (radians)")
    if patience is not None and (not isinstance(patience, (int, np.integer)) or patience < 1):
        raise DesignError(f"patience {patience!r} must be a positive integer")
    start, kind, start_s = _start(model, target, init, seed, wgs_iterations)
    step, levels = _compiled_step(model, target, float(learning_rate), loss_weights or LossWeights())
    top = 2 * math.pi * ((levels - 1) / levels if levels is not None else 1 - 1e-6)
    opt = optax.adam(float(learning_rate))

    # the start as the panel shows it: wrapped and on its levels, so the box below holds it unchanged
    start = np.mod(start.astype(np.float64), 2 * math.pi)
    if levels is not None:
        start = np.mod(np.round(start * (levels / (2 * math.pi))), levels) * (2 * math.pi / levels)
    start = np.clip(start, 0.0, top).astype(np.float32)
    # committed to the device, as every step's outputs are: jit keys its compilation on the inputs'
    # placement too, and an uncommitted start made the second step compile the whole step again
    phase = jnp.asarray(start)
    phase, state = jax.device_put((phase, opt.init(phase)), jax.devices()[0])
    history: list[float] = []
    best, best_k, best_phase = math.inf, 0, phase
    compile_s, stopped_by, since, k = 0.0, "iterations", 0, 0
    t0 = time.perf_counter()
    t_loop = t0
    while True:
        new_phase, new_state, value = step(phase, state)
        v = float(value)  # the loss of ``phase``, before this update
        if not history:
            compile_s = time.perf_counter() - t0
            t_loop = time.perf_counter()
        history.append(v)
        if v < best * (1 - min_delta) if best > 0 else v < best:
            since = 0
        else:
            since += 1
        if v < best:
            best, best_k, best_phase = v, k, phase
        if k >= iterations:
            break
        if patience is not None and since >= patience:
            stopped_by = "patience"
            break
        phase, state, k = new_phase, new_state, k + 1
        if callback is not None:
            callback(k, np.asarray(phase), time.perf_counter() - t_loop)
    opt_s = time.perf_counter() - t_loop
    wrap = 2 * math.pi
    out = np.mod(np.asarray(best_phase, dtype=np.float64), wrap).astype(np.float32)
    out[out >= wrap] = 0.0
    return DesignResult(phase=out, start_phase=np.mod(start, wrap).astype(np.float32), init=kind,
                        iterations=k, loss=np.asarray(history, dtype=np.float64), best_iteration=best_k,
                        stopped_by=stopped_by, start_seconds=start_s, compile_seconds=compile_s,
                        optimise_seconds=opt_s)
