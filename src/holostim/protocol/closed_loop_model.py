"""The ``closed_loop:`` section of a protocol file: ROIs, the readout, rules, and the duty-cycle limit.

A closed-loop protocol replaces the ``schedule`` with rules evaluated on every camera frame::

    closed_loop:
      duration_ms: 60000
      rois: {ids: [1, 2], radius_px: 6}        # discs around the session's targets (default: all)
      # rois: {file: RoiSet.zip}               # or the masks of an analysis (suite2p, CaImAn, ImageJ, NWB)
      readout: {baseline_s: 30, freeze_above: 0.1}
      duty_cycle: {max_fraction: 0.2, window_ms: 1000}
      rules:
        - name: a_drives_b
          when: {roi: 1, dff_above: 0.15}      # or {roi: 1, rise_above: 3.0} (ΔF/F per second)
          do: {show: b, duration_ms: 10}       # or {stop: true}
          refractory_ms: 200
          max_rate_hz: 5
        - name: light_the_active
          when: {roi: 2, rise_above: 3.0}
          do: {stimulate_active: {above: 0.2, max_cells: 10}, duration_ms: 10, budget_ms: 8}

A condition fires on the frame where it becomes true (a crossing, not every frame above); a rule then
waits ``refractory_ms`` before it may act again, and is **stopped** (logged, the run goes on) if its
actions would come faster than ``max_rate_hz`` over the last second, or one of its actions would put
the light above the duty-cycle limit: more than ``max_fraction`` of any ``window_ms`` with the gate open.
Every action shows its pattern through the session's one gate. ``show: P`` is a pattern of the file,
computed and judged before the run; ``stimulate_active`` is computed **live**, at the moment the rule
fires: the targets whose ROIs were above ``above`` ΔF/F in the frame that fired it (the ``max_cells``
highest), computed by the session's engine with ``budget_ms`` as its deadline and judged like any frame.
A mask ready later than ``budget_ms`` after the decision is logged as late and still shown; one later
than ``drop_after_ms`` (default twice ``budget_ms``) is not shown (outcome ``late``): the cells it was
for were active too long ago.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from holostim.config.types import ResolvedPath, Section

__all__ = ["ActionSpec", "ClosedLoopSpec", "ConditionSpec", "DutyCycleSpec", "ReadoutSpec", "RoiSpec",
           "RuleSpec", "StimulateActiveSpec"]

_CONTEXT_KEY = "protocol_patterns"
"""Where :class:`~holostim.protocol.model.ProtocolConfig` notes its pattern names while validating (the
same key as there; not imported, so this module stays below the protocol model)."""
MAX_RULES = 100
MAX_DURATION_MS = 86_400_000.0

PositiveMs = Annotated[float, Field(gt=0, le=3_600_000.0, allow_inf_nan=False)]


class RoiSpec(Section):
    """The ROIs read out: discs of ``radius_px`` around the session's targets, or an analysis's masks.

    Without ``file``: a disc around each target with these ids (default: all). With ``file`` (a
    suite2p plane folder or ``stat.npy``, a CaImAn ``.hdf5``, an ImageJ ``RoiSet.zip`` / ``.roi``, an
    NWB file; relative to the protocol file): the ROIs' own pixel masks, mapped onto the camera by
    ``registration`` (an imaging → camera registration file; none: imaging px are camera px), with ids
    ``ROI index + 1`` like the targets imported from the same file. ``source: imported``: the ROIs
    imported in the GUI (*Targets → Import ROIs…*), their outlines on the camera as the window shows them.
    The CLI and the GUI read the file (or the outlines); the run takes the masks
    (:class:`~holostim.protocol.closed_loop.run.ClosedLoopRun`'s ``masks``).
    """

    ids: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=10_000)] | None = None
    source: Literal["targets", "file", "imported"] | None = Field(
        None, description="targets (discs), file (rois.file's masks) or imported (the GUI's imported ROIs); "
        "default: file when rois.file is given, else targets")
    file: ResolvedPath | None = None
    format: Literal["suite2p", "caiman", "imagej", "nwb"] | None = None
    registration: ResolvedPath | None = None
    radius_px: Annotated[float, Field(gt=0, le=200, allow_inf_nan=False)] = 6.0
    ring_gap_px: Annotated[float, Field(ge=0, le=100)] = 2.0
    ring_px: Annotated[float, Field(gt=0, le=100)] = 6.0

    @field_validator("file", "registration")
    @classmethod
    def _exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and not value.exists():
            what = "ROI file" if info.field_name == "file" else "registration file"
            raise ValueError(f"{what} {str(value)!r} does not exist")
        return value

    @model_validator(mode="after")
    def _file_keys(self) -> RoiSpec:
        for key in ("format", "registration"):
            if getattr(self, key) is not None and self.file is None:
                raise ValueError(f"{key} is for ROIs read from a file: give file: too")
        if self.source == "file" and self.file is None:
            raise ValueError("source: file needs file: (the ROI file to read)")
        if self.source in ("targets", "imported") and self.file is not None:
            raise ValueError(f"source: {self.source} reads no file; drop file: or say source: file")
        return self

    @property
    def kind(self) -> str:
        """Where the ROIs come from: ``targets``, ``file`` or ``imported``."""
        return self.source or ("file" if self.file is not None else "targets")


class ReadoutSpec(Section):
    """ΔF/F: a slow exponential baseline (``baseline_s``), frozen while a ROI is above ``freeze_above``."""

    baseline_s: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = 30.0
    init_frames: Annotated[int, Field(ge=1, le=10_000)] = 10
    freeze_above: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.1
    neuropil_factor: Annotated[float, Field(ge=0, le=2)] = 1.0


class DutyCycleSpec(Section):
    """The most light the loop may give: ``max_fraction`` of any ``window_ms`` with the gate open."""

    max_fraction: Annotated[float, Field(gt=0, le=1)] = 0.2
    window_ms: PositiveMs = 1000.0


class ConditionSpec(Section):
    """When a rule acts: ``roi``'s ΔF/F crosses ``dff_above``, or its rise rate crosses ``rise_above``."""

    roi: Annotated[int, Field(ge=1)]
    dff_above: Annotated[float, Field(allow_inf_nan=False)] | None = None
    rise_above: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="d(ΔF/F)/dt between two frames, per second: a spike-like onset")

    @model_validator(mode="after")
    def _one_test(self) -> ConditionSpec:
        if (self.dff_above is None) == (self.rise_above is None):
            raise ValueError("give one of dff_above (a ΔF/F threshold) or rise_above (ΔF/F per second)")
        return self


