"""A pattern made ready ahead of time: computed, judged by the gate, and turned into its SLM frame.

A protocol step must cost one upload and one swap, not a compute (tens of ms) nor the gate's far field
(~14 ms at 1024² on a CPU). So before the first step the session computes each pattern, converts it to
the exact uint8 frame the panel will show, and judges *that frame* with the same gate as every other
frame. Showing it later reuses the verdict only while it is provably about the same light: the frame's
SHA-256 is checked again on every show (the record needs it anyway) and the SLM's corrections must be
those the frame was made with (the SLM counts every change of a correction or the blaze). Anything
else is refused with a line saying to prepare again.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from holostim.eventlog import frame_hash
from holostim.safety import SafetyError, Verdict
from holostim.session.errors import SessionError
from holostim.session.frame_records import pattern_maker
from holostim.session.result import ApplyResult, Target

__all__ = ["PreparedPattern", "PreparedShowing"]


@dataclass(frozen=True, eq=False)
class PreparedPattern:
    """One pattern ready to show: made by :meth:`Session.prepare_pattern`, shown by ``show_prepared``.

    Attributes
    ----------
    name : str
        The protocol's name for it (in the log's records).
    result : ApplyResult
        The computed pattern (targets, phase, metrics, compute time); each show copies it.
    frame : ndarray of uint8, read-only
        The exact frame the SLM will show.
    frame_sha256 : str
        Its hash, as the log writes it.
    verdict : Verdict
        The gate's verdict on ``frame`` (predicted power per spot at ``safety.laser_power_mw``).
    """

    name: str
    result: ApplyResult
    frame: np.ndarray
    frame_sha256: str
    verdict: Verdict
    corrections_version: int = field(repr=False)
    session_id: int = field(repr=False, default=0)

    @property
    def n_spots(self) -> int:
        """How many targets the pattern lights."""
        return len(self.result.targets)

    @property
    def spot_fraction(self) -> np.ndarray | None:
        """Fraction of the laser power the gate predicts at each spot (``None`` without a laser power)."""
        p = self.verdict.predicted_power_mw
        if p is None or not self.verdict.laser_power_mw:
            return None
        return np.asarray(p, dtype=float) / float(self.verdict.laser_power_mw)


class PreparedShowing:
    """The session's methods for prepared patterns.

    A part of :class:`~holostim.session.Session`, kept apart like :mod:`~holostim.session.gate_wiring`
    so the session's click → SLM loop stays one readable file.
    """

    slm: Any
    safety: Any
    _lock: Any
    _reshow: Any

    def prepare_pattern(self, targets: Sequence[Target], name: str, *,
                        budget_ms: float | None = None) -> PreparedPattern:
        """Compute a pattern, make its SLM frame and judge that frame now, to show it later at once.

        For protocols: each step then costs one upload and swap (:meth:`show_prepared`). Raises what
        :meth:`apply` raises for a refused target set or a pattern over a limit; nothing is shown.
        ``budget_ms``: the engine's deadline for this pattern (``None``: ``engine.budget_ms``), for a
        mask computed at the moment it is needed (a closed loop's live action).
        """
        with self._lock:
            result = self._compute_locked(targets, None, judge=False, budget_ms=budget_ms)
            gray = self.slm.phase_to_gray(result.phase)
            frame = np.array(gray.get() if hasattr(gray, "get") else gray,
                             dtype=getattr(self.slm, "gray_dtype", np.uint8), copy=True)
            frame.flags.writeable = False
            verdict = self.safety.decide("pattern", self._shown_phase(frame), result.spots_slm)
            result.predicted_power_mw = verdict.predicted_power_mw
            result.frame = frame
            return PreparedPattern(str(name), result, frame, frame_hash(frame), verdict,
                                   self.slm.corrections_version, id(self))

    def prepare_frame(self, frame: np.ndarray, targets: Sequence[Target], targets_slm: np.ndarray, name: str,
                      *, metrics: Any = None, method: str = "library",
                      iterations: int = 0) -> PreparedPattern:
        """Judge a frame made elsewhere (a mask library's) for these targets, to show it later at once.

        The same checks as :meth:`prepare_pattern` on the frame itself: the targets pass the session's
        target rules, and the gate's verdict is computed from the light this very frame shows (its gray
        levels through the SLM's retardance, minus the corrections), never from what its maker claimed.
        Shown by :meth:`show_prepared` like any prepared pattern.
        """
        with self._lock:
            self._check_open()
            targets = self._check_targets(targets)
            want = np.dtype(getattr(self.slm, "gray_dtype", np.uint8))
            if np.asarray(frame).dtype != want:  # never a silent cast: a 10-bit frame is not 8-bit levels
                raise SessionError(f"pattern {name!r}: frame of {np.asarray(frame).dtype} gray levels; this "
                                   f"SLM shows {want} frames")
            frame = np.array(frame, dtype=want, copy=True)
            if frame.shape != tuple(self.slm.shape):
                raise SessionError(f"pattern {name!r}: frame {frame.shape} is not the SLM's "
                                   f"{tuple(self.slm.shape)}")
            frame.flags.writeable = False
            xy_slm = np.asarray(targets_slm, dtype=np.float64).reshape(-1, 2)
            shown = self._shown_phase(frame)
            # The frame's spots are where the engine put them: the targets' depths through the depth map.
            z = self.engine_depths([float(getattr(t, "z_um", 0.0)) for t in targets])
            spots = np.column_stack([xy_slm, z if len(z) == len(xy_slm) else np.zeros(len(xy_slm))])
            verdict = self.safety.decide("pattern", shown, spots)  # each spot at its own depth too
            t = time.monotonic()
            phase = np.mod(shown, 2 * np.pi).astype(np.float32)
            result = ApplyResult(targets=list(targets), targets_slm=xy_slm, phase=phase, metrics=metrics,
                                 timings=None, iterations=int(iterations), method=str(method), t_request=t,
                                 t_computed=t, predicted_power_mw=verdict.predicted_power_mw, frame=frame,
                                 depths_engine_um=spots[:, 2].copy())
            return PreparedPattern(str(name), result, frame, frame_hash(frame), verdict,
                                   self.slm.corrections_version, id(self))

    def show_prepared(self, pattern: PreparedPattern, *, request_time: float | None = None) -> ApplyResult:
        """Show a prepared pattern through the gate, logged as a ``pattern`` record; returns this showing.

        The gate's verdict is reused only for the same light: a pattern of this session, whose frame still
        has the hash it was judged with, on an SLM whose corrections are those it was made with. The
        session's target set (the GUI's) is left as it is.

        Raises
        ------
        SessionError
            The pattern belongs to another session, or the SLM's corrections changed since it was made.
        SafetyError
            Its frame was changed after it was judged.
        """
        with self._lock:
            self._check_open()
            if pattern.session_id != id(self):
                raise SessionError(f"pattern {pattern.name!r} was prepared by another session")
            if self.slm.corrections_version != pattern.corrections_version:
                raise SessionError(f"the SLM's corrections changed since pattern {pattern.name!r} was "
                                   "prepared: prepare it again")
            if frame_hash(pattern.frame) != pattern.frame_sha256:
                raise SafetyError(f"the frame of pattern {pattern.name!r} changed after the gate judged it")
            t = time.monotonic() if request_time is None else float(request_time)
            result = dataclasses.replace(pattern.result, t_request=t, record=None, t_swapped=None,
                                         frame_record=None)
            make = pattern_maker(result, self.geometry.slm_to_sample_um)
            rec, _, record = self._show_frame("pattern", make, gray=pattern.frame,
                                              targets_slm=result.targets_slm, judged=pattern)
            result.frame_record, result.record = rec, record
            self._reshow = lambda: self.show_prepared(pattern)
            return result
