"""The protocol file, version 1: named patterns and a schedule of steps, read as strictly as a session.

A protocol is hand-written (or saved by the GUI's protocol dock) and then runs unattended with a laser,
so it gets the session's reader (:func:`holostim.config.load.load_model`: no aliases, duplicate keys
are errors, YAML 1.2 numbers, ``true`` is never a number) and its messages, ``file:line: key: message``.

Cross-references are checked where the user wrote them: a step naming a pattern the file does not
define is reported at that step's ``pattern`` key (``schedule.steps.3.pattern``), with the closest name.
Relative ``targets_file`` paths start at the protocol file's folder, so a protocol and its target files
move together; whether a target file exists and holds the selected targets is checked when the patterns
are resolved against a session (:mod:`holostim.protocol.patterns`), the last step before the masks are
computed.

``export_nwb`` (optional) names an NWB file the stimulation is exported to when the run ends (relative to
the protocol's folder; it must end in ``.nwb`` and its folder must exist, checked here so a typo fails
before any light, not after the experiment). The export itself is the caller's (``holostim
run-protocol``): the interop room that writes NWB sits beside this one, not below it.

Bounds (each says why):

- :data:`MAX_PATTERNS` patterns: every pattern's mask is computed and held ready before the first step
  (1000 masks of 1024² are 1 GiB of gray frames).
- :data:`MAX_RUN_STEPS` steps × repetitions: the plan is expanded into one record per step, logged; a
  count of 10⁹ in a typo would fill memory before anything ran.
- :data:`MAX_INTERVAL_MS` for any one duration or interval and :data:`MAX_RUN_MS` for the whole run: a
  stimulation that stays on for days is a unit mistake (seconds written as ms), not an experiment.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from holostim.config.load import load_model, parse_model
from holostim.config.messages import ConfigError
from holostim.config.types import ResolvedPath, Section, YamlDocument
from holostim.protocol.closed_loop_model import ClosedLoopSpec
from holostim.protocol.errors import ProtocolFileError

__all__ = [
    "MAX_INTERVAL_MS", "MAX_PATTERNS", "MAX_RUN_MS", "MAX_RUN_STEPS", "MAX_STEPS", "PROTOCOL_VERSION",
    "PatternSpec", "ProtocolConfig", "ScheduleSpec", "StepSpec", "load_protocol", "parse_protocol",
]

PROTOCOL_VERSION = 1
MAX_PATTERNS = 1000
"""Patterns per protocol (each one's mask is held ready for the whole run)."""
MAX_STEPS = 10_000
"""Steps per trial."""
MAX_RUN_STEPS = 100_000
"""Steps in the whole run: ``len(steps) × repetitions``."""
MAX_INTERVAL_MS = 3_600_000.0
"""Longest single duration, interval or baseline: one hour."""
MAX_RUN_MS = 86_400_000.0
"""Longest planned run, baselines included: one day."""
MAX_SEED = 2**63 - 1
"""Seeds fit a signed 64-bit integer, so a logged seed can be written back into any file or database."""
MAX_POWER_MW = 1000.0
"""No holographic rig puts a watt into one spot: more is a unit mistake (the safety limits refuse less)."""

_CONTEXT_KEY = "protocol_patterns"
"""Where :class:`ProtocolConfig` notes its pattern names in the validation context for the steps."""

Milliseconds = Annotated[float, Field(ge=0, le=MAX_INTERVAL_MS, allow_inf_nan=False)]
Duration = Annotated[float, Field(gt=0, le=MAX_INTERVAL_MS, allow_inf_nan=False)]
PowerPerSpot = Annotated[float, Field(gt=0, le=MAX_POWER_MW, allow_inf_nan=False)]
PatternName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$",
                                               strip_whitespace=False)]


