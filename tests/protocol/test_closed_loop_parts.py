"""The closed loop's parts alone: the file section's errors, ΔF/F, the rules' limits, the trace file."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from holostim.protocol import ProtocolFileError, parse_protocol
from holostim.protocol.closed_loop.readout import DffReadout, RoiSet, TraceSample
from holostim.protocol.closed_loop.rules import DutyCycle, RuleBook
from holostim.protocol.closed_loop.trace_file import TraceWriter, read_traces
from holostim.protocol.closed_loop_model import DutyCycleSpec, RuleSpec

GOOD = textwrap.dedent("""\
    version: 1
    name: loop
    patterns:
      b: {ids: [2]}
    closed_loop:
      duration_ms: 5000
      rois: {ids: [1, 2]}
      rules:
        - name: a_drives_b
          when: {roi: 1, dff_above: 0.2}
          do: {show: b, duration_ms: 10}
""")


def _error(text: str) -> str:
    with pytest.raises(ProtocolFileError) as info:
        parse_protocol(text, file="p.yaml")
    assert len(str(info.value).splitlines()) == 1
    return str(info.value)


def test_a_closed_loop_protocol_reads_with_its_defaults():
    p = parse_protocol(GOOD)
    cl = p.closed_loop
    assert p.schedule is None and p.used_patterns() == ["b"]
    assert cl.duty_cycle.max_fraction == 0.2 and cl.rules[0].refractory_ms == 100.0
    assert cl.readout.baseline_s == 30.0


@pytest.mark.parametrize(("old", "new", "where"), [
    ("do: {show: b, duration_ms: 10}", "do: {show: bb, duration_ms: 10}",
     "p.yaml:11: closed_loop.rules.0.do.show: unknown pattern 'bb'; did you mean 'b'?"),
    ("do: {show: b, duration_ms: 10}", "do: {show: b}",
     "p.yaml:11: closed_loop.rules.0.do: showing 'b' needs"),
    ("when: {roi: 1, dff_above: 0.2}", "when: {roi: 1}", "p.yaml:10: closed_loop.rules.0.when: give one of"),
    ("when: {roi: 1, dff_above: 0.2}", "when: {roi: 7, dff_above: 0.2}",
     "p.yaml:6: closed_loop: rules.0.when.roi: ROI 7 is not among rois.ids"),
    ("duration_ms: 5000", "duration_ms: -1", "p.yaml:6: closed_loop.duration_ms"),
    ("rules:\n", "duty_cycle: {max_fraction: 1.5}\n  rules:\n", "closed_loop.duty_cycle.max_fraction"),
])
def test_a_bad_closed_loop_is_one_line_at_its_key(old, new, where):
    err = _error(GOOD.replace(old, new))
    assert where in err, err


def test_a_schedule_and_a_closed_loop_together_are_refused():
    err = _error(GOOD + "schedule: {steps: [{pattern: b, duration_ms: 10}]}\n")
    assert "either a schedule" in err


def sample(t, dff, ddff=None):
    dff = np.atleast_1d(np.asarray(dff, float))
    return TraceSample(t, 0, dff, dff, np.zeros_like(dff) if ddff is None else np.atleast_1d(ddff))


def rule(**kw):
    base = {"name": "r", "when": {"roi": 1, "dff_above": 0.2}, "do": {"show": "b", "duration_ms": 10}}
    base.update(kw)
    return RuleSpec.model_validate(base)


def test_a_condition_fires_on_the_crossing_and_the_refractory_time_holds():
    book = RuleBook([rule(refractory_ms=100)], [1], DutyCycleSpec())
    fired = []
    for k, v in enumerate([0.0, 0.3, 0.4, 0.1, 0.3, 0.0, 0.3]):  # frames 10 ms apart
        t = 0.01 * k
        for d in book.evaluate(sample(t, v)):
            fired.append((k, book.admit(d, t)))
    assert fired == [(1, (True, "")), (4, (False, "refractory")), (6, (False, "refractory"))]
    (d,) = [d for k in (7, 8) for d in book.evaluate(sample(0.01 + 0.1 * (k - 6) + (k - 7) * 0.001,
                                                            0.0 if k == 7 else 0.3))]
    assert book.admit(d, d.t_frame) == (True, "")  # past 100 ms: it acts again


def test_a_rule_faster_than_its_max_rate_is_stopped():
    book = RuleBook([rule(refractory_ms=0, max_rate_hz=3)], [1], DutyCycleSpec(max_fraction=1.0))
    results = []
    for k in range(10):
        t = 0.05 * k
        for d in book.evaluate(sample(t, 0.3 if k % 2 else 0.0)):
            results.append(book.admit(d, t))
    assert [ok for ok, _ in results] == [True, True, True, False]  # then it is stopped: no more decisions
    assert "max_rate_hz = 3" in book.states["r"].stopped


def test_the_duty_cycle_counts_the_light_in_the_window_that_ends_with_the_pulse():
    duty = DutyCycle(DutyCycleSpec(max_fraction=0.1, window_ms=1000))
    duty.add(0.0, 0.06)
    assert duty.light_s(-1, 1) == pytest.approx(0.06)
    assert duty.would_exceed(0.5, 0.04) is None  # 100 ms in the window ending at 0.54
    assert "duty-cycle limit" in duty.would_exceed(0.5, 0.05)
    assert duty.would_exceed(1.1, 0.09) is None  # the first pulse has left the window


def test_rise_rate_detects_an_onset():
    spec = rule(when={"roi": 1, "rise_above": 2.0})
    book = RuleBook([spec], [1], DutyCycleSpec())
    assert not book.evaluate(sample(0.0, 0.0, 1.0))
    assert [d.value for d in book.evaluate(sample(0.01, 0.0, 3.0))] == [3.0]


def test_dff_of_a_disc_with_its_ring_background_removed():
    h = w = 64
    rois = RoiSet.discs(np.array([[20.0, 20.0], [44.0, 40.0]]), 5.0, (h, w), [1, 2])
    yy, xx = np.mgrid[:h, :w]
    cell = ((xx - 20) ** 2 + (yy - 20) ** 2 <= 25).astype(float)
    readout = DffReadout(rois, init_frames=3, baseline_s=10.0)
    for k in range(3):
        img = 100.0 + 50.0 * cell  # offset + background 100, cell 50 above it
        s = readout.process(img, 0.01 * k)
    assert s.f[0] == pytest.approx(50.0, rel=1e-4) and s.f[1] == pytest.approx(0.0, abs=1e-3)
    s = readout.process(100.0 + 75.0 * cell + 7.0, 0.03)  # the cell at +50 %, the background up by 7
    assert s.dff[0] == pytest.approx(0.5, rel=1e-4) and s.ddff[0] == pytest.approx(50.0, rel=1e-3)
    f0 = readout.f0.copy()
    readout.process(100.0 + 75.0 * cell, 0.04)
    assert readout.f0[0] == f0[0]  # frozen above freeze_above: a transient does not lift its baseline


def test_the_trace_file_survives_a_torn_last_row(tmp_path):
    path = tmp_path / "run.traces"
    w = TraceWriter(path, [1, 2])
    for k in range(5):
        w.append(TraceSample(0.1 * k, k + 1, np.array([1.0, 2.0]), np.array([0.1 * k, 0.0]), np.zeros(2)))
    w.close()
    with open(path, "ab") as f:
        f.write(b"\x00" * 13)  # a crash in the middle of a row
    tr = read_traces(path)
    assert tr["roi_ids"] == [1, 2] and list(tr["counter"]) == [1, 2, 3, 4, 5]
    assert tr["dff"][:, 0] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4]) and tr["f"][0, 1] == 2.0
    with pytest.raises(FileExistsError):
        TraceWriter(path, [1])
