"""Patterns resolved to targets: from a target file or the session's, by group or ids, one line per fault."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from holostim.protocol import ProtocolError, UnusedPatternWarning, parse_protocol, resolve_patterns
from holostim.session import Target
from holostim.session.target_files import save_targets


def _protocol(folder: Path, patterns: str, steps: list[str] | None = None):
    names = steps if steps is not None else [line.split(":")[0].strip() for line in patterns.splitlines()]
    text = "version: 1\nname: t\npatterns:\n" + "".join(f"  {line}\n" for line in patterns.splitlines())
    text += "schedule:\n  steps:\n" + "".join(f"    - {{pattern: {n}, duration_ms: 10}}\n" for n in names)
    return parse_protocol(text, file=str(folder / "p.yaml"), base_dir=folder)


@pytest.fixture
def ensembles(tmp_path) -> Path:
    targets = [Target(x=10.0 * i, y=5.0 * i, weight=1 + i % 2, group=1 + i // 3, id=i + 1) for i in range(9)]
    save_targets(tmp_path / "ens.csv", targets)
    return tmp_path


def test_group_selects_that_group_of_the_file(ensembles):
    p = _protocol(ensembles, "a: {targets_file: ens.csv, group: 2, power_mw_per_spot: 1.5}\nb: "
                             "{targets_file: ens.csv, group: 3}")
    out = resolve_patterns(p)
    assert list(out) == ["a", "b"]
    assert [t.id for t in out["a"].targets] == [4, 5, 6] and {t.group for t in out["a"].targets} == {2}
    assert out["a"].targets[0] == Target(x=30.0, y=15.0, weight=2.0, group=2, id=4)
    assert out["a"].power_mw_per_spot == 1.5 and out["b"].power_mw_per_spot is None
    assert out["a"].name == "a"


def test_ids_select_those_targets_in_the_order_given(ensembles):
    out = resolve_patterns(_protocol(ensembles, "a: {targets_file: ens.csv, ids: [9, 1, 5]}"))
    assert [(t.id, t.x) for t in out["a"].targets] == [(9, 80.0), (1, 0.0), (5, 40.0)]


def test_neither_selects_every_target_of_the_file(ensembles):
    assert len(resolve_patterns(_protocol(ensembles, "a: {targets_file: ens.csv}"))["a"].targets) == 9


def test_the_session_targets_serve_patterns_without_a_file(tmp_path):
    session = [Target(x=1, y=2, group=1, id=7), Target(x=3, y=4, group=2, id=8),
               Target(x=5, y=6, group=1, id=9)]
    out = resolve_patterns(_protocol(tmp_path, "g1: {group: 1}\nsome: {ids: [8]}\nall: {}"), session)
    assert [t.id for t in out["g1"].targets] == [7, 9]
    assert [t.id for t in out["some"].targets] == [8]
    assert out["all"].targets == session


def test_an_empty_group_is_one_line_naming_the_pattern_and_the_file(ensembles):
    p = _protocol(ensembles, "ens3: {targets_file: ens.csv, group: 3}\n"
                             "ens7: {targets_file: ens.csv, group: 7}")
    with pytest.raises(ProtocolError) as info:
        resolve_patterns(p)
    assert str(info.value) == "pattern 'ens7': no targets in group 7 of ens.csv (groups there: 1–3)"
    with pytest.raises(ProtocolError, match=r"^pattern 'g': no targets in group 1 of the session's targets$"):
        resolve_patterns(_protocol(ensembles, "g: {group: 1}"), [])
    with pytest.raises(ProtocolError, match=r"^pattern 'all': no targets in the session's targets$"):
        resolve_patterns(_protocol(ensembles, "all: {}"), [])


def test_an_id_that_is_not_there_is_one_line(ensembles):
    with pytest.raises(ProtocolError) as info:
        resolve_patterns(_protocol(ensembles, "cells: {targets_file: ens.csv, ids: [2, 12, 30]}"))
    assert str(info.value) == "pattern 'cells': target id 12, 30 not in ens.csv (ids there: 1–9)"
    with pytest.raises(ProtocolError, match="no target there has an id"):
        resolve_patterns(_protocol(ensembles, "c: {ids: [1]}"), [Target(x=1, y=1)])


def test_a_file_without_ids_is_numbered_in_file_order(tmp_path):
    (tmp_path / "t.csv").write_text("x_camera_px,y_camera_px\n1,1\n2,2\n3,3\n")
    (tmp_path / "some.json").write_text(json.dumps([{"x": 1, "y": 1, "id": 5}, {"x": 2, "y": 2},
                                                    {"x": 3, "y": 3, "id": 2}, {"x": 4, "y": 4}]))
    p = _protocol(tmp_path, "a: {targets_file: t.csv, ids: [3]}\nb: {targets_file: some.json}")
    out = resolve_patterns(p)
    assert out["a"].targets == [Target(x=3.0, y=3.0, id=3)]
    # Rows without an id get the numbers after the largest one given, in file order.
    assert [(t.x, t.id) for t in out["b"].targets] == [(1, 5), (2, 6), (3, 2), (4, 7)]


def test_two_targets_with_one_id_in_a_file_are_refused(tmp_path):
    (tmp_path / "t.csv").write_text("x_camera_px,y_camera_px,id\n1,1,4\n2,2,4\n")
    with pytest.raises(ProtocolError, match=r"^pattern 'a': t.csv has more than one target with id 4;"):
        resolve_patterns(_protocol(tmp_path, "a: {targets_file: t.csv}"))


def test_a_missing_or_bad_file_is_one_line_naming_the_pattern(tmp_path):
    with pytest.raises(ProtocolError) as info:
        resolve_patterns(_protocol(tmp_path, "a: {targets_file: nope.csv}"))
    assert str(info.value) == f"pattern 'a': target file {str(tmp_path / 'nope.csv')!r} does not exist"
    (tmp_path / "spots.csv").write_text("x_fourier_px,y_fourier_px\n1,1\n")
    with pytest.raises(ProtocolError, match=r"^pattern 'b': spots.csv: header .* `holostim compute` spot"):
        resolve_patterns(_protocol(tmp_path, "b: {targets_file: spots.csv}"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ProtocolError, match=r"^pattern 'c': bad.json: not a valid JSON file"):
        resolve_patterns(_protocol(tmp_path, "c: {targets_file: bad.json}"))
    (tmp_path / "w.csv").write_text("x_camera_px,y_camera_px,weight\n1,1,0\n")
    with pytest.raises(ProtocolError, match=r"^pattern 'd': w.csv: target 1 weight"):
        resolve_patterns(_protocol(tmp_path, "d: {targets_file: w.csv}"))
    assert len(str(info.value).splitlines()) == 1


def test_only_the_patterns_the_schedule_shows_are_resolved_and_the_rest_reported(tmp_path, ensembles):
    p = _protocol(ensembles, "used: {targets_file: ens.csv, group: 1}\nspare: {targets_file: missing.csv}",
                  steps=["used"])
    assert p.unused_patterns() == ["spare"]
    with pytest.warns(UnusedPatternWarning, match="no step shows pattern\\(s\\) 'spare'"):
        out = resolve_patterns(p)
    assert list(out) == ["used"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_patterns(_protocol(ensembles, "used: {targets_file: ens.csv, group: 1}"))


def test_a_file_used_by_several_patterns_is_read_once(ensembles, monkeypatch):
    import holostim.protocol.patterns as patterns

    reads = []
    real = patterns.load_targets
    monkeypatch.setattr(patterns, "load_targets", lambda path: reads.append(path) or real(path))
    resolve_patterns(_protocol(ensembles, "a: {targets_file: ens.csv, group: 1}\nb: {targets_file: ens.csv, "
                                          "group: 2}"))
    assert reads == [ensembles / "ens.csv"]
