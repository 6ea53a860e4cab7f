"""The one gate every frame passes on its way to the SLM, and the laser permit that follows from it.

A rig cannot trust a "laser permitted" banner unless every frame that reaches the SLM was judged by the
same rules, from what is really shown. So the session shows every frame (stimulation patterns, test
patterns, calibration spots, the flat phase of "no targets") through :meth:`SafetyGate.decide`, and the
laser permit is kept here too, by :class:`LaserPermit`:

1. :meth:`SafetyGate.check_targets` before anything is computed: the spot count, each weight, each
   target's place (no calibration, outside the SLM's field, in the zero order — the geometry says why)
   and its depth (``safety.max_depth_um``, and the optics' own reach where the caller gives it);
2. :meth:`SafetyGate.decide` once the frame exists, before it is displayed: the predicted power is
   computed from the phase the frame really puts on the panel (its far field, not the engine's claimed
   metrics, which a caller could have swapped for another phase), at each target and at the brightest
   spot anywhere in the field (light where no target is counts too). A stimulation pattern over a limit
   is refused (:class:`SafetyError`, nothing shown); any other frame is shown with the laser blocked and
   the reason — "no targets", a test pattern, a calibration spot above the limits, no laser power stated;
3. :class:`LaserPermit` combines that verdict with the rest: light is permitted only while the SLM's
   interlock says its display shows our frames, the last frame passed the gate with light allowed, and
   that frame's log record was made durable. Anything that goes wrong blocks the laser with a reason;
4. :class:`DutyCycleLimit`, the rig's duty-cycle limit (``safety.max_duty_cycle`` of any
   ``safety.duty_window_ms``): the laser gate (:mod:`holostim.session.laser_gate`, the one place the
   line opens) asks it before every opening and keeps its ledger of open intervals; while the limit is
   reached the permit is off with the reason (:meth:`LaserPermit.duty`).

The power model: the laser power (``safety.laser_power_mw``, or ``calibration.laser_power_mw`` for
calibration frames) is spread over the far field of the shown phase; a spot's power is the light within
one SLM Fourier pixel of it (a 3 × 3 pixel box, scaled by the padding), which holds a spot wherever it
falls between pixels. Unknown laser power means unknown power at the sample, so the laser is never
permitted then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from holostim.errors import HolostimError

if TYPE_CHECKING:
    from holostim.backend.fft import FFTPlan

__all__ = [
    "FRAME_KINDS",
    "DutyCycleLimit",
    "Interlocked",
    "LaserPermit",
    "SafetyError",
    "SafetyGate",
    "SafetyLimits",
    "TargetRefused",
    "Verdict",
    "far_field_intensity",
]

#: What a frame on the SLM can be: a stimulation pattern (a flat phase when there are no targets), a
#: test pattern (gray levels for checking the panel), or a frame of the calibration procedure.
FRAME_KINDS = ("pattern", "test_pattern", "calibration")

NOT_SET = "safety.laser_power_mw not set"


class TargetRefused(HolostimError, ValueError):
    """A target that cannot be stimulated: outside the SLM's field, in the zero order, no calibration."""


class SafetyError(HolostimError, ValueError):
    """A pattern that would break a safety limit (spot count, power per spot, total power)."""


class SafetyLimits(Protocol):
    """The limits the gate reads (the session file's ``safety`` section)."""

    max_spots: int
    laser_power_mw: float | None
    max_power_per_spot_mw: float
    max_total_power_mw: float
    test_patterns_with_laser: bool
    max_duty_cycle: float | None
    duty_window_ms: float
    # also read, where the limits have it: max_depth_um (float; absent = no depth limit of its own)


class _Spot(Protocol):
    x: float
    y: float
    weight: float


class Interlocked(Protocol):
    """An SLM's interlock: ``(permitted, reason)``, the reason saying why light is not allowed."""

    def interlock_state(self) -> tuple[bool, str]: ...  # noqa: D102


