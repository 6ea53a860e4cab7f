"""Hostile protocol files: each is refused with one line (file:line where the YAML has one), no traceback.

The classes mirror ``tests/test_fuzz_config.py`` for sessions: YAML tricks (aliases, merge keys, duplicate
keys, control characters, tags), numbers that are not numbers (bools, ``1:30``, NaN, 10¹⁰⁰), and sizes
meant to exhaust memory or time (10⁹ repetitions, 10⁵ steps, 10⁴ patterns, a run of years). Then a
property: any single-character edit of a good file either loads or is refused as a ProtocolFileError of
one line: nothing else escapes the reader.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holostim.protocol import ProtocolFileError, load_protocol, parse_protocol

GOOD = ("version: 1\nname: fuzz\npatterns:\n  a: {group: 1}\n  b: {ids: [1, 2]}\nschedule:\n  steps:\n"
        "    - {pattern: a, duration_ms: 100}\n    - {pattern: b, duration_ms: 50}\n  repetitions: 2\n")
HEAD = "version: 1\nname: fuzz\n"
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi", strict=True)
)


def _steps(n: int) -> str:
    return "".join("    - {pattern: a, duration_ms: 1}\n" for _ in range(n))


@dataclass(frozen=True)
class Case:
    """A protocol that must be refused: ``key`` in the one line, ``:line`` if given, and ``also`` words."""

    id: str
    text: str | bytes
    key: str
    line: int | None = None
    also: tuple[str, ...] = ()


CASES = [
    Case("nul-character", b"version: 1\nname: a\x00b\n", "", 2, ("control character", "protocol file")),
    Case("invalid-utf8", b"version: 1\nname: \xff\xfe\n", "", 2, ("UTF-8",)),
    Case("billion-laughs", LAUGHS, "", 2, ("alias",)),
    Case("recursive-alias", "x: &a [*a]\n", "", 1, ("alias",)),
    Case("pattern-alias", HEAD + "patterns:\n  a: &p {group: 1}\n  b: *p\n", "", 5,
         ("alias", "protocol file")),
    Case("merge-key", HEAD + "patterns:\n  a: &p {group: 1}\n  b:\n    <<: *p\n", "", 6, ("alias",)),
    Case("duplicate-pattern", GOOD.replace("  b: {ids", "  a: {ids"), "patterns.a", 5, ("duplicate key",
                                                                                       "first at line 4")),
    Case("duplicate-schedule", GOOD + "schedule:\n  steps: []\n", "schedule", 11, ("duplicate key",)),
    Case("python-tag", "version: 1\nname: !!python/object/apply:os.system [echo]\n", "", 2, ("YAML",)),
    Case("unclosed-bracket", HEAD + "patterns: {a: {group: 1}\n", "", None, ("YAML syntax",)),
    Case("deep-nesting", HEAD + "patterns: " + "[" * 5000 + "]" * 5000 + "\n", "", None, ()),
    Case("scalar", "42\n", "", 1, ("a protocol must be a mapping",)),
    Case("empty", "", "version", None, ("required key is missing",)),
    Case("bool-repetitions", GOOD.replace("repetitions: 2", "repetitions: true"), "schedule.repetitions", 10,
         ("true/false",)),
    Case("bool-duration", GOOD.replace("duration_ms: 100", "duration_ms: true"),
         "schedule.steps.0.duration_ms", 8, ("true/false",)),
    Case("bool-version", GOOD.replace("version: 1", "version: true"), "version", 1, ("true/false",)),
    Case("sexagesimal", GOOD.replace("repetitions: 2", "repetitions: 1:30"), "schedule.repetitions", 10),
    Case("float-repetitions", GOOD.replace("repetitions: 2", "repetitions: 2.5"), "schedule.repetitions", 10),
    Case("nan-duration", GOOD.replace("duration_ms: 100", "duration_ms: .nan"),
         "schedule.steps.0.duration_ms", 8),
    Case("inf-interval", GOOD + "  inter_trial_interval_ms: .inf\n", "schedule.inter_trial_interval_ms", 11),
    Case("huge-int", GOOD.replace("repetitions: 2", "repetitions: " + "9" * 100), "schedule.repetitions", 10),
    Case("huge-seed", GOOD + "  order: random\n  seed: " + "9" * 40 + "\n", "schedule.seed", 12),
    Case("billion-repetitions", GOOD.replace("repetitions: 2", "repetitions: 1000000000"),
         "schedule.repetitions", 10, ("less than or equal",)),
    Case("steps-times-repetitions", GOOD.replace("repetitions: 2", "repetitions: 50001"),
         "schedule.repetitions", 10, ("at most 100000",)),
    Case("too-many-steps", HEAD + "patterns: {a: {}}\nschedule:\n  steps:\n" + _steps(10_001),
         "schedule.steps", 6, ("at most 10000",)),
    Case("too-many-patterns", HEAD + "patterns:\n" + "".join(f"  p{i}: {{}}\n" for i in range(1001))
         + "schedule:\n  steps: [{pattern: p0, duration_ms: 1}]\n", "patterns", 4, ("at most 1000",)),
    Case("a-run-of-years", GOOD.replace("repetitions: 2", "repetitions: 50000\n  inter_trial_interval_ms: "
                                                          "3600000"), "schedule", 7, ("durations are in",)),
    Case("huge-ids", GOOD.replace("ids: [1, 2]", "ids: [" + ", ".join(["1"] * 10_001) + "]"),
         "patterns.b.ids", 5),
    Case("long-name", GOOD.replace("name: fuzz", "name: " + "x" * 201), "name", 2, ("at most 200",)),
    Case("control-in-pattern-name", GOOD.replace("  a: {group", '  "a\\tb": {group'), "patterns", 4),
    Case("int-pattern-name", GOOD.replace("  a: {group", "  1: {group"), "patterns.1", 4),
    Case("unknown-pattern", GOOD.replace("pattern: b,", "pattern: c,"), "schedule.steps.1.pattern", 9,
         ("unknown pattern 'c'",)),
    Case("list-for-steps", GOOD.replace("  steps:\n", "  steps: 3\n  x:\n"), "schedule", None),
    Case("string-for-patterns", HEAD + "patterns: everything\nschedule: {steps: []}\n", "patterns", 3),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_hostile_protocol_is_one_line(case, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(case.text if isinstance(case.text, bytes) else case.text.encode())
    with pytest.raises(ProtocolFileError) as info:
        load_protocol(path)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    assert msg.startswith(str(path) + (f":{case.line}:" if case.line else ""))
    assert f": {case.key}" in msg, msg
    for word in case.also:
        assert word in msg, msg


def test_the_good_file_of_the_fuzz_loads():
    assert parse_protocol(GOOD).schedule.repetitions == 2


_CHARS = st.sampled_from(list("{}[]:,-&*!|>'\"#% \n\t0123456789.eE+abxyz") + ["\x00", "\x7f", "é", "\ufeff"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pos=st.integers(0, len(GOOD)), cut=st.integers(0, 3), insert=st.text(_CHARS, max_size=3))
def test_any_small_edit_loads_or_is_one_line(pos, cut, insert):
    text = GOOD[:pos] + insert + GOOD[pos + cut:]
    try:
        parse_protocol(text, file="p.yaml")
    except ProtocolFileError as exc:
        msg = str(exc)
        assert msg.startswith("p.yaml") and "\n" not in msg and "Traceback" not in msg
