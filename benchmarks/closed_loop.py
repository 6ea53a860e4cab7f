"""Closed-loop latency in simulation: from a spike in cell A to the light on cell B, stage by stage.

Usage::

    python benchmarks/closed_loop.py [--quick] [--sizes 512 1024] [--events 30] [--fps 100] [--json FILE]
                                     [--live [--budget-ms 8]] [--no-scheduled]

For each SLM size, the simulated rig of ``config/simulation.yaml`` (camera 512², calibrated in a
temporary folder) runs the responding network with no spontaneous spikes; cell A is made to spike every
400 ms (``Network.inject``), and a ``closed_loop`` rule "when ROI A's ΔF/F crosses 0.1, show the
pattern on B for 10 ms" answers. Per event, from the simulation's ground truth and the run's own
``closed_loop_action`` records, in ms:

* ``spike → frame``: A's spike → the first camera frame after it (the frame period's phase);
* ``frame → crossing``: that frame → the frame whose ΔF/F crossed (the indicator's rise: GCaMP6f needs
  ~15 ms to reach a third of its 45 ms peak; physics, not the system);
* ``crossing → decision``: the crossing frame's stamp → the rule's decision (readout of the frame + the
  rules, on the worker thread);
* ``decision → swap``: show_prepared through the gate (hash check, record made durable, upload, swap);
* ``swap → gate open``: the settle wait (``settle_taus`` × τ) and the gate record;
* ``gate open → B spike``: the opsin (energy to threshold plus its 3 ms latency);
* ``spike A → B spike``: the whole loop;

p50 / p99 / max, with the frames read out and dropped. ``--quick``: 8 events. The machine's load is
printed: the lead reruns on a quiet machine.

``--live`` adds, per SLM size, the live action: ``stimulate_active`` with ``--budget-ms`` (default 8), on
10 ROIs of which A and four others spike together; its stages from the ``closed_loop_action`` records:
``decision → mask ready`` (the live compute: engine with its budget, frame, gate's judgement),
``mask ready → swap``, ``swap → gate open``, ``frame → gate open``, how many masks were late and the
engine's iterations within the budget (``--drop-after-ms``, default 1000, keeps late masks shown so they
are measured). And the
rig's duty-cycle ledger: what one judgement costs at the gate with N intervals in the window.
"""

from __future__ import annotations

import argparse
import json
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

from holostim.protocol.closed_loop.run import ClosedLoopRun  # noqa: E402
from holostim.protocol.model import ProtocolConfig  # noqa: E402
from holostim.session import Session, Target  # noqa: E402

STAGES = ["spike → frame", "frame → crossing", "crossing → decision", "decision → swap",
          "swap → gate open", "gate open → B spike", "spike A → B spike"]
LIVE_STAGES = ["crossing → decision", "decision → mask ready", "mask ready → swap", "swap → gate open",
               "frame → gate open"]


