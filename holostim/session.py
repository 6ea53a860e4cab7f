"""One rig session: config → devices, engine, calibration and log, and the click → SLM loop.

:class:`Session` is what the GUI and the CLI both drive.  It builds the SLM, the camera, the hologram
engine, the camera↔SLM calibration and the stimulation log from a :class:`~holostim.config.SessionConfig`,
owns their lifetimes (closing everything, in reverse order, on :meth:`Session.close` or when opening
fails half-way), and turns a list of camera-pixel targets (:class:`Target`) into light:

    check limits → camera→SLM through the calibration → compute (warm start when the targets moved
    little) → check the predicted power → show on the SLM → log one record → notify listeners.

Nothing reaches the SLM or the log unless every safety check passed; a refused pattern raises
:class:`TargetRefused` or :class:`SafetyError` with the reason and leaves no trace.  ``apply`` may be
called from a worker thread (the GUI's); one lock serialises compute, show and log.

No Qt here.  The only exception is the ``opengl`` SLM backend, whose window module is imported when
such a session is opened (on the GUI thread of a running Qt application).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from holostim.config import SessionConfig, load_config
from holostim.errors import HolostimError
from holostim.eventlog import EventLog

__all__ = [
    "ApplyResult",
    "SafetyError",
    "Session",
    "SessionError",
    "Target",
    "TargetRefused",
]

log = logging.getLogger(__name__)

EVENTS = ("result", "interlock", "frame")


class SessionError(HolostimError, RuntimeError):
    """The session cannot do what was asked (closed, no calibration where one is needed, ...)."""


class TargetRefused(HolostimError, ValueError):
    """A target that cannot be stimulated: outside the SLM's field, in the zero order, no calibration."""


class SafetyError(HolostimError, ValueError):
    """A pattern that would break a safety limit (spot count, power per spot, total power)."""


@dataclass(frozen=True)
class Target:
    """A stimulation target in camera pixels (``x`` right, ``y`` down), with a relative weight."""

    x: float
    y: float
    weight: float = 1.0
    group: int = 0


@dataclass
class ApplyResult:
    """One computed (and, after :meth:`Session.show`, shown) pattern.

    Attributes
    ----------
    targets : list of Target
        What was asked, in camera pixels.
    targets_slm : ndarray (N, 2)
        The same spots in SLM Fourier-plane pixels ``(x, y)``.
    phase : ndarray
        The computed SLM phase in radians, [0, 2π), shape of the SLM.
    frame : ndarray of uint8 or None
        The exact frame sent to the SLM (after corrections and LUT); ``None`` until shown.
    metrics, timings, iterations, method
        From the engine (``timings.total_ms`` is the compute time).
    predicted_power_mw : ndarray (N,) or None
        Power per spot expected at the sample (``safety.laser_power_mw`` × efficiency × weight share);
        ``None`` when the laser power is not configured.
    record : dict or None
        The log record written when it was shown.
    t_request, t_computed, t_swapped : float
        ``time.monotonic()`` of the request, the end of the compute and the SLM swap (``None`` until
        swapped).
    frame_record
        The SLM's :class:`~holostim.hardware.slm.FrameRecord` (upload and swap times).
    warm_started : bool
        Whether the engine started from the previous phase.
    """

    targets: list[Target]
    targets_slm: np.ndarray
    phase: np.ndarray
    metrics: Any
    timings: Any
    iterations: int
    method: str
    t_request: float
    t_computed: float
    predicted_power_mw: np.ndarray | None = None
    warm_started: bool = False
    frame: np.ndarray | None = None
    record: dict[str, Any] | None = None
    t_swapped: float | None = None
    frame_record: Any = None

    @property
    def compute_ms(self) -> float:
        """Engine compute time in ms (what the engine measured)."""
        return float(self.timings.total_ms) if self.timings is not None else 0.0

    @property
    def click_to_swap_ms(self) -> float | None:
        """Request → SLM swap in ms (``None`` until swapped)."""
        if self.t_swapped is None:
            return None
        return 1e3 * (self.t_swapped - self.t_request)


def _metric(metrics: Any, name: str) -> float | None:
    if metrics is None:
        return None
    v = metrics.get(name) if isinstance(metrics, dict) else getattr(metrics, name, None)
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


METRIC_NAMES = ("efficiency", "uniformity", "std_error", "tolerance_error", "gap")


