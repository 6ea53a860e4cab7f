"""The log's record schema: what the header and each record carry, built from typed inputs.

An experiment is only analysable and reproducible if we know exactly what light went where and when,
so the fields are fixed here, in one place, and the writer only adds the bookkeeping (``type``,
``seq``, the frame's hash). Readers (analysis scripts, jq, pandas) rely on these names:

* the header (``"type": "header"``): format and version, holostim version, start time, machine, plus
  :func:`session_header` (the resolved session, the calibration, the compute backend, the devices);
* ``"type": "pattern"``, one per pattern shown (:func:`pattern_record`): wall-clock and monotonic
  times, targets in camera, SLM and sample coordinates, method, metrics, predicted power, the SLM frame
  index and the interlock state, plus the SHA-256 of the exact uint8 frame (:func:`frame_hash`);
* ``"type": "frame"``, one per other frame shown (:func:`frame_record`): a test pattern or a frame of
  the calibration procedure, with its ``kind``, the gate's decision and the frame's hash;
* ``"type": "laser"`` whenever the laser permit changes (:func:`laser_record`), with the reason, and
  ``"type": "interlock"`` whenever the SLM's own interlock changes (:func:`interlock_record`);
* ``"type": "refusal"`` for a target the user asked for and was refused (:func:`refusal_record`);
* ``"type": "calibration"`` when the calibration changed (:func:`calibration_record`);
* ``"type": "gate"`` for every open and close of the laser gate (the DAQ's ``gate_out``) and every
  opening that was asked for and refused (:func:`gate_record`), ``"type": "trigger"`` for every TTL edge
  the session waited for (:func:`trigger_record`);
* ``"type": "session_end"`` as the last record of a session closed in order (:func:`session_end_record`);
* a protocol run: ``"type": "protocol"`` when it starts (:func:`protocol_record`), ``"type": "step"``
  for each step (:func:`step_record`) and ``"type": "protocol_end"`` with its outcome
  (:func:`protocol_end_record`).

Every frame record (``pattern`` and ``frame``) carries ``kind`` (``pattern``, ``test_pattern``,
``calibration``), ``camera_frame_index`` (the camera's latest frame counter when the SLM swapped, so a
camera movie can be aligned with the stimulation) and ``interlock`` (whether the laser is permitted with
this frame once its record is durable, and why not).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from holostim.errors import HolostimError
from holostim.holography.metrics import METRIC_NAMES

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "EventLogError",
    "RecordTimes",
    "calibration_record",
    "frame_hash",
    "frame_record",
    "gate_record",
    "interlock_record",
    "laser_record",
    "machine_info",
    "metric",
    "now_iso",
    "pattern_record",
    "protocol_end_record",
    "protocol_record",
    "refusal_record",
    "session_end_record",
    "session_header",
    "step_record",
    "trigger_record",
]

FORMAT = "holostim-eventlog"
FORMAT_VERSION = 1


class EventLogError(HolostimError, OSError):
    """The log cannot be written, or a file is not a readable holostim log."""


def frame_hash(frame: np.ndarray) -> str:
    """``"sha256:<hex>"`` of the exact bytes of a uint8 frame (row-major), with its shape mixed in.

    The shape is part of the digest so that two frames with the same bytes but different geometry
    (1152 × 1920 versus 1920 × 1152) never compare equal. A 10/12-bit panel's uint16 frame is hashed
    as its little-endian bytes with ``u16`` mixed in (uint8 digests are unchanged).
    """
    a = np.ascontiguousarray(frame)
    if a.dtype not in (np.uint8, np.uint16):
        raise EventLogError(f"frame_hash expects a uint8 (or 10/12-bit uint16) frame, got dtype {a.dtype}")
    h = hashlib.sha256()
    h.update(("x".join(str(n) for n in a.shape) + ";").encode())
    if a.dtype == np.uint16:
        a = np.ascontiguousarray(a.astype("<u2"))
        h.update(b"u16;")
    h.update(a.data)
    return "sha256:" + h.hexdigest()


def machine_info() -> dict[str, Any]:
    """Where the run happened: host, OS, Python, CPU count."""
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def now_iso() -> str:
    """Wall-clock time with the UTC offset, microsecond resolution."""
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="microseconds")


def metric(metrics: Any, name: str) -> float | None:
    """One metric of the engine's metrics (object or mapping) as a float, or ``None`` if it has none."""
    if metrics is None:
        return None
    v = metrics.get(name) if isinstance(metrics, dict) else getattr(metrics, name, None)
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def session_header(
    *,
    session_file: Path | None,
    config: Mapping[str, Any],
    calibration: Mapping[str, Any] | None,
    backend: Any,
    slm: Mapping[str, Any],
    camera_backend: str | None,
    camera_shape: Sequence[int] | None,
    camera_name: str | None,
) -> dict[str, Any]:
    """The header fields of a session's log (the writer adds format, versions, time and machine).

    ``backend`` is the engine's backend description; ``slm`` the SLM's ``describe()``. A session opened
    without a camera (``holostim slm-check``) passes ``camera_backend=None``: its ``camera`` is ``null``.
    """
    return {
        "session_file": str(session_file) if session_file else None,
        "config": dict(config),
        "calibration": dict(calibration) if calibration is not None else None,
        "backend": backend,
        "slm": dict(slm),
        "camera": None if camera_backend is None else {
            "backend": camera_backend, "shape": list(camera_shape or ()), "name": str(camera_name)},
    }


