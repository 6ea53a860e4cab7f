"""The engine benchmark (``holostim bench``, ``benchmarks/engine.py``): speed and quality per method.

Problems (issue 3), all on an ``--size`` grid (1024 by default), no padding, uniform source, initial phase
uniform random from ``default_rng(1)``:

1. ``rand50`` / ``rand200``: spots at integer pixels drawn without replacement (``default_rng(0)``) from the
   central half-size window, excluding a radius of 16 px around the zero order; equal weights.
2. ``grid10``: a 10 x 10 regular grid, pitch 24 px, centred 40 px off the zero order (in x and y).
3. ``star``: a Siemens star image target, 36 spokes, radius 200 px.

(Smaller ``--size`` values scale the windows, pitch and radius with the grid.)

For every backend and precision it prints the time of two bare FFTs (planned FFTW, scipy.fft, numpy.fft
on the CPU; cuFFT on the GPU), then per problem and method (RAAR with the default beta): median ms per
iteration, ms to reach uniformity 0.99 and 0.999 (spot problems), the five metrics after ``--iterations``
iterations and the ratio of the iteration time to two FFTs (the engine's own planned pair, timed
alternately with the computes so that both see the same machine load). Then RAAR (beta 0.5/0.6/0.7/0.9)
against GS on the star, warm against cold start, how close a ``budget_ms`` run ends to its budget, and
the plain-NumPy loop most people would write, for the speed-up at the same quality.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from holostim.backend import Backend, get_backend, gpu_available
from holostim.holography.engine import HologramEngine
from holostim.holography.methods import DEFAULT_BETA, METHODS
from holostim.holography.metrics import evaluate
from holostim.holography.targets import SpotTarget, siemens_star

__all__ = ["main", "make_problems", "numpy_reference"]


def _random_spots(size: int, count: int) -> SpotTarget:
    half = size // 2
    lo = size // 2 - half // 2
    yy, xx = np.mgrid[lo : lo + half, lo : lo + half]
    ok = np.hypot(yy - size // 2, xx - size // 2) > 16 * size / 1024
    cand = np.stack([xx[ok], yy[ok]], 1)
    pick = np.random.default_rng(0).choice(len(cand), count, replace=False)
    return SpotTarget.from_pixels(cand[pick], shape=(size, size))


def _grid_spots(size: int) -> SpotTarget:
    pitch = max(2, round(24 * size / 1024))
    off = round(40 * size / 1024)
    g = size // 2 + off + pitch * (np.arange(10) - 4.5)
    xx, yy = np.meshgrid(np.rint(g), np.rint(g))
    return SpotTarget.from_pixels(np.stack([xx.ravel(), yy.ravel()], 1), shape=(size, size))


def make_problems(size: int) -> dict:
    """The benchmark targets by name (see the module docstring)."""
    return {
        "rand50": _random_spots(size, 50),
        "rand200": _random_spots(size, 200),
        "grid10": _grid_spots(size),
        "star": siemens_star((size, size), spokes=36, radius=200 * size / 1024),
    }


def numpy_reference(target, shape, method: str, iterations: int, init_phase: np.ndarray):
    """The loop most people would write: dense target, ``np.fft`` and ``np.exp(1j * ...)`` every iteration.

    GS or Leonardo's WGS, complex128 (numpy's default), shifts on every transform. Returns the phase and
    the mean ms per iteration.
    """
    ny, nx = shape
    target_amp = np.zeros(shape)
    iy, ix = target.lit_pixels(shape) if isinstance(target, SpotTarget) else np.nonzero(target.intensity)
    w = target.weights if isinstance(target, SpotTarget) else target.intensity[iy, ix]
    target_amp[iy, ix] = np.sqrt(w)
    weights = np.ones(shape)
    lit = target_amp > 0
    phase = init_phase.copy()
    t0 = time.perf_counter()
    for _ in range(iterations):
        slm = np.exp(1j * phase) / np.sqrt(ny * nx)
        far = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(slm)))
        if method == "wgs":
            a = np.abs(far[lit]) / target_amp[lit]
            weights[lit] *= np.mean(a) / a
        far = weights * target_amp * np.exp(1j * np.angle(far))
        phase = np.angle(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(far))))
    ms = (time.perf_counter() - t0) * 1e3 / max(iterations, 1)
    return np.mod(phase, 2 * np.pi), ms


def _median_ms(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _fft_times(be, size: int, repeats: int) -> dict[str, float]:
    plan = be.new_fft_plan((size, size))
    rng = np.random.default_rng(0)
    plan.buffer[...] = be.asarray(rng.standard_normal((size, size)), dtype=be.complex_dtype)
    out = {"planned": _median_ms(lambda: (plan.forward(), plan.inverse()), repeats, be.synchronize)}
    if not be.is_gpu:
        import scipy.fft

        x = np.asarray(rng.standard_normal((size, size)), dtype=be.complex_dtype)

        def sp():
            scipy.fft.ifft2(scipy.fft.fft2(x, workers=be.threads, overwrite_x=True), workers=be.threads,
                            overwrite_x=True)

        out["scipy.fft"] = _median_ms(sp, repeats, be.synchronize)
        out["numpy.fft"] = _median_ms(lambda: np.fft.ifft2(np.fft.fft2(x)), max(2, repeats // 3),
                                      be.synchronize)
    return out


def _first_reaching(values: np.ndarray, threshold: float) -> int | None:
    hit = np.flatnonzero(values >= threshold)
    return int(hit[0]) if hit.size else None


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def _run_backend(be, size, problems, methods, iterations, curve_iterations, repeats, out):
    init = np.random.default_rng(1).uniform(0, 2 * np.pi, (size, size))
    ffts = _fft_times(be, size, repeats)
    two_fft = ffts["planned"]
    out(f"\n## {be.describe()}  grid {size}x{size}")
    out("two FFTs (forward + inverse, complex, in place where possible): "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in ffts.items()))
    engine = HologramEngine((size, size), backend=be)
    plan = engine._plan

    def fft_pair():
        plan.forward()
        plan.inverse()

    hdr = (f"{'problem':<8} {'method':<8} {'ms/it':>7} {'ms->0.99':>9} {'ms->0.999':>9} {'eff':>7} "
           f"{'unif':>7} {'std_err':>8} {'tol_err':>8} {'gap':>7} {'/2FFT':>6}")
    out(hdr)
    out("-" * len(hdr))
    results = {}
    for pname, target in problems.items():
        for method in methods:
            kw = dict(method=method, init=init, beta=DEFAULT_BETA)
            # two bare FFTs timed right next to each compute on the engine's own plan: on a shared machine the
            # load changes from minute to minute, and the ratio is only meaningful under the same load
            pair, per_runs = [], []
            for _ in range(repeats):
                pair.append(_median_ms(fft_pair, 3, be.synchronize))
                res = engine.compute(target, iterations=iterations, **kw)
                per_runs.append(res.timings.per_iteration_ms)
            per, pair_ms = statistics.median(per_runs), statistics.median(pair)
            curve = engine.compute(target, iterations=curve_iterations, history=True, **kw).metrics.history
            to99 = to999 = None
            if isinstance(target, SpotTarget):
                k99, k999 = _first_reaching(curve.uniformity, 0.99), _first_reaching(curve.uniformity, 0.999)
                to99 = None if k99 is None else k99 * per
                to999 = None if k999 is None else k999 * per
            m = res.metrics
            results[(pname, method)] = (per, m)
            out(f"{pname:<8} {method:<8} {per:7.2f} {_fmt(to99, '9.1f'):>9} {_fmt(to999, '9.1f'):>9} "
                f"{m.efficiency:7.4f} {m.uniformity:7.4f} {m.std_error:8.2e} {m.tolerance_error:8.3f} "
                f"{m.gap:7.4f} {per / pair_ms:6.2f}")
    if be.is_gpu and "rand50" in problems:
        r = engine.compute(problems["rand50"], method="wgs", iterations=25, init=init)
        out(f"GPU: 25 WGS iterations, 50 spots: {r.timings.per_iteration_ms * 25:.2f} ms (CUDA events), "
            f"phase transfer {r.timings.transfer_ms:.2f} ms")
    return engine, results, two_fft


def _raar_curves(engine, target, size, curve_iterations, out):
    init = np.random.default_rng(1).uniform(0, 2 * np.pi, (size, size))
    marks = [k for k in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500) if k <= curve_iterations]
    out(f"\n## RAAR vs GS on the Siemens star ({engine.backend.describe()}): tolerance_error | gap")
    out(f"{'':<10}" + "".join(f"{'it ' + str(k):>17}" for k in marks))
    for label, method, beta in (("gs", "gs", 0.9), ("raar 0.5", "raar", 0.5), ("raar 0.6", "raar", 0.6),
                                ("raar 0.7", "raar", 0.7), ("raar 0.9", "raar", 0.9)):
        h = engine.compute(target, method=method, iterations=curve_iterations, history=True, beta=beta,
                           init=init).metrics.history
        out(f"{label:<10}" + "".join(f"{h.tolerance_error[k]:>9.3f} {h.gap[k]:>7.4f}" for k in marks))


def _warm_vs_cold(be, problems, size, out):
    out(f"\n## warm vs cold start ({be.describe()}): one spot moved by a few px, WGS to tolerance_error "
        "<= 1e-3 (eps_r 0.02, eps_a 0.5)")
    for pname in ("grid10", "rand200", "rand50"):
        if pname not in problems:
            continue
        t1 = problems[pname]
        taken = {tuple(p) for p in t1.xy[1:]}
        moves = ((3, -2), (-3, 2), (2, 3), (-2, -3), (5, 1))
        move = next(m for m in moves if tuple(t1.xy[0] + m) not in taken)
        xy = t1.xy.copy()
        xy[0] += move
        t2 = SpotTarget.from_pixels(xy, shape=(size, size))
        kw = dict(method="wgs", iterations=300, tolerance=1e-3, eps_r=0.02, eps_a=0.5, init="random", seed=1)
        eng = HologramEngine((size, size), backend=be)
        eng.compute(t1, **kw)
        warm = eng.compute(t2, warm_start=True, **kw)
        cold = HologramEngine((size, size), backend=be).compute(t2, **kw)
        out(f"{pname:<8} cold {cold.iterations:4d} it {cold.timings.total_ms:8.1f} ms | "
            f"warm {warm.iterations:4d} it {warm.timings.total_ms:8.1f} ms  "
            f"({warm.stopped_by}/{cold.stopped_by})")


def _budget(be, problems, size, out):
    # The interactive mode: as many iterations as fit a time budget. What the stop rule promises (stop
    # before an iteration that would end past the budget) is tested exactly with a fake clock; how well it
    # works on a real, loaded machine is a measurement, so it is here.
    if "rand50" not in problems:
        return
    out(f"\n## time budget ({be.describe()}): WGS on rand50, iterations=None, budget_ms; "
        "overshoot = total - budget")
    eng = HologramEngine((size, size), backend=be)
    target = problems["rand50"]
    per = eng.compute(target, method="wgs", iterations=5).timings.per_iteration_ms
    for n_it in (3, 6, 12):
        budget_ms = n_it * per
        r = eng.compute(target, method="wgs", iterations=None, budget_ms=budget_ms)
        over = r.timings.total_ms - budget_ms
        out(f"budget {budget_ms:7.1f} ms ({n_it:2d} x {per:.1f} ms/it): {r.iterations:3d} it, "
            f"total {r.timings.total_ms:7.1f} ms, overshoot {over:+6.1f} ms = {over / per:+.2f} it "
            f"({r.stopped_by})")


def _reference(be, engine, results, problems, size, iterations, two_fft, out):
    out(f"\n## plain NumPy loop (np.fft, np.exp(1j*...), complex128) vs holostim ({be.describe()}), "
        f"{iterations} iterations")
    init = np.random.default_rng(1).uniform(0, 2 * np.pi, (size, size))
    for pname, method in (("rand50", "wgs"), ("rand50", "gs")):
        if pname not in problems or (pname, method) not in results:
            continue
        target = problems[pname]
        phase, ms = numpy_reference(target, (size, size), method, iterations, init)
        ref = evaluate(engine.far_field(phase), target)
        per, m = results[(pname, method)]
        out(f"{pname} {method:<4} numpy {ms:8.1f} ms/it (unif {ref.uniformity:.4f}, "
            f"eff {ref.efficiency:.4f}) | holostim {per:6.2f} ms/it (unif {m.uniformity:.4f}, "
            f"eff {m.efficiency:.4f}) | "
            f"speed-up {ms / per:5.1f}x")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables; returns 0."""
    p = argparse.ArgumentParser(prog="holostim bench", description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=1024, help="grid size N (N x N), default 1024")
    p.add_argument("--backend", default="all", help="numpy, cupy, auto or all available (default)")
    p.add_argument("--precision", default=None, help="single, double or both (default both; --quick: single)")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated, from " + ",".join(METHODS))
    p.add_argument("--problems", default="rand50,rand200,grid10,star")
    p.add_argument("--iterations", type=int, default=20, help="iterations for the metrics columns")
    p.add_argument("--curve-iterations", type=int, default=None, help="iterations of the history curves")
    p.add_argument("--repeats", type=int, default=None, help="timing repeats (median)")
    p.add_argument("--quick", action="store_true", help="single precision, fewer repeats, shorter curves")
    p.add_argument("--no-reference", action="store_true", help="skip the slow plain-NumPy loop")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for FFTW (default: all cores)")
    argv = list(argv or [])
    if argv[:1] == ["--"]:  # ``holostim bench -- --quick``: argparse hands the separator through
        argv = argv[1:]
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        p.error(f"unknown method(s) {', '.join(bad)}; use {', '.join(METHODS)}")
    precisions = ["single"] if args.quick else ["single", "double"]
    if args.precision:
        precisions = ["single", "double"] if args.precision == "both" else [args.precision]
    if args.backend == "all":
        names = ["numpy"] + (["cupy"] if gpu_available() else [])
    else:
        names = [args.backend]
    repeats = args.repeats or (2 if args.quick else 5)
    curve = args.curve_iterations or (40 if args.quick else 100)
    size = args.size
    all_problems = make_problems(size)
    wanted = [s.strip() for s in args.problems.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in all_problems]
    if unknown:
        p.error(f"unknown problem(s) {', '.join(unknown)}; use {', '.join(all_problems)}")
    problems = {k: all_problems[k] for k in wanted}
    out = print
    out(f"holostim engine benchmark: {size}x{size}, methods {', '.join(methods)}, "
        f"{args.iterations} iterations")
    for name in names:
        for prec in precisions:
            be = get_backend(name, prec)
            if args.threads and not be.is_gpu:
                be = Backend(be.name, prec, threads=args.threads)
            engine, results, two_fft = _run_backend(be, size, problems, methods, args.iterations, curve,
                                                    repeats, out)
            if prec == precisions[0]:
                if "star" in problems:
                    _raar_curves(engine, problems["star"], size, curve, out)
                _warm_vs_cold(be, problems, size, out)
                _budget(be, problems, size, out)
                if not args.no_reference and not be.is_gpu:
                    _reference(be, engine, results, problems, size, args.iterations, two_fft, out)
    return 0
