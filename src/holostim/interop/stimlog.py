"""What light went where and when, read from a holostim event log: patterns, targets and presentations.

The NWB export (and any analysis) needs the stimulation as a table, not as a stream of records. This
module turns the log's records into that table and nothing more (no pynwb here):

* **patterns** — a protocol's patterns (the ``protocol`` record: name, targets, frame hash), or, for an
  interactive session, each distinct pattern frame the gate opened on (``pattern-<seq>``, after the
  ``pattern`` record that showed it). Targets keep their id, camera px and, where the calibration gave
  it, sample µm (the ``pattern`` record of the same frame hash says where each target landed);
* **presentations** — one per time the light went through a pattern: a protocol ``step`` whose gate
  opened (swap, gate open and gate close times), or an interactive gate ``open``/``close`` pair on a
  pattern frame. A step whose gate never opened delivered no light and is counted, not presented.

Times in the log are ``time.monotonic()`` seconds; here they become seconds since the log's start
(the header's ``started``), NWB's ``session_start_time``, through the wall-clock offset the log's own
records carry (each record with ``time`` and ``time_mono``: the median of their differences).
"""

from __future__ import annotations

import datetime as _dt
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from holostim.eventlog import read
from holostim.interop.errors import InteropError

__all__ = ["Presentation", "StimPattern", "StimTarget", "Stimulation", "read_stimulation"]


@dataclass(frozen=True)
class StimTarget:
    """One spot of a pattern: ``xy`` in ``unit`` (``"um"``: sample µm; ``"camera_px"`` without them)."""

    id: int | None
    camera_px: tuple[float, float]
    sample_um: tuple[float, ...] | None
    weight: float
    group: int


@dataclass(frozen=True)
class StimPattern:
    """A set of spots shown as one SLM frame."""

    name: str
    frame_sha256: str | None
    targets: tuple[StimTarget, ...]


@dataclass(frozen=True)
class Presentation:
    """The light through one pattern: times in seconds since the log's start."""

    pattern: str
    start: float  # gate open
    stop: float  # gate close (the log's end where it never closed: a crash)
    swap: float | None
    step: int | None
    trial: int | None
    power_mw_per_spot: tuple[float, ...] | None  # the gate's prediction from the frame shown, per target
    requested_mw_per_spot: float | None
    frame_sha256: str | None


@dataclass(frozen=True)
class Stimulation:
    """A log's stimulation: header facts, patterns by name, presentations in time order."""

    source: Path
    started: _dt.datetime
    header: dict[str, Any]
    calibration: dict[str, Any] | None
    protocol: dict[str, Any] | None
    outcome: dict[str, Any] | None
    patterns: dict[str, StimPattern]
    presentations: tuple[Presentation, ...]
    steps_without_light: int

    @property
    def config(self) -> dict[str, Any]:
        """The resolved session the log was written under."""
        return dict(self.header.get("config") or {})