@dataclass(frozen=True)
class RecordTimes:
    """The monotonic times of one pattern (``None`` for a stage not reached) and the wall-clock offset.

    ``wall_offset`` is added to each monotonic time to give epoch seconds; by default the offset now.
    """

    request: float
    computed: float
    uploaded: float | None = None
    swapped: float | None = None
    wall_offset: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        """Wall-clock and monotonic times, under the record's ``time`` key."""
        offset = self.wall_offset if self.wall_offset is not None else time.time() - time.monotonic()

        def w(t: float | None) -> float | None:
            return None if t is None else t + offset

        return {
            "request": w(self.request),
            "computed": w(self.computed),
            "uploaded": w(self.uploaded),
            "swapped": w(self.swapped),
            "request_mono": self.request,
            "computed_mono": self.computed,
            "uploaded_mono": self.uploaded,
            "swapped_mono": self.swapped,
        }


class _Target(Protocol):
    x: float
    y: float
    weight: float
    group: int
    id: int | None
    z_um: float


def pattern_record(
    *,
    times: RecordTimes,
    targets: Sequence[_Target],
    targets_slm: np.ndarray,
    targets_sample_um: np.ndarray,
    method: str,
    iterations: int,
    warm_start: bool,
    metrics: Any,
    compute_ms: float,
    click_to_swap_ms: float | None,
    predicted_power_mw: np.ndarray | None,
    slm_frame_index: int | None,
    laser_permitted: bool,
    interlock_reason: str,
    camera_frame_index: int | None = None,
    peak_power_mw: float | None = None,
) -> dict[str, Any]:
    """One shown pattern: when, where (camera px, SLM px, sample µm, depth), how, how well, the interlock.

    ``metrics`` is the engine's metrics object (or ``None``: no pattern computed); every name of
    :data:`~holostim.holography.metrics.METRIC_NAMES` is written, ``None`` where it has none.
    ``predicted_power_mw`` and ``peak_power_mw`` are the gate's, from the frame actually shown.
    """
    return {
        "kind": "pattern",
        "time": times.to_dict(),
        "targets": [
            {
                "id": t.id,
                "camera_px": [t.x, t.y],
                "slm_px": [float(v) for v in targets_slm[i]],
                "sample_um": [float(v) for v in targets_sample_um[i]],
                "z_um": float(getattr(t, "z_um", 0.0)),
                "weight": t.weight,
                "group": t.group,
            }
            for i, t in enumerate(targets)
        ],
        "method": method,
        "iterations": iterations,
        "warm_start": warm_start,
        "metrics": {name: metric(metrics, name) for name in METRIC_NAMES},
        "compute_ms": compute_ms,
        "click_to_swap_ms": click_to_swap_ms,
        "predicted_power_mw": None if predicted_power_mw is None else [float(p) for p in predicted_power_mw],
        "peak_power_mw": peak_power_mw,
        "slm_frame_index": slm_frame_index,
        "camera_frame_index": camera_frame_index,
        "interlock": {"laser_permitted": laser_permitted, "reason": interlock_reason},
    }


def frame_record(
    *,
    kind: str,
    name: str,
    times: RecordTimes,
    targets_slm: np.ndarray | None,
    predicted_power_mw: np.ndarray | None,
    peak_power_mw: float | None,
    laser_power_mw: float | None,
    slm_frame_index: int | None,
    camera_frame_index: int | None,
    laser_permitted: bool,
    interlock_reason: str,
) -> dict[str, Any]:
    """A frame that is not a stimulation pattern (a test pattern, a calibration step), as it was judged.

    ``name`` says which (the test pattern's name, the calibration step); the writer adds the hash.
    """
    return {
        "type": "frame",
        "kind": kind,
        "name": name,
        "time": times.to_dict(),
        "targets_slm": [] if targets_slm is None else [[float(v) for v in p] for p in targets_slm],
        "predicted_power_mw": None if predicted_power_mw is None else [float(p) for p in predicted_power_mw],
        "peak_power_mw": peak_power_mw,
        "laser_power_mw": laser_power_mw,
        "slm_frame_index": slm_frame_index,
        "camera_frame_index": camera_frame_index,
        "interlock": {"laser_permitted": laser_permitted, "reason": interlock_reason},
    }


