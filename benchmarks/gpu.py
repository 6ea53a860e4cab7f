"""GPU checklist (issue 20): the gpu tests, engine timings, click->mask through the Session, phase->gray.

One script does the whole checklist of GPU.md and writes one JSON file, so the few minutes on a GPU
machine go to measuring. It runs the same code path on the CPU (``--backend numpy``), which is how it is
tested here::

    python benchmarks/gpu.py --check --json $OUT/gpu.json          # on the GPU machine: everything
    python benchmarks/gpu.py --backend numpy --sizes 256 512 --quick # on a CPU, end to end

What is measured, for each size (default 512 1024 2048), precision (single, double) and method (gs, wgs,
raar), ``--iterations`` (default 25) iterations on ``--spots`` random spots, fixed count (no tolerance):

* ``iter_ms``: ms per iteration as the engine's loop timer measures it (CUDA events on CuPy: device time;
  the clock on the CPU);
* ``call_ms``: wall clock of the whole ``compute`` call: upload of the target, the loop, the phase read-out
  and its download, the final metrics;
* ``graph_call_ms`` (CuPy only, unless ``--no-graph``): the same with ``cuda_graph=True`` (the loop as one
  graph launch), and ``graph_iter_ms``;
* ``click_ms`` (single precision): ``Session.apply`` with the simulated SLM and camera, no Qt: targets ->
  engine -> safety gate -> phase->gray -> SLM -> event log, wall clock; with ``compute_ms`` the engine's part;
* ``gray_ms``: the SLM's phase->gray of one frame (on CuPy from a device phase: the CUDA kernel).

Best (minimum) and median of ``--repeats`` runs after one warm-up. ``--check`` first runs
``pytest -m gpu`` on the engine/backend/SLM tests and records the outcome in the JSON; any part that
raises is recorded there too and the rest still runs. ``/proc/loadavg`` is recorded with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# the tests with gpu marks (and their neighbours); tests/gui is left out: the GPU machine has no Qt
GPU_TESTS = ["tests/holography", "tests/backend", "tests/hardware/test_slm.py",
             "tests/optics/test_array_api.py"]


def _loadavg() -> str | None:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return None


def _stats(values: list[float]) -> dict:
    return {"best": min(values), "median": statistics.median(values), "n": len(values)}


def run_checks(paths: list[str], timeout_s: float, log: Path | None = None,
               junit: Path | None = None) -> dict:
    """``pytest -m gpu`` on ``paths``: return code, counts and the last lines of its output.

    ``log`` gets the whole (verbose) output, ``junit`` a JUnit XML report, when given.
    """
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-v" if log else "-q", "-p", "no:cacheprovider",
           "-rfEs", *([f"--junitxml={junit}"] if junit else []), *paths]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        out, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out, rc = f"{exc.stdout or ''}{exc.stderr or ''}\npytest timed out after {timeout_s} s", -1
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(out)
    found = re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", out)
    counts = {k: int(n) for n, k in found}
    return {"command": " ".join(cmd), "returncode": rc, "counts": counts,
            "seconds": round(time.perf_counter() - t0, 1), "tail": out[-4000:]}


def _spots(size: int, count: int, seed: int = 0):
    from holostim.holography import SpotTarget

    rng = np.random.default_rng(seed)
    c, half = size // 2, size // 4
    xy = set()
    while len(xy) < count:
        x, y = (int(v) for v in rng.integers(c - half, c + half, 2))
        if np.hypot(x - c, y - c) > 8:
            xy.add((x, y))
    return SpotTarget.from_pixels(np.array(sorted(xy)), shape=(size, size))


def bench_engine(backend: str, size: int, precision: str, methods: list[str], args) -> list[dict]:
    """Per method: iter_ms and call_ms (and the CUDA-graph versions on CuPy)."""
    from holostim.holography import HologramEngine

    target = _spots(size, args.spots)
    engines = {"plain": HologramEngine((size, size), backend=backend, precision=precision)}
    if engines["plain"].backend.is_gpu and not args.no_graph:
        engines["graph"] = HologramEngine((size, size), backend=backend, precision=precision, cuda_graph=True)
    rows = []
    for method in methods:
        row = {"size": size, "precision": precision, "method": method, "iterations": args.iterations,
               "spots": args.spots, "device": engines["plain"].backend.describe()}
        for kind, eng in engines.items():
            iter_ms, call_ms = [], []
            for rep in range(args.repeats + 1):  # the first is the warm-up (and the graph's capture)
                t0 = time.perf_counter()
                res = eng.compute(target, method=method, iterations=args.iterations)
                wall = (time.perf_counter() - t0) * 1e3
                if rep:
                    iter_ms.append(res.timings.per_iteration_ms)
                    call_ms.append(wall)
            prefix = "" if kind == "plain" else "graph_"
            row[prefix + "iter_ms"], row[prefix + "call_ms"] = _stats(iter_ms), _stats(call_ms)
            row[prefix + "efficiency"] = res.metrics.efficiency
            row[prefix + "uniformity"] = res.metrics.uniformity
            if kind == "graph":
                row["graph_replays"] = eng._graph.replays if eng._graph is not None else 0
        rows.append(row)
    return rows


def _session_config(backend: str, size: int, iterations: int, tmp: Path):
    import yaml

    from holostim.config import load_config, parse_config

    d = load_config(ROOT / "config" / "simulation.yaml").to_dict()
    d["slm"]["shape"] = [size, size]
    d["engine"].update(backend=backend, precision="single", method="wgs", iterations=iterations,
                       tolerance=None, budget_ms=None, warm_start=False)
    d["camera"]["fps"] = 5  # the simulated camera shares the CPU with the loop measured
    d["log"]["directory"] = str(tmp / "logs")
    d["calibration"]["file"] = str(tmp / f"calibration-{size}.yaml")
    d["targets"] = []
    return parse_config(yaml.safe_dump(d), file="<benchmarks/gpu.py>", base_dir=tmp)


def bench_session(backend: str, size: int, args, tmp: Path) -> dict:
    """click->mask through Session.apply (simulated devices, no Qt), and the SLM's phase->gray."""
    from holostim.session import Session, Target

    session = Session.open(_session_config(backend, size, args.iterations, tmp))
    try:
        neurons = np.asarray(session.camera.neuron_positions, dtype=float)
        ok = [xy for xy in neurons if session.check_target(float(xy[0]), float(xy[1])) is None]
        count = min(args.session_spots, len(ok))
        click_ms, compute_ms = [], []
        for rep in range(args.repeats + 1):
            pick = [ok[(rep + j) % len(ok)] for j in range(count)]  # a new set each time (no coalescing)
            targets = [Target(float(x), float(y)) for x, y in pick]
            t0 = time.perf_counter()
            res = session.apply(targets)
            if rep:
                click_ms.append((time.perf_counter() - t0) * 1e3)
                compute_ms.append(res.compute_ms)
        row = {"size": size, "precision": "single", "method": "wgs", "iterations": args.iterations,
               "spots": count, "device": session.engine.backend.describe(),
               "click_ms": _stats(click_ms), "compute_ms": _stats(compute_ms)}
        row["gray_ms"] = _bench_gray(session, size)
        return row
    finally:
        session.close()