def read_stimulation(path: str | Path) -> Stimulation:
    """The stimulation in the log at ``path`` (its records in order; see the module docstring)."""
    p = Path(path)
    contents = read(p)
    header = dict(contents.header)
    try:
        started = _dt.datetime.fromisoformat(str(header["started"]))
    except (KeyError, ValueError):
        raise InteropError(f"{p}: the log's header has no valid 'started' time") from None
    records = list(contents.records)
    offsets = [r["time"] - r["time_mono"] for r in records
               if isinstance(r.get("time"), (int, float)) and isinstance(r.get("time_mono"), (int, float))]
    if not offsets:
        raise InteropError(f"{p}: no record carries both wall-clock and monotonic times")
    t0 = started.timestamp() - statistics.median(offsets)  # monotonic time of the log's start

    calibration = header.get("calibration")
    protocol = outcome = None
    shown: dict[str, dict[str, Any]] = {}  # frame hash -> its latest pattern record
    patterns: dict[str, StimPattern] = {}
    presentations: list[Presentation] = []
    dark_steps = 0
    open_gate: dict[str, Any] | None = None
    last_t = 0.0
    for r in records:
        kind = r.get("type")
        last_t = max(last_t, float(r.get("time_mono", r.get("t", 0.0)) or 0.0))
        if kind == "calibration":
            calibration = r.get("calibration")
        elif kind == "pattern" and r.get("frame_hash") and r.get("targets"):
            shown[r["frame_hash"]] = r
        elif kind == "protocol":
            protocol = r
            for name, pat in (r.get("patterns") or {}).items():
                patterns[str(name)] = StimPattern(str(name), pat.get("frame_sha256"),
                                                  tuple(_target(t) for t in pat.get("targets", [])))
        elif kind == "protocol_end":
            outcome = r
        elif kind == "step":
            if r.get("t_gate_open") is None:
                dark_steps += 1
                continue
            close = r.get("t_gate_close")
            presentations.append(Presentation(
                pattern=str(r["pattern"]), start=r["t_gate_open"] - t0,
                stop=(close if close is not None else last_t) - t0,
                swap=None if r.get("t_swapped") is None else r["t_swapped"] - t0,
                step=int(r["index"]), trial=int(r["trial"]),
                power_mw_per_spot=None if r.get("predicted_power_mw") is None
                else tuple(float(v) for v in r["predicted_power_mw"]),
                requested_mw_per_spot=r.get("power_mw_per_spot"), frame_sha256=r.get("frame_sha256")))
        elif kind == "gate" and "step" not in r and r.get("action") in ("open", "close"):
            if r["action"] == "open" and r.get("frame_sha256") in shown:
                open_gate = r
            elif r["action"] == "close" and open_gate is not None:
                presentations.append(_interactive(open_gate, r["t"], shown, patterns, t0))
                open_gate = None
    if open_gate is not None:  # the log ended with the light on (a crash): up to its last record
        presentations.append(_interactive(open_gate, last_t, shown, patterns, t0))
    patterns = {n: _with_sample_um(pat, shown) for n, pat in patterns.items()}
    return Stimulation(source=p, started=started, header=header, calibration=calibration, protocol=protocol,
                       outcome=outcome, patterns=patterns,
                       presentations=tuple(sorted(presentations, key=lambda q: q.start)),
                       steps_without_light=dark_steps)


def _target(t: dict[str, Any]) -> StimTarget:
    return StimTarget(id=t.get("id"), camera_px=(float(t["camera_px"][0]), float(t["camera_px"][1])),
                      sample_um=_sample_um(t), weight=float(t.get("weight", 1.0)),
                      group=int(t.get("group", 0)))


def _sample_um(t: dict[str, Any]) -> tuple[float, ...] | None:
    """A log target's sample position: ``(x, y, z)`` µm, the depth from its ``z_um`` (0 in older logs)."""
    um = t.get("sample_um")
    if not um:
        return None
    xyz = tuple(float(v) for v in um)
    return xyz + (float(t.get("z_um") or 0.0),) if len(xyz) == 2 else xyz


def _with_sample_um(pat: StimPattern, shown: dict[str, dict[str, Any]]) -> StimPattern:
    """A protocol pattern's targets with the sample µm of the ``pattern`` record that showed its frame."""
    rec = shown.get(pat.frame_sha256 or "")
    if rec is None or all(t.sample_um is not None for t in pat.targets):
        return pat
    by_id = {t.get("id"): t for t in rec["targets"]}
    targets = []
    for t in pat.targets:
        um = _sample_um(by_id.get(t.id) or {})
        targets.append(t if not um else StimTarget(t.id, t.camera_px, tuple(float(v) for v in um),
                                                   t.weight, t.group))
    return StimPattern(pat.name, pat.frame_sha256, tuple(targets))


def _interactive(gate: dict[str, Any], t_close: float, shown: dict[str, dict[str, Any]],
                 patterns: dict[str, StimPattern], t0: float) -> Presentation:
    rec = shown[gate["frame_sha256"]]
    name = f"pattern-{rec['seq']}"
    if name not in patterns:
        patterns[name] = StimPattern(name, rec["frame_hash"], tuple(_target(t) for t in rec["targets"]))
    swap = (rec.get("time") or {}).get("swapped_mono")
    power = rec.get("predicted_power_mw")
    return Presentation(pattern=name, start=gate["t"] - t0, stop=t_close - t0,
                        swap=None if swap is None else swap - t0, step=None, trial=None,
                        power_mw_per_spot=None if power is None else tuple(float(v) for v in power),
                        requested_mw_per_spot=None, frame_sha256=gate["frame_sha256"])