def protocol_record(name: str, protocol: Mapping[str, Any], plan: Mapping[str, Any],
                    patterns: Mapping[str, Any], source: str | Path | None = None) -> dict[str, Any]:
    """A protocol starts: the resolved protocol, its plan (steps, seed, trigger) and its patterns."""
    return {"type": "protocol", "time": time.time(), "time_mono": time.monotonic(), "name": str(name),
            "source": None if source is None else str(source), "protocol": dict(protocol),
            "plan": dict(plan), "patterns": dict(patterns)}


def step_record(**fields: Any) -> dict[str, Any]:
    """One protocol step done: which pattern, its frame, and requested / swapped / gate times.

    The fields are the runner's (:class:`holostim.protocol.runner.StepTimes` lists them); times are
    ``time.monotonic()`` seconds, like every ``time_mono``, so they line up with the gate's records.
    """
    return {"type": "step", "time": time.time(), "time_mono": time.monotonic(), **fields}


def protocol_end_record(outcome: str, reason: str, steps_done: int, steps_total: int,
                        **more: Any) -> dict[str, Any]:
    """A protocol ended: ``completed`` or ``aborted`` with the reason, and how many steps ran."""
    return {"type": "protocol_end", "time": time.time(), "time_mono": time.monotonic(),
            "outcome": str(outcome), "reason": str(reason), "steps_done": int(steps_done),
            "steps_total": int(steps_total), **more}


def laser_record(permitted: bool, reason: str, interlock: tuple[bool, str] | None = None) -> dict[str, Any]:
    """The laser permit changed: permitted or blocked, why, and the SLM interlock's own state then."""
    rec: dict[str, Any] = {"type": "laser", "time": time.time(), "time_mono": time.monotonic(),
                           "laser_permitted": bool(permitted), "reason": str(reason)}
    if interlock is not None:
        rec["interlock"] = {"ok": bool(interlock[0]), "reason": str(interlock[1])}
    return rec


def interlock_record(ok: bool, reason: str) -> dict[str, Any]:
    """The SLM's own interlock changed (its display started or stopped showing our frames)."""
    return {"type": "interlock", "time": time.time(), "time_mono": time.monotonic(), "ok": bool(ok),
            "reason": str(reason)}


def refusal_record(x: float, y: float, reason: str, z_um: float = 0.0) -> dict[str, Any]:
    """A target the user asked for (camera px, depth µm) and was refused, with the reason shown to them."""
    return {"type": "refusal", "time": time.time(), "time_mono": time.monotonic(),
            "camera_px": [float(x), float(y)], "z_um": float(z_um), "reason": str(reason)}


def session_end_record(n_records: int, reason: str = "closed") -> dict[str, Any]:
    """The last record of a session closed in order: a log without it ended by a crash or power loss."""
    return {"type": "session_end", "time": time.time(), "time_mono": time.monotonic(),
            "records": int(n_records), "reason": str(reason)}


def calibration_record(calibration: Mapping[str, Any]) -> dict[str, Any]:
    """The record that says the calibration changed (its ``to_dict()``)."""
    return {"type": "calibration", "calibration": dict(calibration)}


def gate_record(is_open: bool, t: float, reason: str = "", *, action: str | None = None,
                frame_sha256: str | None = None, power_mw: float | None = None,
                context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The laser gate (the DAQ's ``gate_out``) changed, or was asked to open and did not.

    ``t`` is on the monotonic clock of the frame records (``time.monotonic``): an open record is written
    and made durable *before* the line opens (so ``t`` is just before the edge), a close record right
    after the line closed. ``action`` is ``open``, ``close`` or ``not_opened`` (then ``reason`` says
    why); ``frame_sha256`` is the frame the light went through, ``power_mw`` the ``power_ao`` setting
    (``None``: no analog power line, or not touched); ``context`` is the caller's (a protocol's step).
    """
    if action is None:
        action = "open" if is_open else "close"
    rec: dict[str, Any] = {"type": "gate", "time": time.time(), "t": float(t), "open": bool(is_open),
                           "action": str(action), "reason": str(reason), "frame_sha256": frame_sha256,
                           "power_mw": None if power_mw is None else float(power_mw)}
    for key, value in (context or {}).items():
        rec.setdefault(str(key), value)
    return rec


def trigger_record(t: float, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A TTL edge on the DAQ's ``trigger_in`` at ``t`` (monotonic clock, s), as the session waited for it."""
    rec: dict[str, Any] = {"type": "trigger", "time": time.time(), "t": float(t)}
    for key, value in (context or {}).items():
        rec.setdefault(str(key), value)
    return rec
