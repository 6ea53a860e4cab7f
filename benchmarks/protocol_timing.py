"""Protocol timing: how close to its planned onset each step's pattern swaps, and when the gate opens.

Usage::

    python benchmarks/protocol_timing.py [--steps 100] [--sizes 512 1024] [--duration-ms 50]

For each SLM size, the simulated rig of ``config/simulation.yaml`` (simulated SLM, camera and DAQ,
calibrated automatically in a temporary folder) runs a timer-driven protocol of ``--steps`` steps over
ten 5-cell ensembles, every mask prepared before the first step. From the run's own step records it
prints, in ms:

* ``swap - onset``: planned onset → the SLM swap of the step's frame (the cost of one step: show through
  the gate — hash check, upload, log record made durable — plus the timer's wake-up lateness);
* ``gate - swap``: the swap → the gate opening (the settle wait, ``slm.settle_taus`` × τ, plus the
  permit check and the gate record made durable); ``gate - settled`` is the part after the settle wait;
* ``close - end``: the step's planned end → the gate closing (the timer's wake-up lateness; negative
  would be early);
* how many steps swapped within one frame period (1/refresh) of their onset.

p50 / p99 / max over the steps, and the preparation time (compute + judge every pattern). The simulated
SLM swaps at once (no vertical blank); on a real panel add up to one refresh period to ``swap - onset``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from holostim.backend import gpu_available  # noqa: E402
from holostim.protocol.model import ProtocolConfig  # noqa: E402
from holostim.protocol.runner import ProtocolRun  # noqa: E402
from holostim.session import Session, Target  # noqa: E402


def session_file(folder: Path, n: int) -> Path:
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [n, n]
    data["simulation"]["shape"] = [n, n]
    data["calibration"]["file"] = str(folder / "calibration.yaml")
    data["log"]["directory"] = str(folder / "logs")
    if not data.get("daq"):
        data["daq"] = {"backend": "simulated"}
    path = folder / "session.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def ensembles(session: Session, groups: int = 10, per_group: int = 5) -> list[Target]:
    """``groups`` ensembles of ``per_group`` real simulated neurons that the session accepts.

    Each ensemble's cells are distinct; ensembles may share cells (the simulated field holds ~35
    stimulable neurons), as ``config/ensembles-targets.csv`` does.
    """
    ok = [(float(x), float(y)) for x, y in session.camera.neuron_positions
          if session.check_target(float(x), float(y)) is None]
    if len(ok) < per_group:
        raise SystemExit(f"only {len(ok)} stimulable neurons in the simulated field, need {per_group}")
    rng = np.random.default_rng(1)
    out = []
    for g in range(groups):
        for j in rng.choice(len(ok), per_group, replace=False):
            out.append(Target(ok[j][0], ok[j][1], 1.0, g + 1, len(out) + 1))
    return out


def protocol(steps: int, duration_ms: float, groups: int) -> ProtocolConfig:
    reps = max(1, steps // groups)
    return ProtocolConfig.model_validate({
        "version": 1, "name": "timing",
        "patterns": {f"ens{g}": {"group": g} for g in range(1, groups + 1)},
        "schedule": {"steps": [{"pattern": f"ens{g}", "duration_ms": duration_ms}
                               for g in range(1, groups + 1)],
                     "repetitions": reps, "order": "random", "seed": 7, "trigger": "timer"},
    })


def stats(values: list[float]) -> str:
    a = np.asarray([v for v in values if v is not None], dtype=float)
    if a.size == 0:
        return f"{'-':>8} {'-':>8} {'-':>8}"
    return f"{np.percentile(a, 50):8.2f} {np.percentile(a, 99):8.2f} {a.max():8.2f}"


def bench(n: int, steps: int, duration_ms: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Session.open(session_file(folder, n)) as s:
            s.targets = ensembles(s)
            run = ProtocolRun(s, protocol(steps, duration_ms, 10))
            t0 = time.perf_counter()
            run.prepare()
            prep_s = time.perf_counter() - t0
            outcome, reason = run.run()
            if outcome != "completed":
                raise SystemExit(f"{n}²: the run was {outcome}: {reason}")
            settle_s = s.laser_gate.settle_s()
            period_ms = 1e3 / float(s.slm.refresh_hz)
            times = run.times
        swap = [1e3 * (t.t_swapped - t.t_onset) for t in times if t.t_swapped is not None]
        gate = [1e3 * (t.t_gate_open - t.t_swapped) for t in times if t.t_gate_open is not None]
        after = [g - 1e3 * settle_s for g in gate]
        late = [1e3 * (t.t_gate_close - t.t_onset - t.step.duration_ms / 1e3) for t in times
                if t.t_gate_close is not None]
        on_time = sum(1 for v in swap if v <= period_ms)
        print(f"{n}x{n:<6} {'swap - onset':<16} {stats(swap)}   "
              f"{on_time}/{len(times)} within {period_ms:.1f} ms")
        print(f"{'':<11} {'gate - swap':<16} {stats(gate)}   settle {1e3 * settle_s:.1f} ms")
        print(f"{'':<11} {'gate - settled':<16} {stats(after)}   gate opened {len(gate)}/{len(times)}")
        print(f"{'':<11} {'close - end':<16} {stats(late)}   closed after the step's end: "
              f"{sum(1 for v in late if v > 0)}/{len(late)}")
        print(f"{'':<11} {'prepare':<16} {1e3 * prep_s:8.0f} ms for {len(run.prepared)} patterns")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--duration-ms", type=float, default=50.0)
    args = ap.parse_args()
    os.environ.setdefault("HOLOSTIM_THREADS", "1")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"GPU: {'yes' if gpu_available() else 'no'}; {args.steps} steps of {args.duration_ms:g} ms, "
          "timer trigger, simulated SLM + DAQ")
    print(f"{'SLM':<11} {'ms':<16} {'p50':>8} {'p99':>8} {'max':>8}")
    for n in args.sizes:
        bench(n, args.steps, args.duration_ms)


if __name__ == "__main__":
    main()
