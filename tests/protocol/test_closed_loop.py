"""The closed loop on the simulated rig: A fires → the rule lights B through the gate → B fires.

The rig is the shipped simulation shrunk to 128² with the responding network (no spontaneous spikes,
so every spike is one the test caused), camera at 100 fps. Spikes of A are injected into the simulated
network at a known time; everything after that — the frames, the ΔF/F, the rule, the swap, the gate,
B's opsin — is the product code. Assertions are orderings and the log's records, never wall-clock bounds.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_session import write_session

from holostim.eventlog import read
from holostim.protocol.closed_loop.run import ClosedLoopRun
from holostim.protocol.closed_loop.trace_file import read_traces
from holostim.protocol.model import ProtocolConfig
from holostim.session import Session, Target

NETWORK = {"activity_model": "network", "spontaneous_hz": 0.0, "n_neurons": 6}


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    folder = tmp_path_factory.mktemp("closedloop")
    path = write_session(folder, simulation=NETWORK, camera={"fps": 100})
    with Session.open(path) as s:  # calibrates the rig once
        assert s.calibration is not None
    return path


def protocol(rules, duration_ms=120_000, duty=None) -> ProtocolConfig:
    cl = {"duration_ms": duration_ms, "rois": {"ids": [1, 2]}, "readout": {"init_frames": 5},
          "rules": rules}
    if duty is not None:
        cl["duty_cycle"] = duty
    return ProtocolConfig.model_validate({"version": 1, "name": "closed", "patterns": {"b": {"ids": [2]}},
                                          "closed_loop": cl})


A_DRIVES_B = [{"name": "a_drives_b", "when": {"roi": 1, "dff_above": 0.1},
               "do": {"show": "b", "duration_ms": 10}, "refractory_ms": 300, "max_rate_hz": 5}]


def start(s: Session, run: ClosedLoopRun, spikes_at_s: list[float], *, until_actions: int | None = None):
    """Cell A (ROI 1) spikes at these times after the first frame is read out.

    ``until_actions``: the run is finished once that many actions are done (and 0.2 s of frames more),
    so a loaded machine's slow frames cannot end it before the events it is about.
    """
    net = s.camera.network
    state = {"t0": None}

    def on_sample(sample):
        if state["t0"] is None:
            state["t0"] = sample.t
            for dt in spikes_at_s:
                net.inject(sample.t + dt, s.cell_a)

    run.add_listener("sample", on_sample)
    if until_actions is not None:
        def on_action(_action):
            if len(run.actions) >= until_actions:
                state["end"] = True

        def on_late_sample(sample):
            if state.get("end") and state.setdefault("t_end", sample.t + 0.2) <= sample.t:
                run.finish()

        run.add_listener("action", on_action)
        run.add_listener("sample", on_late_sample)


def cells_in_field(s: Session) -> list[int]:
    """Neurons the SLM can reach, away from its edges and the zero order."""
    pos = s.camera.neuron_positions
    slm = s.calibration.camera_to_slm(pos)
    c = s.slm.shape[1] // 2
    ok = np.all((slm > 12) & (slm < s.slm.shape[1] - 12), axis=1) & (np.hypot(*(slm - c).T) > 16)
    return [int(i) for i in np.nonzero(ok)[0]]


def targets_on_cells(s: Session) -> list[Target]:
    """ROI 1 on cell A, ROI 2 on cell B (two cells in the field); A is ``s.cell_a``, B ``s.cell_b``."""
    a, b = cells_in_field(s)[:2]
    pos = s.camera.neuron_positions
    s.cell_a, s.cell_b = a, b
    return [Target(float(pos[i, 0]), float(pos[i, 1]), 1.0, 0, k + 1) for k, i in enumerate((a, b))]


def test_when_a_fires_the_rule_lights_b_and_b_fires_after_a(rig):
    with Session.open(rig) as s:
        s.targets = targets_on_cells(s)
        run = ClosedLoopRun(s, protocol(A_DRIVES_B))
        run.prepare()
        start(s, run, [0.3, 0.9], until_actions=2)
        assert run.run() == ("completed", "")
        spikes = list(s.camera.network.spikes)
        log_path = s.log.path
        ia, ib = s.cell_a, s.cell_b
    a = [sp.t for sp in spikes if sp.neuron == ia]
    b = [sp.t for sp in spikes if sp.neuron == ib]
    assert len(a) == 2 and all(sp.cause in ("injected", "opsin") for sp in spikes)
    assert {sp.neuron for sp in spikes} == {ia, ib}  # nothing else was lit enough to fire
    shown = [x for x in run.actions if x.outcome == "shown"]
    assert len(shown) == 2
    for t_a, act in zip(a, shown, strict=True):
        # causality: A's spike → a frame that shows it → the decision → the swap → the gate → B's spike
        assert t_a < act.decision.t_frame <= act.t_decision <= act.t_request < act.t_swapped < act.t_gate_open
        t_b = [t for t in b if act.t_gate_open <= t <= act.t_gate_close + 0.004]  # latency 3 ms
        assert len(t_b) >= 1, "B did not fire while its pattern was lit"
    assert all(any(x.t_gate_open <= t <= x.t_gate_close + 0.004 for x in shown) for t in b)  # only then
    records = [r for r in read(log_path).records if r["type"] == "closed_loop_action"]
    assert [r["outcome"] for r in records] == ["shown", "shown"]
    assert all(r["gate_after_frame_ms"] > 0 and r["light_ms"] > 0 for r in records)
    end = [r for r in read(log_path).records if r["type"] == "protocol_end"][-1]
    assert end["outcome"] == "completed" and end["frames"] > 5
    traces = read_traces(str(log_path) + ".traces")
    assert traces["roi_ids"] == [1, 2] and len(traces["t"]) == end["frames"]
    assert np.all(np.diff(traces["t"]) > 0)
    peak = traces["dff"][:, 0].max()
    assert peak > 0.15  # A's transient (0.3 ΔF/F per spike at the soma, diluted by the disc's edge)


def test_nothing_is_lit_while_the_gate_is_blocked(rig):
    with Session.open(rig) as s:
        s.targets = targets_on_cells(s)
        run = ClosedLoopRun(s, protocol(A_DRIVES_B))
        run.prepare()
        start(s, run, [0.3], until_actions=1)
        s.laser_gate.block("test: the interlock says no")
        run.run()
        spikes = list(s.camera.network.spikes)
        log_path = s.log.path
        ia = s.cell_a
    assert [sp.neuron for sp in spikes] == [ia]  # A only: B never got light
    assert [x.outcome for x in run.actions] == ["not_opened"]
    gates = [r for r in read(log_path).records if r["type"] == "gate"]
    assert gates and all(r.get("action") == "not_opened" for r in gates)


def test_a_rule_over_the_duty_cycle_limit_is_stopped_and_the_run_goes_on(rig):
    rules = [{"name": "too_long", "when": {"roi": 1, "dff_above": 0.1},
              "do": {"show": "b", "duration_ms": 300}}]
    with Session.open(rig) as s:
        s.targets = targets_on_cells(s)
        duty = {"max_fraction": 0.2, "window_ms": 1000}
        run = ClosedLoopRun(s, protocol(rules, duty=duty))
        run.prepare()
        stopped = []
        run.add_listener("rule", lambda name, why: (stopped.append((name, why)), run.finish()))
        start(s, run, [0.3])
        assert run.run() == ("completed", "")
        log_path = s.log.path
        assert s.daq.events("gate_out") == [] or not any(e.value for e in s.daq.events("gate_out"))
    assert stopped and stopped[0][0] == "too_long" and "duty-cycle" in stopped[0][1]
    recs = [r for r in read(log_path).records if r["type"] == "closed_loop_rule"]
    assert recs and "duty-cycle" in recs[0]["stopped"]
    assert run.actions == []


def test_a_stop_action_ends_the_run(rig):
    rules = [{"name": "halt", "when": {"roi": 1, "dff_above": 0.1}, "do": {"stop": True}}]
    with Session.open(rig) as s:
        s.targets = targets_on_cells(s)
        run = ClosedLoopRun(s, protocol(rules, duration_ms=60_000))
        run.prepare()
        start(s, run, [0.2])
        outcome = run.run()
        path = s.log.path
    assert outcome == ("aborted", "rule 'halt' stopped the run")
    assert [x.outcome for x in run.actions] == ["stop"]
    # it ended on the rule, not at the planned minute: the stop action is logged, then the end
    recs = read(path).records
    (action,) = [r for r in recs if r["type"] == "closed_loop_action"]
    (end,) = [r for r in recs if r["type"] == "protocol_end"]
    assert action["seq"] < end["seq"] and end["outcome"] == "aborted"


def test_run_protocol_runs_a_closed_loop_headless(rig, capsys):
    import yaml

    from holostim.cli import main

    with Session.open(rig) as s:
        cells = targets_on_cells(s)
    data = yaml.safe_load(rig.read_text())
    data["targets"] = [{"x": t.x, "y": t.y, "id": t.id} for t in cells]
    data["simulation"]["spontaneous_hz"] = 0.0
    session = rig.with_name("session-targets.yaml")
    session.write_text(yaml.safe_dump(data, sort_keys=False))
    proto = rig.with_name("loop.yaml")
    proto.write_text(yaml.safe_dump(protocol(A_DRIVES_B, duration_ms=600).to_dict(), sort_keys=False))
    assert main(["run-protocol", str(proto), "--config", str(session)]) == 0
    out = capsys.readouterr()
    assert "closed loop, 1 rules on 2 ROIs" in out.err
    assert "closed loop completed: 0 actions, 0 shown" in out.out and "dropped" in out.out
    logs = sorted((rig.parent / "logs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    end = [r for r in read(logs[-1]).records if r["type"] == "protocol_end"]
    assert end[-1]["outcome"] == "completed" and end[-1]["frames"] > 0
    assert read_traces(str(logs[-1]) + ".traces")["dff"].shape == (end[-1]["frames"], 2)
    proto.write_text(proto.read_text().replace("show: b", "show: c"))
    assert main(["run-protocol", str(proto), "--config", str(session)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "closed_loop.rules.0.do.show: unknown pattern 'c'" in err[0]


def test_a_failing_camera_aborts_the_run_with_the_gate_closed(rig, monkeypatch):
    with Session.open(rig) as s:
        s.targets = targets_on_cells(s)
        run = ClosedLoopRun(s, protocol(A_DRIVES_B))
        run.prepare()
        real, calls = s.camera._grab, []

        def grab():
            calls.append(1)
            if len(calls) > 5:
                raise OSError("the camera's cable came out")
            return real()

        monkeypatch.setattr(s.camera, "_grab", grab)
        outcome = run.run()
        assert not s.laser_gate.is_open
        log_path = s.log.path
    assert outcome[0] == "aborted" and "the readout failed" in outcome[1] and "cable" in outcome[1]
    end = [r for r in read(log_path).records if r["type"] == "protocol_end"][-1]
    assert end["outcome"] == "aborted"
