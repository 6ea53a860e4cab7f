"""The simulated panel: keeps the recent frames and models the liquid crystal's settling.

The simulated rig's camera images the light this panel *actually* applies at a given moment, so a
session on the simulation sees the same phase-wrap flicker, settle time and uncorrected aberration a
real panel would give, and the interlock's faults can be produced on demand.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from holostim.hardware.slm.base import SLM, FrameRecord
from holostim.hardware.slm.errors import SLMError

__all__ = ["SimulatedSLM"]


class SimulatedSLM(SLM):
    """A software panel: keeps the recent frames and models the liquid crystal's settling.

    The phase the panel applies after a new frame at ``t_k`` relaxes exponentially from where it was
    towards the new frame's retardance, ``s(t) = T_k + (s(t_k) - T_k) · exp(-(t - t_k) / tau)``, in
    retardance (not wrapped phase): a jump from gray 250 to 5 swings the crystal through the whole range,
    as a real panel does (the "phase-wrap flicker").

    Its own wavefront error (``panel_error``, radians at the working wavelength) defaults to the
    *negative* of the configured flatness correction, so a session with the right correction file gets
    clean spots and a wrong or missing one shows the aberration. Give an array to model another panel,
    or ``None`` for a perfect one.

    Interlock: the notional window refreshes continuously while the panel is open and "visible", so the
    laser is permitted from the first displayed frame on. :meth:`set_visible` (False = hidden/covered)
    and :meth:`set_stalled` (True = the display stops swapping) model the faults; :meth:`close` turns
    the laser off for good.

    Attributes read by the simulated camera: ``frames`` (deque of the recent :class:`FrameRecord`, oldest
    first; ``t_swapped`` is the clock time each frame reached the panel), ``tau_ms``,
    :meth:`displayed_phase` and ``laser_permitted``.

    Parameters
    ----------
    tau_ms : settle time constant in ms (0: instantaneous); default the base's ``settle_tau_ms`` when that
        is given, else 10 ms. The two are one number: what the panel models is what the gate waits for.
    history : how many recent frames are kept (frames older than ~14 τ before the newest one that
        matters are irrelevant anyway).
    panel_error : "auto" (minus the flatness correction), an array (ny, nx) in radians, or None.
    **kwargs : everything :class:`SLM` takes (``clock`` included: the swap times, the stall and the
        notional refresh all read it).
    """

    def __init__(
        self,
        *args: Any,
        tau_ms: float | None = None,
        history: int = 16,
        panel_error: str | np.ndarray | None = "auto",
        **kwargs: Any,
    ):
        if tau_ms is None:
            tau_ms = kwargs.pop("settle_tau_ms", 10.0)
        else:
            kwargs.pop("settle_tau_ms", None)
        tau = float(tau_ms)
        if not (tau >= 0 and math.isfinite(tau)):
            raise SLMError(f"tau_ms={tau_ms!r} must be >= 0")
        super().__init__(*args, settle_tau_ms=tau, **kwargs)
        self.tau_ms = tau
        if int(history) < 1:
            raise SLMError(f"history={history!r} must be >= 1")
        self.frames: deque[FrameRecord] = deque(maxlen=int(history))
        self._visible = True
        self._stalled_at: float | None = None
        if isinstance(panel_error, str):
            if panel_error != "auto":
                raise SLMError(f"panel_error={panel_error!r}: use 'auto', an array or None")
            flat = self.flatness_phase()
            self.panel_error: np.ndarray | None = None if flat is None else (-flat).astype(np.float32)
        elif panel_error is None:
            self.panel_error = None
        else:
            pe = np.asarray(panel_error, dtype=np.float32)
            if pe.shape != self.shape:
                raise SLMError(f"panel_error has shape {pe.shape}, the SLM is {self.shape}")
            self.panel_error = pe

    @classmethod
    def from_config(cls, section: Any, safety: Any = None, **kwargs: Any) -> SimulatedSLM:
        """The simulated panel of a session's ``slm`` section (its settle time is ``settle_tau_ms``)."""
        return super().from_config(section, safety, **{"name": "simulated-slm", **kwargs})

    @property
    def settle_ms(self) -> float:
        """The liquid crystal's exponential settle time constant."""
        return self.tau_ms

    def _present(self, record: FrameRecord) -> None:
        t = self._clock()
        record.t_uploaded = t
        with self._lock:
            self.frames.append(record)
        self._frame_swapped(record, t)

    def _display_ok(self) -> tuple[bool, str]:
        if not self._visible:
            return False, "simulated SLM window hidden"
        return True, ""

    def _last_swap_time(self) -> float | None:
        if self._t_last_swap is None:
            return None
        if self._stalled_at is not None:
            return max(self._stalled_at, self._t_last_swap)
        return self._clock()  # the notional window keeps refreshing

    def set_visible(self, visible: bool) -> None:
        """Model the window being shown (True) or hidden/minimised/covered (False)."""
        self._visible = bool(visible)
        self._interlock_changed()

    def set_stalled(self, stalled: bool) -> None:
        """Model the display path stalling (no more swaps from now on) or recovering."""
        self._stalled_at = self._clock() if stalled else None
        self._interlock_changed()

    def displayed_phase(self, t: float | None = None) -> np.ndarray:
        """The retardance (float32 radians, (ny, nx)) the panel applies at clock time ``t`` (default now).

        Gray → phase through the inverse of the LUT (or ``two_pi_gray``) at the working wavelength,
        blended by the settle model over the kept frames, plus ``panel_error``. Before the first frame the
        panel sits at gray 0.
        """
        now = self._clock() if t is None else float(t)
        with self._lock:
            frames = [r for r in self.frames if r.t_swapped is not None and r.t_swapped <= now]
        lut = self._phase_of_gray.astype(np.float32)
        if not frames:
            state = np.full(self.shape, lut[0], dtype=np.float32)
        elif self.tau_ms <= 0:
            state = lut[frames[-1].frame]
        else:
            tau = self.tau_ms / 1e3
            # Start from the newest frame that had settled (to 1e-6) before its successor came; with
            # none, from gray 0 before the very first frame (or the oldest kept frame, taken as settled).
            start = None
            for k in range(len(frames) - 1, 0, -1):
                if (frames[k].t_swapped - frames[k - 1].t_swapped) > 14 * tau:
                    start = k - 1
                    break
            if start is None and frames[0].index == 0:
                state = np.full(self.shape, lut[0], dtype=np.float32)
                first = 0
            else:
                start = 0 if start is None else start
                state = lut[frames[start].frame]
                first = start + 1
            for k in range(first, len(frames)):
                t_end = frames[k + 1].t_swapped if k + 1 < len(frames) else now
                target = lut[frames[k].frame]
                w = np.float32(math.exp(-(t_end - frames[k].t_swapped) / tau))
                state -= target  # s = T + (s - T) w, in place
                state *= w
                state += target
        if self.panel_error is not None:
            state = state + self.panel_error
        return np.asarray(state, dtype=np.float32)