def session_file(folder: Path, n: int, fps: float) -> Path:
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [n, n]
    data["simulation"].update(shape=[512, 512], activity_model="network", spontaneous_hz=0.0, n_neurons=20)
    data["camera"]["fps"] = fps
    data["calibration"]["file"] = str(folder / "calibration.yaml")
    data["log"]["directory"] = str(folder / "logs")
    path = folder / "session.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def pick_cells(s: Session) -> tuple[int, int]:
    pos = s.camera.neuron_positions
    slm = s.calibration.camera_to_slm(pos)
    n = s.slm.shape[1]
    ok = np.all((slm > 0.1 * n) & (slm < 0.9 * n), axis=1) & (np.hypot(*(slm - n // 2).T) > 0.12 * n)
    a, b = [int(i) for i in np.nonzero(ok)[0][:2]]
    return a, b


def one_size(n: int, events: int, fps: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = session_file(Path(tmp), n, fps)
        with Session.open(path) as s:
            a, b = pick_cells(s)
            pos = s.camera.neuron_positions
            s.targets = [Target(float(pos[i, 0]), float(pos[i, 1]), 1.0, 0, k + 1)
                         for k, i in enumerate((a, b))]
            proto = ProtocolConfig.model_validate({
                "version": 1, "name": "bench", "patterns": {"b": {"ids": [2]}},
                "closed_loop": {"duration_ms": 400.0 * events + 600, "rois": {"ids": [1, 2]},
                                "readout": {"init_frames": 5},
                                "rules": [{"name": "a_drives_b", "when": {"roi": 1, "dff_above": 0.1},
                                           "do": {"show": "b", "duration_ms": 10}, "refractory_ms": 300,
                                           "max_rate_hz": 5}]}})
            run = ClosedLoopRun(s, proto)
            run.prepare()
            frames: list[float] = []
            net = s.camera.network

            def on_sample(sample, _first=[None]):  # noqa: B006 - the first frame's time, once
                frames.append(sample.t)
                if _first[0] is None:
                    _first[0] = sample.t
                    for k in range(events):
                        net.inject(sample.t + 0.3 + 0.4 * k, a)

            run.add_listener("sample", on_sample)
            outcome = run.run()
            spikes = list(net.spikes)
    t_a = sorted(sp.t for sp in spikes if sp.neuron == a)
    t_b = sorted(sp.t for sp in spikes if sp.neuron == b and sp.cause == "opsin")
    frames_arr = np.array(frames)
    rows = {k: [] for k in STAGES}
    for act in run.actions:
        if act.outcome != "shown":
            continue
        d = act.decision
        prior = [t for t in t_a if t < d.t_frame]
        after_open = [t for t in t_b if act.t_gate_open <= t <= act.t_gate_close + 0.01]
        if not prior or not after_open:
            continue
        ts = prior[-1]
        first = frames_arr[frames_arr > ts]
        stamps = [ts, float(first[0]), d.t_frame, act.t_decision, act.t_swapped, act.t_gate_open,
                  after_open[0]]
        for k in range(6):
            rows[STAGES[k]].append(1e3 * (stamps[k + 1] - stamps[k]))
        rows[STAGES[6]].append(1e3 * (after_open[0] - ts))
    return {"slm": n, "events": events, "outcome": list(outcome), "answered": len(rows[STAGES[0]]),
            "frames": run.worker.frames, "dropped": run.worker.dropped,
            "stages_ms": {k: {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99)),
                              "max": float(np.max(v))} if v else None for k, v in rows.items()}}


def live_size(n: int, events: int, fps: float, budget_ms: float, drop_after_ms: float) -> dict:
    """The live action's stages (ms) on 10 ROIs, five of them (A first) spiking together each event."""
    with tempfile.TemporaryDirectory() as tmp:
        path = session_file(Path(tmp), n, fps)
        with Session.open(path) as s:
            pos = s.camera.neuron_positions
            slm = s.calibration.camera_to_slm(pos)
            ok = np.all((slm > 0.1 * n) & (slm < 0.9 * n), axis=1) & (np.hypot(*(slm - n // 2).T) > 0.12 * n)
            cells = [int(i) for i in np.nonzero(ok)[0][:10]]
            s.targets = [Target(float(pos[i, 0]), float(pos[i, 1]), 1.0, 0, k + 1)
                         for k, i in enumerate(cells)]
            ids = list(range(1, len(cells) + 1))
            proto = ProtocolConfig.model_validate({
                "version": 1, "name": "bench_live", "patterns": {"a": {"ids": [1]}},
                "closed_loop": {"duration_ms": 400.0 * events + 600, "rois": {"ids": ids},
                                "readout": {"init_frames": 5},
                                "rules": [{"name": "live", "when": {"roi": 1, "dff_above": 0.1},
                                           "do": {"stimulate_active": {"above": 0.05, "max_cells": 10},
                                                  "duration_ms": 10, "budget_ms": budget_ms,
                                                  "drop_after_ms": max(drop_after_ms, budget_ms)},
                                           "refractory_ms": 300, "max_rate_hz": 5}]}})
            run = ClosedLoopRun(s, proto)
            run.prepare()
            net = s.camera.network

            def on_sample(sample, _first=[None]):  # noqa: B006 - the first frame's time, once
                if _first[0] is None:
                    _first[0] = sample.t
                    for k in range(events):
                        for c in cells[:5]:
                            net.inject(sample.t + 0.3 + 0.4 * k, c)

            run.add_listener("sample", on_sample)
            outcome = run.run()
    rows: dict[str, list[float]] = {k: [] for k in LIVE_STAGES}
    late = cells_lit = 0
    iterations: list[int] = []
    for act in run.actions:
        if act.targets is None or act.t_computed is None:
            continue
        late += bool(act.late)
        iterations.append(int(act.iterations or 0))
        if act.outcome != "shown":
            continue
        cells_lit += len(act.targets)
        d = act.decision
        for k, (b, a) in zip(LIVE_STAGES, ((act.t_decision, d.t_frame), (act.t_computed, act.t_decision),
                                           (act.t_swapped, act.t_computed), (act.t_gate_open, act.t_swapped),
                                           (act.t_gate_open, d.t_frame)), strict=True):
            rows[k].append(1e3 * (b - a))
    shown = len(rows[LIVE_STAGES[0]])
    return {"slm": n, "events": events, "outcome": list(outcome), "shown": shown, "late": late,
            "budget_ms": budget_ms, "mean_cells": cells_lit / shown if shown else None,
            "iterations_p50": float(np.median(iterations)) if iterations else None,
            "stages_ms": {k: {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99)),
                              "max": float(np.max(v))} if v else None for k, v in rows.items()}}


def duty_ledger_cost(n_intervals: int, reps: int = 2000) -> dict:
    """Microseconds of one ``DutyCycleLimit.refusal`` with ``n_intervals`` pulses in the window."""
    from holostim.safety import DutyCycleLimit

    duty = DutyCycleLimit(0.5, 1.0)
    for k in range(n_intervals):
        t = k * 0.9 / n_intervals
        duty.opened(t)
        duty.closed(t + 0.1 / n_intervals)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        duty.refusal(0.95, 0.01)
        times.append(1e6 * (time.perf_counter() - t0))
    return {"intervals": n_intervals, "p50_us": float(np.percentile(times, 50)),
            "p99_us": float(np.percentile(times, 99))}


def print_table(stages: dict) -> None:
    print(f"  {'stage':<22}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for k, v in stages.items():
        if v is None:
            print(f"  {k:<22}{'-':>9}")
        else:
            print(f"  {k:<22}{v['p50']:9.2f}{v['p99']:9.2f}{v['max']:9.2f}")


def readout_cost(n_rois: int, shape=(512, 512), frames: int = 200) -> dict:
    """Milliseconds per frame of the readout alone (ROI means, rings, ΔF/F) on a noisy 512² frame."""
    from holostim.protocol.closed_loop.readout import DffReadout, RoiSet

    rng = np.random.default_rng(0)
    centres = rng.uniform(20, shape[0] - 20, (n_rois, 2))
    rois = RoiSet.discs(centres, 6.0, shape, list(range(1, n_rois + 1)))
    readout = DffReadout(rois)
    img = rng.poisson(200, shape).astype(np.uint16)
    times = []
    for k in range(frames):
        t0 = time.perf_counter()
        readout.process(img, 0.01 * k, k + 1)
        times.append(1e3 * (time.perf_counter() - t0))
    return {"rois": n_rois, "p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 events per size")
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--events", type=int, default=30)
    ap.add_argument("--fps", type=float, default=100.0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--live", action="store_true", help="also the live action (stimulate_active)")
    ap.add_argument("--budget-ms", type=float, default=8.0, help="the live action's budget_ms")
    ap.add_argument("--drop-after-ms", type=float, default=1000.0,
                    help="the live action's drop_after_ms (large: late masks are shown, and measured)")
    ap.add_argument("--no-scheduled", action="store_true", help="skip the prepared-pattern loop")
    args = ap.parse_args()
    os.environ.setdefault("HOLOSTIM_FFTW_EFFORT", "FFTW_ESTIMATE")
    events = 8 if args.quick else args.events
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    cpu = platform.processor() or platform.machine()
    print(f"closed loop, simulated rig, camera 512² at {args.fps:g} fps; {cpu}, {os.cpu_count()} CPUs, "
          f"load {' '.join(load)}")
    costs = [readout_cost(k) for k in (2, 50, 500)]
    print("\nreadout of one 512² frame (worker thread):")
    for c in costs:
        print(f"  {c['rois']:>4} ROIs: p50 {c['p50']:.2f} ms, p99 {c['p99']:.2f} ms")
    duty = [duty_ledger_cost(k) for k in (1, 10, 100)]
    print("\nthe rig's duty-cycle judgement at the gate (DutyCycleLimit.refusal):")
    for c in duty:
        print(f"  {c['intervals']:>4} pulses in the window: p50 {c['p50_us']:.1f} µs, "
              f"p99 {c['p99_us']:.1f} µs")
    results = []
    for n in ([] if args.no_scheduled else args.sizes):
        t0 = time.perf_counter()
        r = one_size(n, events, args.fps)
        r["wall_s"] = round(time.perf_counter() - t0, 1)
        results.append(r)
        print(f"\nSLM {n}²: {r['answered']}/{events} events answered, {r['frames']} frames read out, "
              f"{r['dropped']} dropped ({r['wall_s']} s); run {' '.join(r['outcome'])}")
        print_table(r["stages_ms"])
    live = []
    for n in (args.sizes if args.live else []):
        t0 = time.perf_counter()
        r = live_size(n, events, args.fps, args.budget_ms, args.drop_after_ms)
        r["wall_s"] = round(time.perf_counter() - t0, 1)
        live.append(r)
        cells = "-" if r["mean_cells"] is None else f"{r['mean_cells']:.1f}"
        its = "-" if r["iterations_p50"] is None else f"{r['iterations_p50']:g}"
        print(f"\nSLM {n}², live stimulate_active (budget_ms {r['budget_ms']:g}): {r['shown']}/{events} "
              f"shown, {r['late']} late, {cells} cells per mask, median {its} iterations ({r['wall_s']} s); "
              f"run {' '.join(r['outcome'])}")
        print_table(r["stages_ms"])
    load_end = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    print(f"\nload at the end: {' '.join(load_end)}")
    if args.json is not None:
        out = {"load": [load, load_end], "readout_ms": costs, "duty_us": duty, "results": results,
               "live": live}
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
