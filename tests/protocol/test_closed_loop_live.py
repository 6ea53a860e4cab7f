"""Live closed-loop actions: ``stimulate_active`` lights the cells active in the frame that fired it.

The rig is the closed-loop test's (the shipped simulation at 128², the responding network without
spontaneous spikes, camera at 100 fps): cells A and B are made to spike at the same moment, C and D stay
quiet; the rule on A computes, at that moment, the mask of the targets whose ROIs are above threshold.
"""

from __future__ import annotations

import pytest
from test_closed_loop import cells_in_field, rig, start  # noqa: F401

from holostim.eventlog import read
from holostim.protocol import ProtocolFileError, parse_protocol
from holostim.protocol.closed_loop.run import ClosedLoopRun
from holostim.protocol.model import ProtocolConfig
from holostim.session import Session, Target


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def four_cells(s: Session) -> list[Target]:
    """ROIs 1..4 on four cells in the field; A (ROI 1) and B (ROI 2) will spike together."""
    cells = cells_in_field(s)[:4]
    assert len(cells) == 4, "the test rig needs four cells the SLM can reach"
    pos = s.camera.neuron_positions
    s.cells = cells
    s.cell_a = cells[0]
    return [Target(float(pos[i, 0]), float(pos[i, 1]), 1.0, 0, k + 1) for k, i in enumerate(cells)]


def live_protocol(**do) -> ProtocolConfig:
    # The largest deadlines a protocol may give: a loaded machine must not turn the live mask away.
    action = {"stimulate_active": {"above": 0.05, "max_cells": 10}, "duration_ms": 10, "budget_ms": 10_000,
              "drop_after_ms": 10_000, **do}
    return ProtocolConfig.model_validate({
        "version": 1, "name": "live", "patterns": {"unused": {"ids": [1]}},  # a protocol names one pattern
        "closed_loop": {"duration_ms": 120_000, "rois": {"ids": [1, 2, 3, 4]}, "readout": {"init_frames": 5},
                        "rules": [{"name": "light_the_active", "when": {"roi": 1, "dff_above": 0.1},
                                   "do": action, "refractory_ms": 300}]}})


def test_stimulate_active_lights_exactly_the_active_cells_and_logs_the_live_compute(rig):  # noqa: F811
    with Session.open(rig) as s:
        s.targets = four_cells(s)
        run = ClosedLoopRun(s, live_protocol())
        run.prepare()
        assert run.prepared == {}  # nothing precomputed: the mask depends on the moment
        net = s.camera.network
        a, b, c, d = s.cells
        state = {}

        def on_sample(sample):
            if "t0" not in state:
                state["t0"] = sample.t
                net.inject(sample.t + 0.3, a)
                net.inject(sample.t + 0.3, b)

        run.add_listener("sample", on_sample)
        start(s, run, [], until_actions=1)
        assert run.run() == ("completed", "")
        spikes = list(net.spikes)
        log_path = s.log.path
    (act,) = [x for x in run.actions if x.outcome != "busy"]
    assert act.outcome == "shown", act.reason
    assert sorted(act.targets) == [1, 2]  # A and B were above threshold in the frame that fired, C, D not
    records = read(log_path).records
    (rec,) = [r for r in records if r["type"] == "closed_loop_action"]
    assert rec["targets"] == act.targets and rec["pattern"] is None
    assert rec["compute_ms"] > 0 and rec["budget_ms"] == 10_000
    # late says whether the logged readiness missed the budget (no bound on how long it took here)
    assert rec["late"] is (rec["ready_after_decision_ms"] > rec["budget_ms"])
    assert rec["t_decision"] < rec["t_computed"] < rec["t_request"] < rec["t_swapped"] < rec["t_gate_open"]
    # the frame the gate opened for is the live mask of A's and B's targets, and nothing else lit
    opened = [r for r in records if r["type"] == "gate" and r["action"] == "open"]
    assert len(opened) == 1 and opened[0]["closed_loop"] == "light_the_active"
    sha = opened[0]["frame_sha256"]
    shown = [r for r in records if r["type"] == "pattern" and r.get("frame_hash") == sha]
    assert shown and sorted(t["id"] for t in shown[-1]["targets"]) == [1, 2] and shown[-1]["compute_ms"] > 0
    assert not [sp for sp in spikes if sp.neuron in (c, d)]  # the quiet cells were never lit


def test_a_live_mask_past_its_drop_limit_is_logged_late_and_not_shown(rig):  # noqa: F811
    with Session.open(rig) as s:
        s.targets = four_cells(s)
        # a deadline no compute can meet: 0.001 ms to compute, dropped after 0.002 ms
        run = ClosedLoopRun(s, live_protocol(budget_ms=0.001, drop_after_ms=0.002))
        run.prepare()
        start(s, run, [0.3], until_actions=1)
        run.run()
        log_path = s.log.path
    (act,) = [x for x in run.actions if x.outcome != "busy"]
    assert act.outcome == "late" and act.late is True and "not shown" in act.reason
    records = read(log_path).records
    (rec,) = [r for r in records if r["type"] == "closed_loop_action"]
    assert rec["outcome"] == "late" and rec["compute_ms"] > 0 and rec["t_gate_open"] is None
    assert not [r for r in records if r["type"] == "gate" and r["action"] == "open"]


GOOD = """\
version: 1
name: live
patterns:
  unused: {ids: [1]}
closed_loop:
  duration_ms: 5000
  rules:
    - name: r
      when: {roi: 1, dff_above: 0.2}
      do: {stimulate_active: {above: 0.2, max_cells: 10}, duration_ms: 10, budget_ms: 8}
"""


def test_a_live_action_reads_from_a_file():
    do = parse_protocol(GOOD).closed_loop.rules[0].do
    assert do.stimulate_active.max_cells == 10 and do.budget_ms == 8 and do.drop_after == 16


@pytest.mark.parametrize(("old", "new", "where"), [
    ("max_cells: 10}", "max_cell: 10}",
     "p.yaml:10: closed_loop.rules.0.do.stimulate_active.max_cell: unknown key"),
    (", budget_ms: 8}", "}", "p.yaml:10: closed_loop.rules.0.do: stimulate_active needs budget_ms"),
    ("budget_ms: 8}", "budget_ms: 8, drop_after_ms: 4}", "drop_after_ms = 4 is before budget_ms = 8"),
    ("duration_ms: 10,", "duration_ms: 10, show: unused,",
     "an action does one thing: show and stimulate_active"),
])
def test_a_bad_live_action_is_one_line_at_its_key(old, new, where):
    with pytest.raises(ProtocolFileError) as info:
        parse_protocol(GOOD.replace(old, new), file="p.yaml")
    assert len(str(info.value).splitlines()) == 1
    assert where in str(info.value), str(info.value)


def test_budget_ms_on_a_precomputed_pattern_is_refused():
    text = GOOD.replace("stimulate_active: {above: 0.2, max_cells: 10}", "show: unused")
    with pytest.raises(ProtocolFileError, match="budget_ms is for a mask computed live"):
        parse_protocol(text, file="p.yaml")


def test_the_shipped_closed_loop_example_reads():
    from pathlib import Path

    from holostim.protocol import load_protocol

    p = load_protocol(Path(__file__).resolve().parents[2] / "config" / "protocol-closed-loop.yaml")
    rules = p.closed_loop.rules
    assert [r.do.show for r in rules] == ["second", None]
    assert rules[1].do.stimulate_active.above == 0.15 and rules[1].do.drop_after == 40