class StimulateActiveSpec(Section):
    """A live action's cells: the targets whose ROIs are above ``above`` ΔF/F, the ``max_cells`` highest."""

    above: Annotated[float, Field(allow_inf_nan=False)]
    max_cells: Annotated[int, Field(ge=1, le=10_000)] = 10


class ActionSpec(Section):
    """What a rule does: show ``show`` (prepared) or the active cells (live) for ``duration_ms``, or stop."""

    show: str | None = None
    stimulate_active: StimulateActiveSpec | None = None
    duration_ms: PositiveMs | None = None
    budget_ms: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)] | None = Field(
        None, description="the live mask's deadline: the engine's budget, and late after it")
    drop_after_ms: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)] | None = Field(
        None, description="a live mask ready later than this after the decision is not shown "
        "(default: 2 × budget_ms)")
    power_mw_per_spot: Annotated[float, Field(gt=0, le=1000)] | None = None
    stop: bool = False

    @field_validator("show")
    @classmethod
    def _known_pattern(cls, value: str | None, info: ValidationInfo) -> str | None:
        names = (info.context or {}).get(_CONTEXT_KEY) if isinstance(info.context, dict) else None
        if value is not None and names is not None and value not in names:
            close = difflib.get_close_matches(value, sorted(names), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown pattern {value!r}{hint} (patterns: {', '.join(sorted(names))})")
        return value

    @model_validator(mode="after")
    def _one_action(self) -> ActionSpec:
        given = [k for k in ("show", "stimulate_active") if getattr(self, k) is not None]
        if self.stop:
            given.insert(0, "stop")
        if len(given) > 1:
            raise ValueError(f"an action does one thing: {' and '.join(given)} given together")
        if not given:
            raise ValueError("give show: PATTERN or stimulate_active: {above: ΔF/F} (with duration_ms), "
                             "or stop: true")
        live = self.stimulate_active is not None
        for key in ("budget_ms", "drop_after_ms"):
            if getattr(self, key) is not None and not live:
                why = "show: P is computed before the run" if self.show else "stop shows nothing"
                raise ValueError(f"{key} is for a mask computed live (stimulate_active); {why}")
        if self.stop:
            return self
        what = repr(self.show) if self.show is not None else "the active cells"
        if self.duration_ms is None:
            raise ValueError(f"showing {what} needs duration_ms (how long the gate stays open)")
        if live:
            if self.budget_ms is None:
                raise ValueError("stimulate_active needs budget_ms: the deadline of its live mask")
            if self.drop_after_ms is not None and self.drop_after_ms < self.budget_ms:
                raise ValueError(f"drop_after_ms = {self.drop_after_ms:g} is before budget_ms = "
                                 f"{self.budget_ms:g}; a late mask is dropped after its deadline, not before")
        return self

    @property
    def drop_after(self) -> float | None:
        """When a live mask is too late to show (ms after the decision); ``None`` for other actions."""
        if self.stimulate_active is None:
            return None
        return self.drop_after_ms if self.drop_after_ms is not None else 2.0 * float(self.budget_ms)  # type: ignore[arg-type]


class RuleSpec(Section):
    """One rule: a condition, an action, a refractory time and a maximum rate."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    when: ConditionSpec
    do: ActionSpec
    refractory_ms: Annotated[float, Field(ge=0, le=3_600_000.0)] = 100.0
    max_rate_hz: Annotated[float, Field(gt=0, le=1000)] = 10.0


class ClosedLoopSpec(Section):
    """The ``closed_loop`` section (see the module docstring)."""

    duration_ms: Annotated[float, Field(gt=0, le=MAX_DURATION_MS, allow_inf_nan=False)]
    rois: RoiSpec = RoiSpec()
    readout: ReadoutSpec = ReadoutSpec()
    duty_cycle: DutyCycleSpec = DutyCycleSpec()
    rules: Annotated[list[RuleSpec], Field(min_length=1, max_length=MAX_RULES)]

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[RuleSpec]) -> list[RuleSpec]:
        names = [r.name for r in rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names {twice} are used twice; each rule's name is its id in the log")
        return rules

    @model_validator(mode="after")
    def _rois_known(self) -> ClosedLoopSpec:
        ids = self.rois.ids
        if ids is not None:
            for k, r in enumerate(self.rules):
                if r.when.roi not in ids:
                    raise ValueError(f"rules.{k}.when.roi: ROI {r.when.roi} is not among rois.ids {ids}")
        return self

    def used_patterns(self) -> list[str]:
        """Patterns the rules show, in order."""
        return list(dict.fromkeys(r.do.show for r in self.rules if r.do.show is not None))

    def to_dict(self) -> dict[str, Any]:
        """Plain values, unset keys left out."""
        return self.model_dump(mode="python", exclude_none=True)