class Session:
    """Devices, engine, calibration and log of one rig session (see the module docstring).

    Use :meth:`open`; a session is a context manager.

    Attributes
    ----------
    config : SessionConfig
    path : Path or None
        The session file it was loaded from.
    camera, slm, engine
        The devices and the hologram engine.
    calibration : Calibration or None
        ``None`` when there is none yet (then :meth:`apply` refuses every target).
    log : EventLog
        The stimulation log of this run.
    targets : list of Target
        The current target set (what the GUI shows; starts as the session file's ``targets``).
    last_result : ApplyResult or None
        The last pattern shown.
    """

    def __init__(self, config: SessionConfig, path: Path | None = None):
        """Do not call directly: use :meth:`Session.open`, which builds and closes safely."""
        self.config = config
        self.path = path
        self.slm: Any = None
        self.camera: Any = None
        self.engine: Any = None
        self.calibration: Any = None
        self.log: EventLog | None = None  # type: ignore[assignment]
        self.targets: list[Target] = [Target(t.x, t.y, t.weight, t.group) for t in config.targets]
        self.last_result: ApplyResult | None = None
        self._lock = threading.RLock()
        self._listeners: dict[str, list[Callable[..., None]]] = {e: [] for e in EVENTS}
        self._unsubscribe: list[Callable[[], None]] = []
        self._illumination: Any = None
        # What the engine computed last (its warm-start state): SLM spot positions and efficiency.
        self._last_engine: tuple[np.ndarray, float | None] | None = None
        self._closed = False

    # ------------------------------------------------------------------------------------------- building
    @classmethod
    def open(
        cls,
        config: str | Path | SessionConfig,
        *,
        load_calibration: bool = True,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> Session:
        """Build a session from a session file or a validated config; close everything if a step fails.

        In simulation with no calibration file (or a missing or stale one), a quick calibration runs
        against the simulated rig and is saved to ``calibration.file`` so the whole loop works on first
        start.

        Parameters
        ----------
        config : path or SessionConfig
        load_calibration : bool
            ``False`` opens without any calibration (neither loaded nor measured): what ``holostim
            calibrate`` does before measuring a new one.
        progress : callable, optional
            ``progress(done, total, what)`` during an automatic calibration.
        """
        if isinstance(config, SessionConfig):
            cfg, path = config, None
        else:
            path = Path(config)
            cfg = load_config(path)
        self = cls(cfg, path)
        try:
            self._build(load_calibration, progress)
        except BaseException:
            self.close()
            raise
        return self

    def _build(self, load_calibration: bool = True,
               progress: Callable[[int, int, str], None] | None = None) -> None:
        cfg = self.config
        self.slm = self._make_slm()
        self.camera = self._make_camera()
        from holostim.holography import HologramEngine

        self.engine = HologramEngine(**cfg.engine_kwargs())
        if load_calibration:
            self.calibration = self._load_or_make_calibration(progress)
        self.log = EventLog.create(cfg.log.directory, self._log_header(), masks=cfg.log.masks)
        log.info("session %r: log %s", cfg.name, self.log.path)
        self._subscribe_slm()

    def _subscribe_slm(self) -> None:
        if hasattr(self.slm, "add_interlock_listener"):
            self._unsubscribe.append(self.slm.add_interlock_listener(self._on_interlock))
        if hasattr(self.slm, "add_frame_listener"):
            self._unsubscribe.append(self.slm.add_frame_listener(lambda rec: self._emit("frame", rec)))

    def _unsubscribe_slm(self) -> None:
        for unsubscribe in self._unsubscribe:
            try:
                unsubscribe()
            except Exception:
                log.exception("removing an SLM listener failed")
        self._unsubscribe = []

    def set_slm_screen(self, screen: str) -> None:
        """Move the OpenGL SLM to another screen, live, and show the last pattern there again.

        The new window is opened first: a screen that does not exist, has the wrong size or a device pixel
        ratio other than 1 raises (naming the screens there are) and the old window stays as it was.
        The pattern shown again on the new screen is logged like any other. Call from the GUI thread.
        """
        with self._lock:
            self._check_open()
            cfg = self.config
            if cfg.slm.backend != "opengl":
                raise SessionError(f"slm.backend is {cfg.slm.backend!r}: only an OpenGL SLM has a screen")
            slm_cfg = cfg.slm.model_validate({**cfg.slm.model_dump(), "screen": screen})
            new_cfg = cfg.model_copy(update={"slm": slm_cfg})
            old_cfg, self.config = self.config, new_cfg
            try:
                new = self._make_slm()
            except BaseException:
                self.config = old_cfg
                raise
            old, self.slm = self.slm, new
            self._unsubscribe_slm()
            self._subscribe_slm()
            try:
                old.close()
            except Exception:
                log.exception("closing the SLM on the old screen failed")
            log.info("SLM moved to screen %r", screen)
            if self.last_result is not None:
                self._show_locked(self.last_result)

    def _make_slm(self) -> Any:
        cfg = self.config
        kw = cfg.slm.slm_kwargs(cfg.safety)
        if cfg.slm.backend == "simulated":
            from holostim.hardware.slm import SimulatedSLM

            return SimulatedSLM(tau_ms=cfg.slm.settle_tau_ms, name="simulated-slm", **kw)
        from holostim.hardware.slm.window import OpenGLSLM  # Qt: only for a real SLM screen

        if not cfg.slm.screen:
            raise SessionError("slm.backend is 'opengl' but slm.screen is not set; name the SLM's screen")
        return OpenGLSLM(screen=cfg.slm.screen, fullscreen=cfg.slm.fullscreen, name="slm", **kw)

    def _make_camera(self) -> Any:
        from holostim.hardware.camera import open_camera

        cfg = self.config
        options = cfg.camera.options()
        if cfg.camera.backend == "simulated":
            if cfg.slm.backend != "simulated":
                raise SessionError(
                    "camera.backend 'simulated' needs slm.backend 'simulated' (the simulated camera looks "
                    "through the simulated SLM); use a real camera backend with a real SLM"
                )
            options.update(cfg.simulated_camera_kwargs())
            options["slm"] = self.slm
        return open_camera(cfg.camera.backend, **options)

    def _load_or_make_calibration(self, progress: Callable[[int, int, str], None] | None) -> Any:
        from holostim.calibration import Calibration

        cfg = self.config.calibration
        auto = self.config.simulated and cfg.auto_in_simulation
        if cfg.file is not None and cfg.file.is_file():
            cal = Calibration.load(cfg.file)
            problem = self._calibration_mismatch(cal)
            if problem is None:
                return cal
            if not auto:
                raise SessionError(f"calibration {str(cfg.file)!r} {problem}; run `holostim calibrate` again")
            log.warning("calibration %s %s; recalibrating the simulated rig", cfg.file, problem)
        elif auto:
            log.info("no calibration file %s: calibrating the simulated rig", cfg.file or "set")
        if auto:
            cal = self._run_calibration(cfg.grid, progress)
            if cfg.file is not None:
                cal.save(cfg.file)
                log.info("calibration saved to %s (residual %.3f px)", cfg.file, cal.residual_px)
            return cal
        if cfg.file is not None:
            log.warning("calibration file %s does not exist; run `holostim calibrate`", cfg.file)
        return None

    def _calibration_mismatch(self, cal: Any) -> str | None:
        """Why a loaded calibration does not belong to this session's devices, or ``None``."""
        slm_shape = tuple(self.slm.shape)
        cam_shape = tuple(self.camera.shape)
        if tuple(cal.slm_shape) != slm_shape or tuple(cal.camera_shape) != cam_shape:
            return (f"was measured with SLM {tuple(cal.slm_shape)} and camera {tuple(cal.camera_shape)}, "
                    f"but this session has SLM {slm_shape} and camera {cam_shape}")
        cam_name = str(getattr(self.camera, "name", ""))
        if cal.camera_id and cam_name and cal.camera_id != cam_name:
            if self.config.simulated:
                return f"belongs to camera {cal.camera_id!r}, not this simulated rig ({cam_name!r})"
            log.warning("calibration was measured with camera %r; this session's camera is %r",
                        cal.camera_id, cam_name)
        return None

    def _log_header(self) -> dict[str, Any]:
        backend = getattr(self.engine, "backend", None)
        describe = getattr(backend, "describe", None)
        slm_describe = getattr(self.slm, "describe", None)
        return {
            "session_file": str(self.path) if self.path else None,
            "config": self.config.to_dict(),
            "calibration": self.calibration.to_dict() if self.calibration is not None else None,
            "backend": describe() if callable(describe) else str(backend),
            "slm": slm_describe() if callable(slm_describe) else {"shape": list(self.slm.shape)},
            "camera": {"backend": self.config.camera.backend, "shape": list(self.camera.shape),
                       "name": str(getattr(self.camera, "name", ""))},
        }

    # ------------------------------------------------------------------------------------------- listeners
    def add_listener(self, event: str, callback: Callable[..., None]) -> Callable[[], None]:
        """Call ``callback`` on ``event``; returns a function that removes it.

        ``"result"``: ``callback(result: ApplyResult)`` after each pattern is shown (on the caller's
        thread of :meth:`apply`).  ``"interlock"``: ``callback(permitted: bool, reason: str)`` whenever
        the SLM's laser interlock changes (on the SLM's watchdog thread).  ``"frame"``:
        ``callback(record: FrameRecord)`` for every frame the SLM swaps in -- patterns, calibration
        grids and test patterns alike (on the display's thread).  GUIs forward all of them through
        queued signals.
        """
        if event not in self._listeners:
            raise SessionError(f"unknown session event {event!r}; use one of {', '.join(EVENTS)}")
        self._listeners[event].append(callback)

        def remove() -> None:
            try:
                self._listeners[event].remove(callback)
            except ValueError:
                pass

        return remove

    def _emit(self, event: str, *args: Any) -> None:
        for cb in list(self._listeners[event]):
            try:
                cb(*args)
            except Exception:  # a broken listener must not break the stimulation loop
                log.exception("session %s listener %r failed", event, cb)

    def _on_interlock(self, permitted: bool, reason: str) -> None:
        self._emit("interlock", bool(permitted), str(reason))

    @property
    def laser_permitted(self) -> bool:
        """The SLM's interlock: True only while it is really showing our frames."""
        return bool(getattr(self.slm, "laser_permitted", False))

    # ------------------------------------------------------------------------------------------- targets
    def check_target(self, x: float, y: float) -> str | None:
        """Why a camera-pixel target cannot be stimulated, or ``None`` when it can.

        Refused: no calibration, outside the SLM's addressable field, or within
        ``calibration.zero_order_radius_px`` of the zero order.  With a blazed grating on the SLM the
        pattern moves by ``blaze · N`` Fourier pixels while the zero order stays, so in the engine's
        coordinates the zero order sits at ``N//2 - blaze · N``; that is where the exclusion applies.
        """
        if self.calibration is None:
            return "no calibration: run `holostim calibrate` (or Calibrate in the GUI) first"
        radius = self.config.calibration.zero_order_radius_px
        shift = self._blaze_shift_px()
        try:
            (reason,) = self.calibration.check_targets(
                [[float(x), float(y)]], zero_order_radius_px=radius if not shift.any() else 0.0
            )
        except HolostimError as exc:
            return str(exc)
        if reason is None and shift.any():
            zero = self.zero_order_slm
            sx, sy = self.calibration.camera_to_slm([[float(x), float(y)]])[0]
            r = float(np.hypot(sx - zero[0], sy - zero[1]))
            if r < radius:
                reason = (f"camera ({x:.1f}, {y:.1f}) is inside the zero-order exclusion: {r:.1f} SLM px "
                          f"from the zero order (shifted by the blaze), closer than {radius:g} px")
        return reason

    @property
    def zero_order_slm(self) -> np.ndarray:
        """Where the zero order is in the engine's Fourier pixels ``(x, y)``: ``N//2`` minus the blaze shift.

        For drawing the exclusion zone: ``calibration.slm_to_camera(session.zero_order_slm)``.
        """
        ny, nx = self.slm.shape
        return np.array([nx // 2, ny // 2], dtype=np.float64) - self._blaze_shift_px()

    def _blaze_shift_px(self) -> np.ndarray:
        """How far the SLM's blazed grating moves the pattern, (x, y) Fourier pixels."""
        ny, nx = self.slm.shape
        gx, gy = getattr(self.slm, "blaze", self.config.slm.blaze)
        return np.array([gx * nx, gy * ny], dtype=np.float64)

    def _check_limits(self, targets: Sequence[Target]) -> list[Target]:
        targets = [t if isinstance(t, Target) else Target(*t) for t in targets]
        safety = self.config.safety
        if len(targets) > safety.max_spots:
            raise SafetyError(
                f"{len(targets)} spots exceed safety.max_spots = {safety.max_spots}; remove spots or raise "
                "the limit in the session file"
            )
        for i, t in enumerate(targets):
            if not (np.isfinite(t.weight) and t.weight > 0):
                raise TargetRefused(f"target {i + 1} has weight {t.weight!r}; weights must be positive")
            reason = self.check_target(t.x, t.y)
            if reason is not None:
                raise TargetRefused(f"target {i + 1} refused: {reason}")
        return targets

    def _predicted_power(self, targets: Sequence[Target], metrics: Any) -> np.ndarray | None:
        safety = self.config.safety
        if safety.laser_power_mw <= 0 or not targets:
            return None
        eff = _metric(metrics, "efficiency")
        eff = 1.0 if eff is None or not np.isfinite(eff) else min(max(eff, 0.0), 1.0)
        w = np.array([t.weight for t in targets], dtype=np.float64)
        return safety.laser_power_mw * eff * w / w.sum()

    def _check_power(self, result: ApplyResult) -> None:
        p = result.predicted_power_mw
        if p is None or len(p) == 0:
            return
        safety = self.config.safety
        total = float(p.sum())
        if total > safety.max_total_power_mw:
            raise SafetyError(
                f"predicted total power {total:.1f} mW exceeds safety.max_total_power_mw = "
                f"{safety.max_total_power_mw:g} mW; lower the laser power or stimulate fewer spots"
            )
        i = int(np.argmax(p))
        if p[i] > safety.max_power_per_spot_mw:
            raise SafetyError(
                f"predicted power {p[i]:.1f} mW on spot {i + 1} exceeds safety.max_power_per_spot_mw = "
                f"{safety.max_power_per_spot_mw:g} mW; spread the power over more spots or lower the laser"
            )

    # ------------------------------------------------------------------------------------------- the loop
    def compute(self, targets: Sequence[Target], *, request_time: float | None = None) -> ApplyResult:
        """Check and compute a pattern without showing or logging it (e.g. a manual-mode preview).

        Raises
        ------
        TargetRefused, SafetyError
            With the reason; nothing is computed for a refused target set.
        """
        with self._lock:
            return self._compute_locked(targets, request_time)

    def _compute_locked(self, targets: Sequence[Target], request_time: float | None) -> ApplyResult:
        self._check_open()
        t_request = time.monotonic() if request_time is None else float(request_time)
        targets = self._check_limits(targets)
        cfg = self.config.engine
        shape = tuple(self.slm.shape)
        if not targets:
            # No target: a flat phase sends all light to the (blocked) zero order.
            phase = np.zeros(shape, np.float32)
            return ApplyResult(targets=[], targets_slm=np.zeros((0, 2)), phase=phase, metrics=None,
                               timings=None, iterations=0, method="none", t_request=t_request,
                               t_computed=time.monotonic())
        xy_cam = np.array([[t.x, t.y] for t in targets], dtype=np.float64)
        xy_slm = self.calibration.camera_to_slm(xy_cam)
        weights = np.array([t.weight for t in targets], dtype=np.float64)
        from holostim.holography import SpotTarget

        spot_target = SpotTarget.from_pixels(xy_slm, shape=shape, weights=weights)
        warm = self._warm_start_ok(xy_slm)
        kwargs = dict(method=cfg.method, iterations=cfg.iterations, tolerance=cfg.tolerance,
                      budget_ms=cfg.budget_ms)
        res = self.engine.compute(spot_target, warm_start=warm, **kwargs)
        if warm and self._warm_start_failed(res):
            log.debug("warm start lost the pattern (efficiency %s); computing from scratch",
                      _metric(res.metrics, "efficiency"))
            res = self.engine.compute(spot_target, warm_start=False, **kwargs)
            warm = False
        self._last_engine = (xy_slm, _metric(res.metrics, "efficiency"))
        result = ApplyResult(
            targets=list(targets),
            targets_slm=xy_slm,
            phase=np.asarray(res.phase),
            metrics=res.metrics,
            timings=res.timings,
            iterations=int(res.iterations),
            method=cfg.method,
            t_request=t_request,
            t_computed=time.monotonic(),
            warm_started=warm,
        )
        result.predicted_power_mw = self._predicted_power(targets, res.metrics)
        self._check_power(result)
        return result

    def _warm_start_ok(self, xy_slm: np.ndarray) -> bool:
        """Warm start when no spot moved more than ``engine.warm_start_max_shift_px`` since the engine's last.

        Compared with what the engine computed last (previews included), because that is where it starts.
        """
        cfg = self.config.engine
        if not cfg.warm_start or self._last_engine is None or len(xy_slm) == 0:
            return False
        last_xy = self._last_engine[0]
        if last_xy.shape != xy_slm.shape:
            return False
        shift = np.max(np.hypot(*(xy_slm - last_xy).T))
        return bool(shift <= cfg.warm_start_max_shift_px)

    def _warm_start_failed(self, res: Any) -> bool:
        """A warm start that ended far less efficient than the pattern it started from.

        Then the pattern is computed again from scratch: a guard, so that a degenerate start (e.g. a
        grating whose far field is dark where the moved spot now is) can never reach the SLM.
        """
        last_eff = self._last_engine[1] if self._last_engine is not None else None
        eff = _metric(res.metrics, "efficiency")
        if eff is None or last_eff is None or not np.isfinite(eff):
            return False
        return eff < 0.5 * last_eff

    def show(self, result: ApplyResult) -> ApplyResult:
        """Show a computed result on the SLM and log it (limits are checked again first)."""
        with self._lock:
            self._check_open()
            self._check_limits(result.targets)
            self._check_power(result)
            self._show_locked(result)
        self._emit("result", result)
        return result

    def apply(self, targets: Sequence[Target], *, request_time: float | None = None) -> ApplyResult:
        """Check → compute → show → log one pattern; thread-safe (one lock); returns the result.

        ``request_time`` is the ``time.monotonic()`` of the click (default: now), so the record's
        click-to-swap time includes any queueing before this call.

        Raises
        ------
        TargetRefused, SafetyError
            With the reason; nothing is shown or logged.
        """
        with self._lock:
            result = self._compute_locked(targets, request_time)
            self._show_locked(result)
        self._emit("result", result)
        return result

    def _show_locked(self, result: ApplyResult) -> None:
        rec = self.slm.show_phase(result.phase)
        # The swap happens on the display's thread; wait for it (a few frames at most) so the record
        # carries the real swap time -- except on the main thread, whose event loop does the swap.
        if rec.t_swapped is None and threading.current_thread() is not threading.main_thread():
            rec.wait_swapped(max(0.25, 10 * self.config.slm.frame_period_ms / 1e3))
        result.frame_record = rec
        result.frame = np.asarray(rec.frame)
        result.t_swapped = rec.t_swapped
        result.record = self.log.append(self._record(result, rec), frame=result.frame)
        self.last_result = result
        self.targets = list(result.targets)

    def _record(self, result: ApplyResult, rec: Any) -> dict[str, Any]:
        offset = getattr(rec, "wall_offset", None)
        if offset is None:
            offset = time.time() - time.monotonic()

        def w(t: float | None) -> float | None:
            return None if t is None else t + offset

        xy_sample = self._slm_to_sample_um(result.targets_slm)
        permitted, reason = self._interlock_state()
        timings = result.timings
        return {
            "time": {
                "request": w(result.t_request),
                "computed": w(result.t_computed),
                "uploaded": w(getattr(rec, "t_uploaded", None)),
                "swapped": w(getattr(rec, "t_swapped", None)),
                "request_mono": result.t_request,
                "computed_mono": result.t_computed,
                "uploaded_mono": getattr(rec, "t_uploaded", None),
                "swapped_mono": getattr(rec, "t_swapped", None),
            },
            "targets": [
                {
                    "camera_px": [t.x, t.y],
                    "slm_px": [float(v) for v in result.targets_slm[i]],
                    "sample_um": [float(v) for v in xy_sample[i]],
                    "weight": t.weight,
                    "group": t.group,
                }
                for i, t in enumerate(result.targets)
            ],
            "method": result.method,
            "iterations": result.iterations,
            "warm_start": result.warm_started,
            "metrics": {name: _metric(result.metrics, name) for name in METRIC_NAMES},
            "compute_ms": result.compute_ms if timings is not None else 0.0,
            "click_to_swap_ms": result.click_to_swap_ms,
            "predicted_power_mw": None if result.predicted_power_mw is None
            else [float(p) for p in result.predicted_power_mw],
            "slm_frame_index": getattr(rec, "index", None),
            "interlock": {"laser_permitted": permitted, "reason": reason},
        }

    def _interlock_state(self) -> tuple[bool, str]:
        state = getattr(self.slm, "interlock_state", None)
        if callable(state):
            permitted, reason = state()
            return bool(permitted), str(reason)
        return self.laser_permitted, ""

    def _slm_to_sample_um(self, xy_slm: np.ndarray) -> np.ndarray:
        """Engine Fourier pixels → sample µm: ``(p + blaze·N - N//2) · λ f / (N dx) / magnification``."""
        cfg = self.config
        ny, nx = self.slm.shape
        lam_f = cfg.slm.wavelength_um * cfg.optics.focal_length_um
        pitch = np.array([lam_f / (nx * cfg.slm.pitch_um), lam_f / (ny * cfg.slm.pitch_um)])
        centre = np.array([nx // 2, ny // 2], dtype=np.float64)
        xy = np.asarray(xy_slm, dtype=np.float64).reshape(-1, 2) + self._blaze_shift_px()
        return (xy - centre) * pitch / cfg.optics.magnification

    # ------------------------------------------------------------------------------------------- optics
    def predicted_intensity(self, phase: Any) -> np.ndarray:
        """Focal-plane intensity (fraction of the power per pixel, float64 (ny, nx)) of an SLM phase.

        Through the optics core: the configured illumination (Gaussian of ``optics.beam_waist_um`` or a
        plane wave) on a pixelated SLM with its fill factor and 8-bit quantisation, then the Fourier
        lens.  The zero order sits at ``(N//2, N//2)``, as in the engine's coordinates.
        """
        from holostim import optics

        cfg = self.config
        phase = np.asarray(phase, dtype=np.float64)
        shape = tuple(self.slm.shape)
        if phase.shape != shape:
            raise SessionError(f"phase has shape {phase.shape}, the SLM is {shape}")
        if self._illumination is None:
            if cfg.optics.beam_waist_um:
                src = optics.gaussian_beam(shape, cfg.slm.pitch_um, cfg.slm.wavelength_um,
                                           cfg.optics.beam_waist_um)
            else:
                src = optics.plane_wave(shape, cfg.slm.pitch_um, cfg.slm.wavelength_um)
            self._illumination = src
        field_slm = optics.slm(self._illumination, phase, pitch=cfg.slm.pitch_um,
                               fill_factor=cfg.slm.fill_factor, levels=256)
        out = np.asarray(optics.intensity(optics.fourier_lens(field_slm, cfg.optics.focal_length_um)),
                         dtype=np.float64)
        total = out.sum()
        return out / total if total > 0 else out

    # ------------------------------------------------------------------------------------------- calibration
    def _run_calibration(self, grid: int, progress: Callable[[int, int, str], None] | None) -> Any:
        from holostim.calibration import run_calibration

        return run_calibration(self.engine, self.slm, self.camera, grid=grid, progress=progress,
                               zero_order_radius_px=self.config.calibration.zero_order_radius_px)

    def calibrate(self, grid: int | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> Any:
        """Measure the camera↔SLM calibration with this session's devices and install it.

        The grid is shown on the SLM but not logged as stimulation (it is a calibration pattern);
        a ``"calibration"`` record in the log says when the calibration changed.
        """
        with self._lock:
            self._check_open()
            cal = self._run_calibration(grid or self.config.calibration.grid, progress)
            self.calibration = cal
            self._last_engine = None  # the engine now holds a calibration grid, not a pattern
            if self.log is not None:
                self.log.append({"type": "calibration", "calibration": cal.to_dict()})
            return cal

    def save_calibration(self, cal: Any, path: Path | None = None) -> Path:
        """Save a calibration (default: the session's ``calibration.file``) and return where."""
        target = Path(path) if path is not None else self.config.calibration.file
        if target is None:
            raise SessionError("no calibration.file in the session: give a path (holostim calibrate --out)")
        cal.save(target)
        return Path(target)

    # ------------------------------------------------------------------------------------------- saving
    def save(self, path: str | Path) -> Path:
        """Write the session (with the current target set under ``targets``) as YAML."""
        from holostim.config import TargetConfig

        targets = [TargetConfig(x=t.x, y=t.y, weight=t.weight, group=t.group) for t in self.targets]
        cfg = self.config.model_copy(update={"targets": targets})
        return cfg.save(path)

    # ------------------------------------------------------------------------------------------- closing
    def _check_open(self) -> None:
        if self._closed:
            raise SessionError("the session is closed")

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    def close(self) -> None:
        """Close the log, the camera and the SLM (in that order); safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._unsubscribe_slm()
            for name in ("log", "camera", "slm"):
                obj = getattr(self, name)
                if obj is None:
                    continue
                try:
                    obj.close()
                except Exception:
                    log.exception("closing the %s failed", name)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