def far_field_intensity(phase: np.ndarray, amplitude: np.ndarray | None = None,
                        padding: int = 1, plan: FFTPlan | None = None) -> np.ndarray:
    """Focal-plane intensity of ``amplitude · exp(i phase)`` (zero order at N//2; sums to 1).

    The engine's Fourier model (:meth:`~holostim.holography.HologramEngine.far_field`: its unit-power
    source amplitude, its padding ``p``, on a ``p`` times larger grid), computed for the gate in single
    precision: where the SLM field sits in the grid only changes the far field's phase, not its
    intensity, so no shift of the input is needed. ``amplitude`` ``None``: flat. ``plan``: a planned
    complex64 FFT of the padded shape (the session keeps one, so the gate costs one planned transform
    per frame); without it scipy's FFT is used.
    """
    ph = np.asarray(phase, dtype=np.float32)
    ny, nx = ph.shape
    p = int(padding)
    if plan is not None:
        if tuple(plan.shape) != (p * ny, p * nx) or plan.buffer.dtype != np.complex64:
            raise ValueError(f"plan of shape {tuple(plan.shape)} for a {p * ny}x{p * nx} complex64 far field")
        u = plan.buffer
        u[...] = 0
    else:
        u = np.zeros((p * ny, p * nx), np.complex64)
    view = u[:ny, :nx]
    np.cos(ph, out=view.real)
    np.sin(ph, out=view.imag)
    if amplitude is None:
        view *= np.float32(1.0 / np.sqrt(ny * nx))
    else:
        view *= np.asarray(amplitude, dtype=np.float32)
    if plan is not None:
        f = plan.forward()
    else:
        import scipy.fft

        from holostim.backend.backend import default_threads

        f = scipy.fft.fft2(u, overwrite_x=True, workers=default_threads())
    intensity = np.square(f.real) + np.square(f.imag)
    intensity /= np.float32(u.size)
    return np.fft.fftshift(intensity)


@dataclass(frozen=True)
class Verdict:
    """What the gate decided for one frame.

    Attributes
    ----------
    kind : one of :data:`FRAME_KINDS`.
    light : whether the laser may see this frame (the permit also needs the interlock and the log).
    reason : why not ("" when ``light``).
    predicted_power_mw : power at each target (mW), from the shown phase; ``None`` when not computed.
    peak_power_mw : the brightest spot anywhere in the field (mW); ``None`` when not computed.
    laser_power_mw : the laser power the prediction assumed (``None``: not stated).
    """

    kind: str
    light: bool
    reason: str
    predicted_power_mw: np.ndarray | None = None
    peak_power_mw: float | None = None
    laser_power_mw: float | None = None