class PatternSpec(Section):
    """A set of targets lit together, and the power per spot they get.

    Attributes
    ----------
    targets_file : Path or None
        A CSV/JSON target file (the GUI's format), relative to the protocol's folder; ``None``: the
        session's own targets.
    group : int or None
        Only the targets of this group (the GUI's ``group`` column).
    ids : list of int or None
        Only the targets with these ids (the GUI's ``#`` column, ROI ids). ``group`` and ``ids`` are
        exclusive; neither selects every target of the source.
    library : Path or None
        A mask library (``holostim library build``'s Zarr store), relative to the protocol's folder: the
        pattern is its set ``set``, played from the stored frame (nothing is computed). Exclusive with
        ``targets_file``, ``group`` and ``ids``.
    set : str or None
        The library's set id (``holostim library info`` lists them).
    power_mw_per_spot : float or None
        Power at the sample per spot; ``None``: the library set's power if it has one, else the laser at
        ``safety.laser_power_mw``.
    """

    targets_file: ResolvedPath | None = None
    group: Annotated[int, Field(ge=0)] | None = None
    ids: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=10_000)] | None = None
    library: ResolvedPath | None = None
    set: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    power_mw_per_spot: PowerPerSpot | None = None

    @field_validator("targets_file", mode="before")
    @classmethod
    def _named_file(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():  # "" would resolve to the protocol's folder
            raise ValueError("an empty file name; leave targets_file out to use the session's targets")
        return value

    @field_validator("ids")
    @classmethod
    def _unique_ids(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            twice = sorted({i for i in value if value.count(i) > 1})
            raise ValueError(f"ids {twice} are listed twice; each target is lit once per pattern")
        return value

    @model_validator(mode="after")
    def _one_selection(self) -> PatternSpec:
        if self.group is not None and self.ids is not None:
            raise ValueError("give either group or ids, not both (a pattern selects its targets one way)")
        if (self.library is None) != (self.set is None):
            raise ValueError("a library pattern names both library (the .zarr store) and set (its set id)")
        if self.library is not None and (self.targets_file, self.group, self.ids) != (None, None, None):
            raise ValueError("a library pattern plays its set's stored targets; leave out targets_file, "
                             "group and ids")
        return self


class StepSpec(Section):
    """One step of a trial: a pattern on for ``duration_ms`` (gate open), at its or this power."""

    pattern: str
    duration_ms: Duration
    power_mw_per_spot: PowerPerSpot | None = None

    @field_validator("pattern")
    @classmethod
    def _known_pattern(cls, value: str, info: ValidationInfo) -> str:
        names = (info.context or {}).get(_CONTEXT_KEY) if isinstance(info.context, dict) else None
        if names is not None and value not in names:
            raise ValueError(_unknown_pattern(value, names))
        return value


class ScheduleSpec(Section):
    """When each pattern is on: steps repeated over trials, with intervals, baselines and a trigger.

    The planned times are laid out by :func:`holostim.protocol.schedule.expand`: ``baseline_pre_ms``,
    then per trial the steps separated by ``inter_step_interval_ms`` (gate closed), trials separated by
    ``inter_trial_interval_ms``, then ``baseline_post_ms``. ``order: random`` shuffles the steps of each
    trial with ``seed`` (none: one is drawn and logged). ``trigger``: ``timer`` runs free from the start,
    ``ttl_start`` waits for one TTL-in and then runs timed, ``ttl_per_step`` waits for a TTL-in before
    every step (each at most ``trigger_timeout_s``).
    """

    steps: Annotated[list[StepSpec], Field(min_length=1, max_length=MAX_STEPS)]
    repetitions: Annotated[int, Field(ge=1, le=MAX_RUN_STEPS)] = 1
    inter_step_interval_ms: Milliseconds = 0.0
    inter_trial_interval_ms: Milliseconds = 0.0
    baseline_pre_ms: Milliseconds = 0.0
    baseline_post_ms: Milliseconds = 0.0
    order: Literal["fixed", "random"] = "fixed"
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    trigger: Literal["timer", "ttl_per_step", "ttl_start"] = "timer"
    trigger_timeout_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] = 60.0

    @field_validator("repetitions")
    @classmethod
    def _bounded_run(cls, value: int, info: ValidationInfo) -> int:
        steps = info.data.get("steps")
        if steps is not None and len(steps) * value > MAX_RUN_STEPS:
            raise ValueError(f"{len(steps)} steps × {value} repetitions = {len(steps) * value} steps; a run "
                             f"has at most {MAX_RUN_STEPS}")
        return value

    @model_validator(mode="after")
    def _bounded_time(self) -> ScheduleSpec:
        total = planned_total_ms(self)
        if total > MAX_RUN_MS:
            raise ValueError(f"the run would take {total / 3_600_000:.1f} h; a run is at most "
                             f"{MAX_RUN_MS / 3_600_000:.0f} h (durations are in milliseconds)")
        return self


def planned_total_ms(schedule: ScheduleSpec) -> float:
    """The planned length of the run in ms: baselines, every step, every interval (order does not matter)."""
    n, reps = len(schedule.steps), schedule.repetitions
    per_trial = sum(s.duration_ms for s in schedule.steps) + (n - 1) * schedule.inter_step_interval_ms
    return (schedule.baseline_pre_ms + reps * per_trial + (reps - 1) * schedule.inter_trial_interval_ms
            + schedule.baseline_post_ms)


class ProtocolConfig(YamlDocument, Section):
    """A stimulation protocol (version 1): named patterns and the schedule that shows them."""

    yaml_header: ClassVar[str] = f"# holostim stimulation protocol (version {PROTOCOL_VERSION})\n"

    version: Literal[1]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    patterns: Annotated[dict[PatternName, PatternSpec], Field(min_length=1, max_length=MAX_PATTERNS)]
    schedule: ScheduleSpec | None = None
    closed_loop: ClosedLoopSpec | None = None
    export_nwb: ResolvedPath | None = None

    @field_validator("export_nwb")
    @classmethod
    def _nwb_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        if value.suffix.lower() != ".nwb":
            raise ValueError(f"{value.name!r} must end in .nwb (the NWB file the run is exported to)")
        if not value.parent.is_dir():
            raise ValueError(f"the folder {str(value.parent)!r} does not exist; create it or name another")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _known_version(cls, value: Any) -> Any:
        if isinstance(value, bool):  # ``true == 1`` to Python; a Literal[1] would take it
            raise ValueError(f"true/false is not a version number; write version: {PROTOCOL_VERSION}")
        if isinstance(value, int) and value != PROTOCOL_VERSION:
            raise ValueError(f"protocol version {value} is not supported; this holostim reads version "
                             f"{PROTOCOL_VERSION}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _note_pattern_names(cls, data: Any, info: ValidationInfo) -> Any:
        # The steps are validated after the patterns; noting the names here lets a step with an unknown
        # pattern be reported at its own key and line (the after-validator below catches the rest).
        if isinstance(info.context, dict) and isinstance(data, dict):
            patterns = data.get("patterns")
            info.context[_CONTEXT_KEY] = set(patterns) if isinstance(patterns, dict) else None
        return data

    @model_validator(mode="after")
    def _steps_name_patterns(self) -> ProtocolConfig:
        if (self.schedule is None) == (self.closed_loop is None):
            raise ValueError("a protocol has either a schedule (timed steps) or a closed_loop section "
                             "(rules on the camera's activity), and not both"
                             if self.schedule is not None else
                             "a protocol needs a schedule (timed steps) or a closed_loop section")
        if self.closed_loop is not None:
            for k, rule in enumerate(self.closed_loop.rules):
                if rule.do.show is not None and rule.do.show not in self.patterns:
                    raise ValueError(f"closed_loop.rules.{k}.do.show: "
                                     f"{_unknown_pattern(rule.do.show, self.patterns)}")
            return self
        for i, step in enumerate(self.schedule.steps):
            if step.pattern not in self.patterns:
                problem = _unknown_pattern(step.pattern, self.patterns)
                raise ValueError(f"schedule.steps.{i}.pattern: {problem}")
        return self

    def used_patterns(self) -> list[str]:
        """The patterns the schedule (or the closed loop's rules) show, in the order of their first use."""
        if self.schedule is None:
            return self.closed_loop.used_patterns() if self.closed_loop is not None else []
        return list(dict.fromkeys(s.pattern for s in self.schedule.steps))

    def unused_patterns(self) -> list[str]:
        """Patterns no step shows (worth a warning: perhaps a step names the wrong one)."""
        used = set(self.used_patterns())
        return [name for name in self.patterns if name not in used]

    def to_dict(self, relative_to: str | Path | None = None) -> dict[str, Any]:
        """Plain (YAML/JSON-safe) values; a target file below ``relative_to`` is written relative to it.

        Unset optional keys are left out, so a saved protocol reads like a hand-written one.
        """
        base = Path(relative_to).resolve() if relative_to is not None else None
        data = self.model_dump(mode="python", exclude_none=True)
        for spec in data["patterns"].values():
            for key in ("targets_file", "library"):
                if key in spec:
                    spec[key] = _path_text(spec[key], base)
        if "export_nwb" in data:
            data["export_nwb"] = _path_text(data["export_nwb"], base)
        return data


def _path_text(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return path.resolve().relative_to(base).as_posix()
        except ValueError:
            pass
    return str(path)


def _unknown_pattern(name: str, names: Any) -> str:
    known = sorted(str(n) for n in names)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(known[:10]) + (f", … ({len(known)} in all)" if len(known) > 10 else "")
    return f"unknown pattern {name!r}{hint} (patterns: {shown})"


def parse_protocol(
    text: str, *, file: str = "<string>", base_dir: str | Path | None = None
) -> ProtocolConfig:
    """Validate protocol YAML text; relative target files resolve against ``base_dir`` (default: cwd).

    Raises
    ------
    ProtocolFileError
        Bad YAML or not a protocol; one ``file:line: key: message`` per problem.
    """
    try:
        return parse_model(text, ProtocolConfig, file=file, base_dir=base_dir, what="protocol")
    except ConfigError as exc:
        raise ProtocolFileError(exc.problems) from None


def load_protocol(path: str | Path) -> ProtocolConfig:
    """Read and validate a protocol file; relative target files start at its folder.

    Raises
    ------
    ProtocolFileError
        The file is missing, unreadable, not UTF-8 YAML or not a protocol; errors name file, line, key.
    """
    try:
        return load_model(path, ProtocolConfig, what="protocol")
    except ConfigError as exc:
        raise ProtocolFileError(exc.problems) from None
