"""When the engine may start from its previous phase, and when such a start must be thrown away.

Starting the iterations from the last phase makes a small move of the targets converge in a fraction
of the iterations — the GUI's drag feels live. It is only a good start when no spot moved far, and a
degenerate start (e.g. a grating whose far field is dark where the moved spot now is) could converge
to a poor pattern, so a warm start that ends far less efficient than the pattern it started from is
computed again from scratch: such a pattern can never reach the SLM.
"""

from __future__ import annotations

import numpy as np

__all__ = ["WarmStart"]


class WarmStart:
    """What the engine computed last (SLM spot positions, efficiency) and the warm-start rules.

    Parameters
    ----------
    enabled : bool
        ``engine.warm_start`` of the session.
    max_shift_px : float
        ``engine.warm_start_max_shift_px``: no spot may have moved further (SLM Fourier pixels).
    """

    def __init__(self, enabled: bool, max_shift_px: float):
        self.enabled = bool(enabled)
        self.max_shift_px = float(max_shift_px)
        self._last: tuple[np.ndarray, float | None] | None = None

    def ok(self, xy_slm: np.ndarray) -> bool:
        """Warm start when no spot moved more than ``max_shift_px`` since the engine's last pattern.

        Compared with what the engine computed last (previews included), because that is where it starts.
        """
        if not self.enabled or self._last is None or len(xy_slm) == 0:
            return False
        last_xy = self._last[0]
        if last_xy.shape != xy_slm.shape:
            return False
        shift = np.max(np.hypot(*(xy_slm - last_xy).T))
        return bool(shift <= self.max_shift_px)

    def failed(self, efficiency: float | None) -> bool:
        """A warm start that ended below half the efficiency of the pattern it started from."""
        last_eff = self._last[1] if self._last is not None else None
        if efficiency is None or last_eff is None or not np.isfinite(efficiency):
            return False
        return efficiency < 0.5 * last_eff

    def remember(self, xy_slm: np.ndarray, efficiency: float | None) -> None:
        """The engine now holds this pattern."""
        self._last = (xy_slm, efficiency)

    def forget(self) -> None:
        """The engine holds no pattern of ours (e.g. a calibration grid): the next start is cold."""
        self._last = None
