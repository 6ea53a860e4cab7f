"""The protocol file: strict reading with file:line:key errors, cross-checks, bounds, save → load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from holostim.config import ConfigError
from holostim.config.load import load_model, parse_model
from holostim.config.types import Section
from holostim.errors import HolostimError
from holostim.protocol import (
    ProtocolConfig,
    ProtocolError,
    ProtocolFileError,
    load_protocol,
    parse_protocol,
)
from holostim.protocol.model import MAX_RUN_STEPS

GOOD = textwrap.dedent("""\
    version: 1
    name: test
    patterns:
      ens1: {targets_file: targets.csv, group: 1, power_mw_per_spot: 1.5}
      cells: {ids: [3, 4]}
      all: {}
    schedule:
      steps:
        - {pattern: ens1, duration_ms: 100}
        - {pattern: cells, duration_ms: 50, power_mw_per_spot: 2}
        - {pattern: all, duration_ms: 20}
      repetitions: 3
      inter_step_interval_ms: 200
      order: random
      seed: 7
    """)


def _error(text: str, file: str = "p.yaml") -> ProtocolFileError:
    with pytest.raises(ProtocolFileError) as info:
        parse_protocol(text, file=file, base_dir="/rig")
    err = info.value
    assert len(str(err).splitlines()) == 1
    return err


def test_a_good_protocol_reads_with_defaults_and_resolved_paths():
    p = parse_protocol(GOOD, base_dir="/rig/protocols")
    assert p.patterns["ens1"].targets_file == Path("/rig/protocols/targets.csv")
    assert p.patterns["ens1"].group == 1 and p.patterns["ens1"].ids is None
    assert p.patterns["cells"].ids == [3, 4] and p.patterns["cells"].power_mw_per_spot is None
    s = p.schedule
    assert (s.repetitions, s.inter_step_interval_ms, s.order, s.seed) == (3, 200.0, "random", 7)
    assert (s.inter_trial_interval_ms, s.baseline_pre_ms, s.baseline_post_ms) == (0.0, 0.0, 0.0)
    assert (s.trigger, s.trigger_timeout_s) == ("timer", 60.0)
    assert s.steps[1].power_mw_per_spot == 2.0
    assert p.used_patterns() == ["ens1", "cells", "all"] and p.unused_patterns() == []


def test_a_wrong_key_names_key_file_and_line_and_suggests():
    err = _error(GOOD.replace("repetitions: 3", "repetitons: 3"))
    assert str(err).startswith("p.yaml:12: schedule.repetitons: unknown key; did you mean 'repetitions'?")
    err = _error(GOOD.replace("targets.csv, group: 1,", "targets.csv, grop: 1,"))
    assert str(err).startswith("p.yaml:4: patterns.ens1.grop: unknown key; did you mean 'group'?")
    err = _error(GOOD.replace("duration_ms: 20}", "duraton_ms: 20}"))
    assert "p.yaml:11: schedule.steps.2.duraton_ms: unknown key; did you mean 'duration_ms'?" in str(err)


def test_a_pattern_called_like_a_session_section_is_not_mistaken_for_it():
    text = GOOD.replace("all: {}", "camera: {simulated: 1}").replace("pattern: all", "pattern: camera")
    err = _error(text)
    assert "patterns.camera.simulated: unknown key (allowed here: group, ids" in str(err)


@pytest.mark.parametrize("old, new, key, line", [
    ("repetitions: 3", "repetitions: true", "schedule.repetitions", 12),
    ("duration_ms: 100}", "duration_ms: false}", "schedule.steps.0.duration_ms", 9),
    ("group: 1,", "group: true,", "patterns.ens1.group", 4),
    ("ids: [3, 4]", "ids: [3, true]", "patterns.cells.ids", 5),
    ("seed: 7", "seed: true", "schedule.seed", 15),
])
def test_a_bool_where_a_number_goes_is_refused(old, new, key, line):
    err = _error(GOOD.replace(old, new))
    assert f"p.yaml:{line}: {key}" in str(err) and "true/false is not a number" in str(err)


def test_a_step_naming_an_unknown_pattern_is_reported_at_that_step():
    err = _error(GOOD.replace("pattern: cells", "pattern: cels"))
    assert str(err) == ("p.yaml:10: schedule.steps.1.pattern: unknown pattern 'cels'; did you mean 'cells'? "
                        "(patterns: all, cells, ens1)")
    # Built in code (the GUI dock) there is no file, but the same check holds.
    data = parse_protocol(GOOD).to_dict()
    data["schedule"]["steps"][2]["pattern"] = "nope"
    with pytest.raises(ValidationError, match=r"schedule\.steps\.2\.pattern: unknown pattern 'nope'"):
        ProtocolConfig.model_validate(data)


@pytest.mark.parametrize("old, new, key, words", [
    ("group: 1,", "group: 1, ids: [1],", "patterns.ens1", "either group or ids"),
    ("ids: [3, 4]", "ids: [3, 4, 3]", "patterns.cells.ids", "listed twice"),
    ("ids: [3, 4]", "ids: []", "patterns.cells.ids", "at least 1"),
    ("ids: [3, 4]", "ids: [0]", "patterns.cells.ids.0", "greater than or equal to 1"),
    ("group: 1,", "group: -1,", "patterns.ens1.group", "greater than or equal to 0"),
    ("power_mw_per_spot: 1.5", "power_mw_per_spot: 0", "patterns.ens1.power_mw_per_spot", "greater than 0"),
    ("power_mw_per_spot: 2", "power_mw_per_spot: .nan", "schedule.steps.1.power_mw_per_spot", "finite"),
    ("duration_ms: 100}", "duration_ms: 0}", "schedule.steps.0.duration_ms", "greater than 0"),
    ("duration_ms: 100}", "duration_ms: 1e9}", "schedule.steps.0.duration_ms", "less than or equal"),
    ("inter_step_interval_ms: 200", "inter_step_interval_ms: -1", "schedule.inter_step_interval_ms", ">= 0"),
    ("repetitions: 3", "repetitions: 0", "schedule.repetitions", "greater than or equal to 1"),
    ("repetitions: 3", "repetitions: 1000000000", "schedule.repetitions", "less than or equal"),
    ("repetitions: 3", "repetitions: 40000", "schedule.repetitions", f"a run has at most {MAX_RUN_STEPS}"),
    ("repetitions: 3", "repetitions: 1:30", "schedule.repetitions", "'1:30'"),
    ("order: random", "order: shuffled", "schedule.order", "use one of fixed, random"),
    ("seed: 7", "seed: -1", "schedule.seed", "greater than or equal to 0"),
    ("seed: 7", "trigger: ttl", "schedule.trigger", "use one of timer, ttl_per_step, ttl_start"),
    ("version: 1", "version: 2", "version", "protocol version 2 is not supported"),
    ("name: test", "name: ''", "name", "at least 1"),
    ("targets_file: targets.csv", "targets_file: ' '", "patterns.ens1.targets_file", "an empty file name"),
    ("patterns:\n  ens1:", "patterns:\n  '':", "patterns.", "at least 1"),
])
def test_bad_values_name_their_key(old, new, key, words):
    text = GOOD.replace(old, new)
    assert text != GOOD
    err = _error(text)
    assert f": {key}" in str(err), str(err)
    assert words.replace(">= 0", "greater than or equal to 0") in str(err), str(err)


def test_a_run_longer_than_a_day_is_a_unit_mistake():
    text = GOOD.replace("inter_step_interval_ms: 200", "inter_step_interval_ms: 3000000\n  repetitions: 20")
    text = text.replace("  repetitions: 3\n", "")
    err = _error(text)
    assert "schedule: the run would take" in str(err) and "durations are in milliseconds" in str(err)


def test_missing_sections_and_a_list_are_one_line_each():
    err = _error("version: 1\nname: x\n")
    assert "patterns: required key is missing" in str(err)
    err = _error("version: 1\nname: x\npatterns: {a: {}}\n")
    assert "needs a schedule (timed steps) or a closed_loop section" in str(err)
    assert str(_error("- 1\n")) == "p.yaml:1: a protocol must be a mapping of sections, got list"
    err = _error("version: 1\nname: x\npatterns: {a: {}}\nschedule:\n  steps: []\n")
    assert str(err) == "p.yaml:5: schedule.steps: List should have at least 1 item after validation, not 0"
    err = _error("version: 1\nname: x\npatterns: {}\nschedule:\n  steps: [{pattern: a, duration_ms: 1}]\n")
    assert str(err).startswith("p.yaml:3: patterns: Dictionary should have at least 1 item")


def test_errors_are_both_config_and_protocol_errors(tmp_path):
    with pytest.raises(ProtocolFileError) as info:
        load_protocol(tmp_path / "nope.yaml")
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ProtocolError)
    assert isinstance(info.value, HolostimError) and isinstance(info.value, ValueError)
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: protocol file does not exist"
    with pytest.raises(ProtocolFileError, match="is a directory, not a protocol file"):
        load_protocol(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes(GOOD.encode() + b"name: caf\xe9\n")
    with pytest.raises(ProtocolFileError, match=r"latin1.yaml:16: not UTF-8 text .* protocol file is plain"):
        load_protocol(tmp_path / "latin1.yaml")


def test_load_resolves_target_files_against_the_protocols_folder(tmp_path, monkeypatch):
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "p.yaml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    p = load_protocol(Path("exp") / "p.yaml")
    assert p.patterns["ens1"].targets_file == folder.resolve() / "targets.csv"
    err = _error(GOOD.replace("seed: 7", "seed: 7\n  sed: 1"), file=str(folder / "p.yaml"))
    assert str(err).startswith(f"{folder / 'p.yaml'}:16: schedule.sed: unknown key")


def test_save_then_load_gives_the_same_protocol(tmp_path):
    p = parse_protocol(GOOD, base_dir=tmp_path)
    path = p.save(tmp_path / "saved.yaml")
    again = load_protocol(path)
    assert again == p
    text = path.read_text()
    assert text.startswith("# holostim stimulation protocol (version 1)\n")
    assert "targets_file: targets.csv" in text  # below the protocol's folder: written relative
    assert "null" not in text  # unset keys are left out
    # Saved elsewhere: the target file is not below that folder, so its path is written in full.
    elsewhere = p.save(tmp_path / "other" / "saved.yaml")
    assert str(tmp_path / "targets.csv") in elsewhere.read_text()
    assert load_protocol(elsewhere) == p
    # A second save is byte-identical, and nothing is left beside the file.
    assert p.save(path).read_text() == text
    assert sorted(x.name for x in tmp_path.iterdir()) == ["other", "saved.yaml"]


def test_to_dict_is_plain_data():
    data = parse_protocol(GOOD, base_dir="/rig").to_dict(relative_to="/rig")
    assert data["patterns"]["ens1"] == {"targets_file": "targets.csv", "group": 1, "power_mw_per_spot": 1.5}
    assert data["patterns"]["all"] == {}
    assert data["schedule"]["steps"][1] == {"pattern": "cells", "duration_ms": 50.0, "power_mw_per_spot": 2.0}
    assert data["version"] == 1 and data["schedule"]["seed"] == 7


# ------------------------------------------------------------------- the reader for any model
class _Tiny(Section):
    count: int
    inner: dict[str, _Inner] = {}


class _Inner(Section):
    size_um: float = 1.0


_Tiny.model_rebuild()


def test_parse_model_works_for_any_model_and_names_what_it_reads(tmp_path):
    assert parse_model("count: 2\ninner: {a: {size_um: 3}}\n", _Tiny, what="widget").inner["a"].size_um == 3.0
    with pytest.raises(ConfigError) as info:
        parse_model("count: 2\ninner:\n  a: {sise_um: 3}\n", _Tiny, file="w.yaml", what="widget")
    assert str(info.value) == ("w.yaml:3: inner.a.sise_um: unknown key; did you mean 'size_um'? "
                               "(allowed here: size_um)")
    with pytest.raises(ConfigError, match=r"w.yaml:2: YAML syntax error: aliases \(\*a\) are not allowed "
                                          r"in a widget file"):
        parse_model("count: &a 2\nother: *a\n", _Tiny, file="w.yaml", what="widget")
    with pytest.raises(ConfigError, match="merge keys .* in a widget file"):
        parse_model("inner: {a: {}}\nx:\n  <<: {count: 1}\n", _Tiny, file="w.yaml", what="widget")
    with pytest.raises(ConfigError, match="a widget file is plain text"):
        parse_model("count: 1\x07\n", _Tiny, what="widget")
    with pytest.raises(ConfigError, match="a widget must be a mapping of sections, got int"):
        parse_model("3\n", _Tiny, what="widget")
    (tmp_path / "w.yaml").write_text("count: 1\ncount: 2\n")
    with pytest.raises(ConfigError, match=r"w.yaml:2: count: duplicate key \(first at line 1\)"):
        load_model(tmp_path / "w.yaml", _Tiny, what="widget")
    with pytest.raises(ConfigError, match="widget file does not exist"):
        load_model(tmp_path / "none.yaml", _Tiny, what="widget")
    assert issubclass(_Tiny, BaseModel)
