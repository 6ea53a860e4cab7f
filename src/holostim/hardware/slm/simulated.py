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
from holostim.hardware.slm.response import LCResponse, overdrive_command, reduce_phase_change, settle_time_s

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
    tau_table : optional ``[(retardance_rad, tau_ms), ...]``: τ as a function of the commanded
        retardance (:class:`~.response.LCResponse`); ``tau_ms`` (and ``settle_ms``) then report the
        slowest τ of the table, which bounds how long a frame is still settling.
    overdrive : command, for the first frame period after each new frame, the value that brings every
        pixel exactly to its new retardance at the end of that period (Thalhammer et al. 2013), then
        the frame itself. The settle figure the laser gate waits for (:meth:`settle_time_s`) is the
        model's worst case, at least one frame period (the overdrive frame is another pattern).
    phase_change_reduction : command each pixel's 2π-equivalent gray level nearest its present state
        (only where the panel reaches beyond 2π: a linear ``two_pi_gray`` that is a whole number below
        256; a LUT spans exactly 2π, so there it changes nothing).
    **kwargs : everything :class:`SLM` takes (``clock`` included: the swap times, the stall and the
        notional refresh all read it).
    """

    def __init__(
        self,
        *args: Any,
        tau_ms: float | None = None,
        history: int = 16,
        panel_error: str | np.ndarray | None = "auto",
        tau_table: Any = None,
        overdrive: bool = False,
        phase_change_reduction: bool = False,
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
        self.response = LCResponse.of(tau, tau_table)
        if self.response.tau_table is not None:  # the slowest τ bounds "still settling" (sim camera)
            self.tau_ms = max(x for _, x in self.response.tau_table)
        self.overdrive = bool(overdrive)
        self.phase_change_reduction = bool(phase_change_reduction)
        #: What the panel was commanded, oldest first: ``(record, delay_s, uint8 frame)``, starting at
        #: ``record.t_swapped + delay_s``. With overdrive a frame is two commands (the overdrive frame at
        #: its swap, the frame itself one period later); with phase-change reduction the commanded grays
        #: are the frame's 2π-equivalents.
        self.drive: deque[tuple[FrameRecord, float, np.ndarray]] = deque(maxlen=2 * int(history))
        self._settle_cache: dict[float, float] = {}
        self._drive_dropped = False  # the oldest commands left the deque (the start is no longer gray 0)
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
        """The simulated panel of a session's ``slm`` section (``settle_tau_ms`` and ``slm.simulated``)."""
        sim = getattr(section, "simulated", None)
        extra = {} if sim is None else sim.slm_kwargs()
        return super().from_config(section, safety, **{"name": "simulated-slm", **extra, **kwargs})

    @property
    def settle_ms(self) -> float:
        """The liquid crystal's exponential settle time constant."""
        return self.tau_ms

    @property
    def frame_s(self) -> float:
        """One frame period of the panel (s): how long an overdrive frame is commanded."""
        return 1.0 / self.refresh_hz

    def settle_time_s(self, taus: float = 3.0) -> float:
        """The model's settle time: the worst case over gray-level pairs (:func:`.response.settle_time_s`).

        Without overdrive and with a constant τ this is exactly ``taus · τ`` (the base's figure).
        """
        if not self.overdrive and self.response.tau_table is None:
            return super().settle_time_s(taus)
        key = float(taus)
        if key not in self._settle_cache:
            pog = self._phase_of_gray
            self._settle_cache[key] = settle_time_s(
                self.response, pog[np.unique(self._table)], command_range=(pog[0], pog[-1]), taus=key,
                overdrive=self.overdrive, frame_s=self.frame_s, reduce=self._reduction_period() is not None,
            )
        return self._settle_cache[key]

    def _reduction_period(self) -> int | None:
        """Gray levels per 2π when phase-change reduction can work (a whole-number linear scale < 256)."""
        if not self.phase_change_reduction or self.lut is not None:
            return None
        g = self.two_pi_gray
        if abs(g - round(g)) > 1e-9 or round(g) >= 2**self.bits:
            return None
        return int(round(g))

    def _gray_of_phase(self, phase: np.ndarray) -> np.ndarray:
        """The gray level whose retardance is nearest ``phase`` (the panel's inverse gray scale)."""
        pog = self._phase_of_gray
        idx = np.clip(np.searchsorted(pog, phase), 1, pog.size - 1)
        lower = np.abs(phase - pog[idx - 1]) <= np.abs(pog[idx] - phase)
        return np.where(lower, idx - 1, idx).astype(self.gray_dtype)

    def _present(self, record: FrameRecord) -> None:
        t = self._clock()
        record.t_uploaded = t
        frame = record.frame
        with self._lock:
            while self.drive and self.drive[-1][1] > 0:  # a pending post-overdrive command is void now
                if (self.drive[-1][0].t_swapped or t) + self.drive[-1][1] <= t:
                    break
                self.drive.pop()
            if self.overdrive or self.phase_change_reduction:
                state = self._state(t, with_error=False).astype(np.float64)
                period = self._reduction_period()
                if period is not None:
                    frame = reduce_phase_change(
                        state * period / (2 * math.pi), frame.astype(np.float64), period, 2.0**self.bits - 1
                    ).astype(self.gray_dtype)
                if self.overdrive and not self.response.instantaneous:
                    pog = self._phase_of_gray
                    target = pog[frame]
                    cmd = overdrive_command(self.response, state, target, self.frame_s, pog[0], pog[-1])
                    self._command(record, 0.0, self._gray_of_phase(cmd))
                    self._command(record, self.frame_s, frame)
                else:
                    self._command(record, 0.0, frame)
            else:
                self._command(record, 0.0, frame)
            self.frames.append(record)
        self._frame_swapped(record, t)

    def _command(self, record: FrameRecord, delay_s: float, frame: np.ndarray) -> None:
        if len(self.drive) == self.drive.maxlen:
            self._drive_dropped = True
        self.drive.append((record, delay_s, frame))

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
        relaxed by the LC model (:class:`~.response.LCResponse`) over the kept commands, plus
        ``panel_error``. Before the first frame the panel sits at gray 0.
        """
        now = self._clock() if t is None else float(t)
        state = self._state(now, with_error=True)
        return np.asarray(state, dtype=np.float32)

    def _state(self, now: float, *, with_error: bool) -> np.ndarray:
        with self._lock:
            drive = [(r.t_swapped, d, f) for r, d, f in self.drive]
            cmds = [(t0 + d, f) for t0, d, f in drive if t0 is not None and t0 + d <= now]
            from_blank = not self._drive_dropped
        lut = self._phase_of_gray.astype(np.float32)
        if not cmds:
            state = np.full(self.shape, lut[0], dtype=np.float32)
        elif self.response.instantaneous:
            state = lut[cmds[-1][1]]
        else:
            resp = self.response
            tau_max = max([resp.tau_ms] + [x for _, x in (resp.tau_table or ())]) / 1e3
            # Start from the newest command that had settled (to 1e-6) before its successor came; with
            # none, from gray 0 before the very first frame (or the oldest kept command, taken as settled).
            start = None
            for k in range(len(cmds) - 1, 0, -1):
                if (cmds[k][0] - cmds[k - 1][0]) > 14 * tau_max:
                    start = k - 1
                    break
            if start is None and from_blank:
                state = np.full(self.shape, lut[0], dtype=np.float32)
                first = 0
            else:
                start = 0 if start is None else start
                state = lut[cmds[start][1]]
                first = start + 1
            for k in range(first, len(cmds)):
                t_end = cmds[k + 1][0] if k + 1 < len(cmds) else now
                target = lut[cmds[k][1]]
                dt = t_end - cmds[k][0]
                if resp.tau_table is None:
                    w = np.float32(math.exp(-dt / (resp.tau_ms / 1e3)))
                else:
                    w = np.exp(-dt / resp.tau_s(target)).astype(np.float32)
                state -= target  # s = T + (s - T) w, in place
                state *= w
                state += target
        if with_error and self.panel_error is not None:
            state = state + self.panel_error
        return state