class SafetyGate:
    """The limits of one session, applied to every frame (see the module docstring).

    Parameters
    ----------
    limits : SafetyConfig
        ``max_spots``, ``laser_power_mw`` (``None``: not stated, the laser is never permitted),
        ``max_power_per_spot_mw``, ``max_total_power_mw``, ``test_patterns_with_laser``.
    far_field : callable, optional
        ``far_field(phase) -> intensity``: the focal-plane intensity (summing to at most 1) of an SLM
        phase in the engine's coordinates, on a grid ``p`` times the SLM's (padding ``p``). Default
        :func:`far_field_intensity` of a flat beam; a session passes its engine's beam profile and padding.
    spot_power : callable, optional
        ``spot_power(phase, spots) -> (N,)``: the fraction of the light each spot ``(x, y, z)`` gets,
        evaluated at the spot's own position and depth (the direct sum's projection). The Fourier-plane
        box of ``far_field`` sees only part of a spot between grid pixels or at another depth (its light
        is spread there), so where this is given each spot is judged by the larger of the two.
    """

    def __init__(self, limits: SafetyLimits, far_field: Callable[[np.ndarray], np.ndarray] | None = None,
                 spot_power: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None):
        self.limits = limits
        self.far_field = far_field or far_field_intensity
        self.spot_power = spot_power

    def check_targets(self, targets: Sequence[_Spot], refusal: Callable[[float, float], str | None],
                      depth_refusal: Callable[[float], str | None] | None = None) -> None:
        """Raise unless every target may be stimulated; ``refusal(x, y)`` says why one may not.

        Each target's depth (``z_um``, 0 where it has none) is judged by :meth:`depth_refusal` and, where
        given, by ``depth_refusal(z)`` (the optics' reach, which the session knows and the gate does not).

        Raises
        ------
        SafetyError
            More spots than ``max_spots``.
        TargetRefused
            A weight that is not a positive number, or a target ``refusal`` objects to (1-based index).
        """
        limits = self.limits
        if len(targets) > limits.max_spots:
            raise SafetyError(
                f"{len(targets)} spots exceed safety.max_spots = {limits.max_spots}; remove spots or raise "
                "the limit in the session file"
            )
        for i, t in enumerate(targets):
            if not (np.isfinite(t.weight) and t.weight > 0):
                raise TargetRefused(f"target {i + 1} has weight {t.weight!r}; weights must be positive")
            reason = refusal(t.x, t.y)
            if reason is None:
                z = float(getattr(t, "z_um", 0.0))
                reason = self.depth_refusal(z)
                if reason is None and depth_refusal is not None:
                    reason = depth_refusal(z)
            if reason is not None:
                raise TargetRefused(f"target {i + 1} refused: {reason}")

    def depth_refusal(self, z_um: float) -> str | None:
        """Why a spot at depth ``z_um`` (sample µm from the focal plane) breaks ``safety.max_depth_um``."""
        if not np.isfinite(z_um):
            return f"depth z = {z_um!r} µm is not a finite number"
        limit = getattr(self.limits, "max_depth_um", None)
        if limit is not None and abs(z_um) > float(limit):
            return (f"depth z = {z_um:+g} µm is beyond safety.max_depth_um = {float(limit):g} µm (|z| from "
                    "the focal plane); choose a shallower plane or raise the limit in the session file")
        return None

    # ----------------------------------------------------------------------------------- the power
    def spot_fractions(self, phase: np.ndarray, targets_slm: np.ndarray | None) -> tuple[np.ndarray, float,
                                                                                      tuple[float, float]]:
        """Fractions of the light at each target and in the brightest spot anywhere, from ``phase``.

        Returns ``(at_targets (N,), peak, peak_xy)``: ``peak_xy`` is where the brightest spot is, in SLM
        Fourier pixels ``(x, y)``. A spot's light is the light in a box of ±1 SLM pixel around it, or
        (where ``spot_power`` is given and says more) the light at its own sub-pixel position and depth.
        ``targets_slm``: ``(N, 2)`` Fourier pixels, or ``(N, 3)`` with each spot's depth (sample µm).
        """
        phase = np.asarray(phase)
        ny, nx = phase.shape
        intensity = np.asarray(self.far_field(phase))
        big_y, big_x = intensity.shape
        p = max(1, big_y // ny)
        box = _box_sums(intensity, p)  # box[i, j]: light within ±p grid px of grid pixel (i, j)
        i, j = np.unravel_index(int(np.argmax(box)), box.shape)
        peak = float(box[i, j])
        # name the brightest pixel of the brightest box (neighbouring boxes tie around one bright pixel)
        win = intensity[max(0, i - p): i + p + 1, max(0, j - p): j + p + 1]
        di, dj = np.unravel_index(int(np.argmax(win)), win.shape)
        i, j = max(0, i - p) + di, max(0, j - p) + dj
        peak_xy = (nx // 2 + (j - big_x // 2) / p, ny // 2 + (i - big_y // 2) / p)
        spots = _spots(targets_slm)
        xy = spots[:, :2]
        iy = np.clip(np.floor(big_y // 2 + p * (xy[:, 1] - ny // 2) + 0.5).astype(int), 0, big_y - 1)
        ix = np.clip(np.floor(big_x // 2 + p * (xy[:, 0] - nx // 2) + 0.5).astype(int), 0, big_x - 1)
        at = box[iy, ix].astype(np.float64)
        if self.spot_power is not None and len(spots):
            own = np.asarray(self.spot_power(phase, spots), dtype=np.float64).reshape(-1)
            at = np.maximum(at, own)
            k = int(np.argmax(own))
            if own[k] > peak:  # a focus off the Fourier grid or at another depth is the brightest spot
                peak, peak_xy = float(own[k]), (float(xy[k, 0]), float(xy[k, 1]))
        return at, peak, (float(peak_xy[0]), float(peak_xy[1]))

    def _over_limit(self, at_targets_mw: np.ndarray, peak_mw: float, peak_xy: tuple[float, float],
                    power_key: str) -> str | None:
        """Why these powers break a limit, or ``None``."""
        limits = self.limits
        total = float(at_targets_mw.sum())
        if total > limits.max_total_power_mw:
            return (f"predicted total power {total:.1f} mW exceeds safety.max_total_power_mw = "
                    f"{limits.max_total_power_mw:g} mW; lower {power_key} or stimulate fewer spots")
        if len(at_targets_mw) and float(at_targets_mw.max()) > limits.max_power_per_spot_mw:
            k = int(np.argmax(at_targets_mw))
            return (f"predicted power {at_targets_mw[k]:.1f} mW on spot {k + 1} exceeds "
                    f"safety.max_power_per_spot_mw = {limits.max_power_per_spot_mw:g} mW; spread the power "
                    f"over more spots or lower {power_key}")
        if peak_mw > limits.max_power_per_spot_mw:
            return (f"predicted power {peak_mw:.1f} mW in one spot at Fourier pixel ({peak_xy[0]:.0f}, "
                    f"{peak_xy[1]:.0f}) exceeds safety.max_power_per_spot_mw = "
                    f"{limits.max_power_per_spot_mw:g} mW (light where no target is); lower {power_key}")
        return None

    # ----------------------------------------------------------------------------------- the verdict
    def decide(self, kind: str, phase: np.ndarray, targets_slm: np.ndarray | None = None, *,
               calibration_power_mw: float | None = None) -> Verdict:
        """Judge one frame from the phase it shows (engine coordinates); raise if it must not be shown.

        ``pattern``: no targets → shown, laser blocked ("no targets"); otherwise the predicted power at
        ``safety.laser_power_mw`` must be within the limits, or :class:`SafetyError` refuses it.
        ``test_pattern``: laser blocked unless ``safety.test_patterns_with_laser``, and then only within
        the limits. ``calibration``: judged at ``calibration_power_mw`` (the session's
        ``calibration.laser_power_mw``); not stated or over a limit → shown, laser blocked, with why.
        """
        if kind not in FRAME_KINDS:
            raise SafetyError(f"unknown frame kind {kind!r}; use one of {', '.join(FRAME_KINDS)}")
        n = len(_spots(targets_slm))
        if kind == "pattern" and n == 0:
            return Verdict(kind, False, "no targets")
        if kind == "test_pattern" and not self.limits.test_patterns_with_laser:
            return Verdict(kind, False, "test pattern on the SLM (safety.test_patterns_with_laser is off)")
        if kind == "calibration":
            power, key = calibration_power_mw, "calibration.laser_power_mw"
        else:
            power, key = self.limits.laser_power_mw, "safety.laser_power_mw"
        if power is None:
            return Verdict(kind, False, f"{key} not set")
        at, peak, peak_xy = self.spot_fractions(phase, targets_slm)
        at_mw, peak_mw = float(power) * at, float(power) * peak
        why = self._over_limit(at_mw, peak_mw, peak_xy, key)
        if why is not None:
            if kind == "pattern":
                raise SafetyError(why)
            return Verdict(kind, False, f"{kind.replace('_', ' ')}: {why}", at_mw, peak_mw, float(power))
        return Verdict(kind, True, "", at_mw if n else None, peak_mw, float(power))

    @staticmethod
    def permit(slm: Interlocked) -> tuple[bool, str]:
        """``(ok, reason)`` of the SLM's interlock: whether its display really shows our frames."""
        permitted, reason = slm.interlock_state()
        return bool(permitted), str(reason)


def _spots(targets_slm: np.ndarray | None) -> np.ndarray:
    """Targets as ``(N, 3)``: Fourier pixels ``(x, y)`` and depth (sample µm; 0 where not given)."""
    if targets_slm is None:
        return np.zeros((0, 3))
    a = np.asarray(targets_slm, np.float64)
    a = a.reshape(-1, a.shape[-1] if a.ndim == 2 and a.shape[-1] in (2, 3) else 2)
    return a if a.shape[1] == 3 else np.column_stack([a, np.zeros(len(a))])


def _box_sums(a: np.ndarray, p: int) -> np.ndarray:
    """Sum of ``a`` over the ``(2p+1)²`` box around each pixel (zeros beyond the edges), separably.

    Shifted in-place adds on views: no padded copies (at 1024² this is a few ms, on the gate's path).
    """
    def along(x: np.ndarray, axis: int) -> np.ndarray:
        out = x.copy()
        for d in range(1, p + 1):
            if axis == 0:
                out[d:] += x[:-d]
                out[:-d] += x[d:]
            else:
                out[:, d:] += x[:, :-d]
                out[:, :-d] += x[:, d:]
        return out

    return along(along(a, 0), 1)


class DutyCycleLimit:
    """The rig's duty-cycle limit: the gate open for at most ``max_fraction`` of any ``window_s``.

    A pure ledger of the gate's open intervals, over the times its caller gives (the gate's clock), so
    it is tested exactly without one. The gate asks :meth:`refusal` before it opens, records
    :meth:`opened` / :meth:`closed`, and while open cuts the light when :meth:`budget_s` runs out.

    Why the window that ends when the new light ends is the one checked: past light all lies before the
    opening, so a window ending ``x`` earlier holds ``x`` less new light and at most ``x`` more past
    light; none holds more than the one ending with the pulse. Thread-safe (its own lock).
    """

    def __init__(self, max_fraction: float, window_s: float):
        if not (0 < float(max_fraction) <= 1) or not float(window_s) > 0:
            raise SafetyError(f"a duty-cycle limit needs 0 < max_fraction <= 1 and window_s > 0, got "
                              f"{max_fraction!r}, {window_s!r}")
        self.max_fraction = float(max_fraction)
        self.window_s = float(window_s)
        self._lock = threading.Lock()
        self._intervals: list[list[float | None]] = []  # [t_open, t_close or None while open]

    @classmethod
    def from_limits(cls, limits: SafetyLimits) -> DutyCycleLimit | None:
        """The session's limit (``safety.max_duty_cycle`` of ``safety.duty_window_ms``); ``None``: off."""
        fraction = getattr(limits, "max_duty_cycle", None)
        if fraction is None:
            return None
        return cls(float(fraction), float(getattr(limits, "duty_window_ms", 1000.0)) / 1e3)

    @property
    def limit_s(self) -> float:
        """The most light any window may hold (s)."""
        return self.max_fraction * self.window_s

    def describe(self) -> str:
        """The limit as the session file states it."""
        return (f"safety.max_duty_cycle = {self.max_fraction:g} of safety.duty_window_ms = "
                f"{1e3 * self.window_s:g} ms ({1e3 * self.limit_s:g} ms of light)")

    def opened(self, t: float) -> None:
        """The gate opened at ``t`` (an interval still open is closed there first)."""
        with self._lock:
            if self._intervals and self._intervals[-1][1] is None:
                self._intervals[-1][1] = float(t)
            self._intervals.append([float(t), None])
            horizon = float(t) - 2 * self.window_s  # older light is in no window that matters any more
            while self._intervals and self._intervals[0][1] is not None and self._intervals[0][1] < horizon:
                self._intervals.pop(0)

    def closed(self, t: float) -> None:
        """The gate closed at ``t`` (a no-op when nothing is open)."""
        with self._lock:
            if self._intervals and self._intervals[-1][1] is None:
                self._intervals[-1][1] = max(float(t), float(self._intervals[-1][0]))  # type: ignore[arg-type]

    @property
    def is_open(self) -> bool:
        """Whether the ledger has an open interval."""
        with self._lock:
            return bool(self._intervals) and self._intervals[-1][1] is None

    def light_s(self, t0: float, t1: float, now: float) -> float:
        """Seconds of light within ``[t0, t1]``, an interval still open counted up to ``now``."""
        with self._lock:
            total = 0.0
            for a, b in self._intervals:
                end = float(now) if b is None else b
                total += max(0.0, min(end, t1) - max(a, t0))  # type: ignore[type-var, operator]
            return total

    def budget_s(self, now: float) -> float:
        """Light still allowed from ``now`` on, at least (the window ending now, with the gate as it is)."""
        return self.limit_s - self.light_s(now - self.window_s, now, now)

    def refusal(self, t: float, planned_s: float | None, min_s: float = 0.001) -> str | None:
        """Why an opening at ``t`` for ``planned_s`` (``None``: until closed) breaks the limit, or ``None``.

        An opening without a planned length is refused only when less than ``min_s`` of light is left;
        it is cut at the limit instead (the gate's watchdog).
        """
        if planned_s is None:
            left = self.budget_s(t)
            if left >= min_s:
                return None
            return (f"the light of the last {1e3 * self.window_s:g} ms is at the limit "
                    f"({self.describe()})")
        d = max(0.0, float(planned_s))
        lit = self.light_s(t + d - self.window_s, t, t) + d
        if lit <= self.limit_s + 1e-9:
            return None
        return (f"{1e3 * d:g} ms of light would make {1e3 * lit:.1f} ms in {1e3 * self.window_s:g} ms, over "
                f"{self.describe()}")


class LaserPermit:
    """The laser permit: the interlock, the last frame's verdict and its log record, combined.

    Permitted only if the SLM's interlock is ok, the last frame shown passed the gate with light allowed,
    and its record was made durable; a failure anywhere (:meth:`fail`) blocks until the next good frame.
    Each method returns the new ``(permitted, reason)`` when it changed, else ``None``, so the session
    can tell its listeners and the log about every change. Thread-safe (the interlock reports from the
    SLM's watchdog thread, frames come from the session's worker).
    """

    def __init__(self, laser_power_mw: float | None):
        self._lock = threading.RLock()
        self._interlock: tuple[bool, str] = (False, "no frame shown yet")
        self._frame: tuple[bool, str] = (False, NOT_SET if laser_power_mw is None else "no frame shown yet")
        self._fault: str | None = None
        self._duty: str | None = None
        self._state = self._compute()

    def _compute(self) -> tuple[bool, str]:
        if self._fault is not None:
            return False, self._fault
        if self._duty is not None:
            return False, self._duty
        if not self._frame[0]:
            return False, self._frame[1]
        if not self._interlock[0]:
            return False, self._interlock[1] or "SLM interlock off"
        return True, ""

    def _update(self) -> tuple[bool, str] | None:
        new = self._compute()
        if new == self._state:
            return None
        self._state = new
        return new

    @property
    def state(self) -> tuple[bool, str]:
        """``(permitted, reason)`` now."""
        with self._lock:
            return self._state

    def interlock(self, ok: bool, reason: str) -> tuple[bool, str] | None:
        """The SLM's interlock changed."""
        with self._lock:
            self._interlock = (bool(ok), str(reason))
            return self._update()

    def showing(self, verdict: Verdict) -> tuple[bool, str] | None:
        """A frame is about to be displayed: a frame without light blocks at once, before it is shown.

        A frame with light allowed keeps the permit as it was until its record is durable
        (:meth:`logged`), so a rig does not flicker the laser on every pattern; if that record fails,
        :meth:`fail` blocks at once.
        """
        with self._lock:
            if not verdict.light:
                self._frame = (False, verdict.reason)
            return self._update()

    def logged(self, verdict: Verdict) -> tuple[bool, str] | None:
        """The frame with this verdict is displayed and its record is durable."""
        with self._lock:
            self._frame = (verdict.light, verdict.reason)
            self._fault = None
            return self._update()

    def fail(self, reason: str) -> tuple[bool, str] | None:
        """Something failed (a log write, a display, a check): blocked until the next good frame."""
        with self._lock:
            self._fault = str(reason) or "failure"
            return self._update()

    def duty(self, ok: bool, reason: str = "") -> tuple[bool, str] | None:
        """The duty-cycle limit was reached (``ok`` False, why) or has light again (``ok`` True).

        Kept apart from a frame's verdict and from :meth:`fail`: a new frame does not lift it, only the
        window's light falling below the limit does (the laser gate says when).
        """
        with self._lock:
            self._duty = None if ok else (str(reason) or "duty-cycle limit reached")
            return self._update()
