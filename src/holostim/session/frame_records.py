"""The log record of each frame the session shows, built once the frame is on the SLM.

Every frame's record says what the gate decided for it (its ``verdict``: predicted power, peak power,
light allowed or why not), when it reached the panel, and which camera frame was current then; the
session's one show path (``Session._show_frame``) calls a *maker* with those facts, and the maker
adds what only its kind knows (a pattern's targets and metrics, a test pattern's name, a calibration
step's spots).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from holostim.eventlog.records import RecordTimes, frame_record, pattern_record
from holostim.hardware.slm import FrameRecord
from holostim.safety import Verdict
from holostim.session.result import ApplyResult

__all__ = ["MakeRecord", "other_frame_maker", "pattern_maker"]

#: ``make(frame_record, verdict, camera_frame_index, laser_permitted, reason) -> record``.
MakeRecord = Callable[[FrameRecord, Verdict, "int | None", bool, str], dict]


def pattern_maker(result: ApplyResult, sample_um: Callable[[np.ndarray], np.ndarray]) -> MakeRecord:
    """The maker of a stimulation pattern's record; it also gives ``result`` the gate's power and swap.

    ``sample_um`` maps SLM Fourier pixels to sample µm (the session's geometry now).
    """

    def make(rec: FrameRecord, verdict: Verdict, camera_index: int | None, permitted: bool,
             reason: str) -> dict:
        result.predicted_power_mw = verdict.predicted_power_mw
        result.t_swapped = rec.t_swapped
        record = pattern_record(
            times=RecordTimes(request=result.t_request, computed=result.t_computed,
                              uploaded=rec.t_uploaded, swapped=rec.t_swapped, wall_offset=rec.wall_offset),
            targets=result.targets,
            targets_slm=result.targets_slm,
            targets_sample_um=sample_um(result.targets_slm),
            method=result.method,
            iterations=result.iterations,
            warm_start=result.warm_started,
            metrics=result.metrics,
            compute_ms=result.compute_ms,
            click_to_swap_ms=result.click_to_swap_ms,
            predicted_power_mw=verdict.predicted_power_mw,
            peak_power_mw=verdict.peak_power_mw,
            slm_frame_index=rec.index,
            camera_frame_index=camera_index,
            laser_permitted=permitted,
            interlock_reason=reason,
        )
        # the modelled diffraction efficiency per spot: predicted_power_mw already includes it
        eff = result.efficiency
        record["spot_efficiency"] = None if eff is None else [round(float(e), 5) for e in eff]
        return record

    return make


def other_frame_maker(kind: str, name: str, spots: np.ndarray | None) -> MakeRecord:
    """The maker of a test pattern's or a calibration frame's record (``name``: which one)."""

    def make(rec: FrameRecord, verdict: Verdict, camera_index: int | None, permitted: bool,
             reason: str) -> dict:
        return frame_record(
            kind=kind, name=name,
            times=RecordTimes(request=rec.t_request, computed=rec.t_loaded or rec.t_request,
                              uploaded=rec.t_uploaded, swapped=rec.t_swapped, wall_offset=rec.wall_offset),
            targets_slm=spots, predicted_power_mw=verdict.predicted_power_mw,
            peak_power_mw=verdict.peak_power_mw, laser_power_mw=verdict.laser_power_mw,
            slm_frame_index=rec.index, camera_frame_index=camera_index,
            laser_permitted=permitted, interlock_reason=reason,
        )

    return make