def _bench_gray(session, size: int) -> dict:
    slm, xp = session.slm, session.engine.backend.xp
    phase = xp.asarray(np.random.default_rng(1).uniform(0, 2 * np.pi, (size, size)), dtype=xp.float32)
    times = []
    for rep in range(6):
        t0 = time.perf_counter()
        frame = slm.phase_to_gray(phase)
        if hasattr(frame, "get"):
            frame.get()  # (the count of bad pixels already waited for the kernel)
        if rep:
            times.append((time.perf_counter() - t0) * 1e3)
    return _stats(times)


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    def cell(row, key):
        v = row.get(key)
        if isinstance(v, dict):
            v = v.get("best")
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    lines = ["  ".join(f"{h:>10}" for _, h in cols)]
    lines += ["  ".join(f"{cell(r, k):>10}" for k, _ in cols) for r in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from holostim.backend import gpu_available

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["numpy", "cupy"], default="cupy" if gpu_available() else "numpy")
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    p.add_argument("--precisions", nargs="+", choices=["single", "double"], default=["single", "double"])
    p.add_argument("--methods", nargs="+", choices=["gs", "wgs", "wgs-kim", "raar"],
                   default=["gs", "wgs", "raar"])
    p.add_argument("--iterations", type=int, default=25)
    p.add_argument("--spots", type=int, default=50)
    p.add_argument("--session-spots", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="2 repeats (a smoke run of every part)")
    p.add_argument("--no-graph", action="store_true", help="skip the cuda_graph=True rows")
    p.add_argument("--no-session", action="store_true", help="skip click->mask and phase->gray")
    p.add_argument("--check", action="store_true", help="run the gpu tests first (pytest -m gpu)")
    p.add_argument("--check-timeout", type=float, default=240.0)
    p.add_argument("--check-log", type=Path, default=None, help="write the gpu tests' verbose output here")
    p.add_argument("--check-junit", type=Path, default=None, help="write their JUnit XML report here")
    p.add_argument("--json", type=Path, default=None,
                   help="where to write the results (default benchmarks/results/gpu-BACKEND-DATE.json)")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 2
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HOLOSTIM_FFTW_EFFORT", "FFTW_MEASURE")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    out = args.json or ROOT / "benchmarks" / "results" / f"gpu-{args.backend}-{stamp}.json"
    doc: dict = {"format": "holostim-gpu-bench", "version": 1, "utc": stamp, "backend": args.backend,
                 "host": platform.node(), "python": platform.python_version(), "numpy": np.__version__,
                 "loadavg_start": _loadavg(), "args": {k: str(v) for k, v in vars(args).items()},
                 "errors": [], "engine": [], "session": []}
    try:
        import cupy

        doc["cupy"] = cupy.__version__
    except Exception:  # not installed here: a CPU run
        doc["cupy"] = None

    def save() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        doc["loadavg_end"] = _loadavg()
        out.write_text(json.dumps(doc, indent=1, default=str) + "\n")

    if args.check:
        doc["check"] = run_checks(GPU_TESTS, args.check_timeout, args.check_log, args.check_junit)
        # on a GPU the gpu tests must really run: all of them skipped means CuPy saw no GPU
        ran = doc["check"]["counts"].get("passed", 0) > 0 or args.backend == "numpy"
        doc["check"]["ok"] = doc["check"]["returncode"] == 0 and ran
        print(f"pytest -m gpu: rc {doc['check']['returncode']}, {doc['check']['counts']}", flush=True)
        save()
    for size in args.sizes:
        for precision in args.precisions:
            try:
                doc["engine"] += bench_engine(args.backend, size, precision, args.methods, args)
            except Exception:
                doc["errors"].append({"part": f"engine {size} {precision}", "error": traceback.format_exc()})
            save()
    if not args.no_session:
        with tempfile.TemporaryDirectory() as td:
            for size in args.sizes:
                try:
                    doc["session"].append(bench_session(args.backend, size, args, Path(td)))
                except Exception:
                    doc["errors"].append({"part": f"session {size}", "error": traceback.format_exc()})
                save()
    print(f"\nengine ({args.backend}; ms, best of {args.repeats}; load {doc['loadavg_start']})")
    print(_table(doc["engine"], [("size", "size"), ("precision", "prec"), ("method", "method"),
                                 ("iter_ms", "iter_ms"), ("call_ms", "call_ms"),
                                 ("graph_iter_ms", "g_iter_ms"), ("graph_call_ms", "g_call_ms"),
                                 ("uniformity", "unif")]))
    if doc["session"]:
        print("\nsession click->mask (Session.apply, simulated devices) and phase->gray (ms, best)")
        print(_table(doc["session"], [("size", "size"), ("spots", "spots"), ("click_ms", "click_ms"),
                                      ("compute_ms", "compute_ms"), ("gray_ms", "gray_ms")]))
    for err in doc["errors"]:
        print(f"\nERROR in {err['part']}:\n{err['error']}", file=sys.stderr)
    save()
    print(f"\nwrote {out}")
    bad_check = args.check and not doc["check"]["ok"]
    return 1 if doc["errors"] or bad_check else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
