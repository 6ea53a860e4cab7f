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

from dataclasses import dataclass, field

import numpy as np

from holostim.safety import Verdict
from holostim.session.result import ApplyResult

__all__ = ["PreparedPattern"]


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
