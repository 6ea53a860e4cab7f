"""One rig session: its devices, engine, calibration and log, and the click → SLM loop.

:class:`Session` is what the GUI and the CLI both drive. It builds the rig from a
:class:`~holostim.config.SessionConfig` (:mod:`holostim.session.build`), owns the lifetimes (closing
everything, in reverse order, on :meth:`Session.close` or when opening fails half-way), and turns a list
of camera-pixel targets (:class:`~holostim.session.result.Target`) into light:

    check (the safety gate) → camera→SLM through the calibration → compute (warm start when the targets
    moved little) → gate the predicted power → show on the SLM → log one record → notify listeners.

Nothing reaches the SLM or the log unless every check of :class:`~holostim.safety.SafetyGate` passed; a
refused pattern raises :class:`~holostim.safety.TargetRefused` or :class:`~holostim.safety.SafetyError`
with the reason and leaves no trace. ``apply`` may be called from a worker thread (the GUI's); one lock
serialises compute, show and log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from holostim.calibration import Calibration
from holostim.config import SessionConfig, load_config
from holostim.eventlog import EventLog
from holostim.eventlog.records import RecordTimes, calibration_record, metric, pattern_record, session_header
from holostim.geometry import SLMGeometry, target_refusal
from holostim.hardware.camera import Camera
from holostim.hardware.slm import FrameRecord, SLMProtocol
from holostim.holography import HologramEngine, SpotTarget
from holostim.safety import SafetyGate
from holostim.session import build
from holostim.session.errors import SessionError
from holostim.session.listeners import Listeners
from holostim.session.preview import Preview
from holostim.session.result import ApplyResult, Target
from holostim.session.warm_start import WarmStart

__all__ = ["EVENTS", "Session"]

log = logging.getLogger(__name__)

EVENTS = ("result", "interlock", "frame")

ProgressFn = Callable[[int, int, str], None]


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
    safety : SafetyGate
        The limits every pattern passes before it reaches the SLM.
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
        self.slm: SLMProtocol | None = None  # type: ignore[assignment]
        self.camera: Camera | None = None  # type: ignore[assignment]
        self.engine: HologramEngine | None = None  # type: ignore[assignment]
        self.calibration: Calibration | None = None
        self.log: EventLog | None = None  # type: ignore[assignment]
        self.safety = SafetyGate(config.safety)
        self.targets: list[Target] = [Target(t.x, t.y, t.weight, t.group) for t in config.targets]
        self.last_result: ApplyResult | None = None
        self._lock = threading.RLock()
        self._listeners = Listeners(EVENTS, error=SessionError, name="session")
        self._unsubscribe: list[Callable[[], None]] = []
        self._preview = Preview(config)
        self._warm = WarmStart(config.engine.warm_start, config.engine.warm_start_max_shift_px)
        self._closed = False

    # ------------------------------------------------------------------------------------------- building
    @classmethod
    def open(
        cls,
        config: str | Path | SessionConfig,
        *,
        load_calibration: bool = True,
        progress: ProgressFn | None = None,
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

    def _build(self, load_calibration: bool = True, progress: ProgressFn | None = None) -> None:
        cfg = self.config
        self.slm = build.make_slm(cfg)
        self.camera = build.make_camera(cfg, self.slm)
        self.engine = build.make_engine(cfg)
        if load_calibration:
            self.calibration = build.load_or_make_calibration(cfg, self.engine, self.slm, self.camera,
                                                              progress)
        self.log = EventLog.create(cfg.log.directory, self._log_header(), masks=cfg.log.masks)
        log.info("session %r: log %s", cfg.name, self.log.path)
        self._subscribe_slm()

    def _log_header(self) -> dict:
        return session_header(
            session_file=self.path,
            config=self.config.to_dict(),
            calibration=self.calibration.to_dict() if self.calibration is not None else None,
            backend=self.engine.backend.describe(),
            slm=self.slm.describe(),
            camera_backend=self.config.camera.backend,
            camera_shape=self.camera.shape,
            camera_name=self.camera.name,
        )

    def _subscribe_slm(self) -> None:
        self._unsubscribe.append(self.slm.add_interlock_listener(self._on_interlock))
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
            new = build.make_slm(new_cfg)  # raises before anything changed
            self.config = new_cfg
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
        return self._listeners.add(event, callback)

    def _emit(self, event: str, *args: object) -> None:
        self._listeners.emit(event, *args)

    def _on_interlock(self, permitted: bool, reason: str) -> None:
        self._emit("interlock", bool(permitted), str(reason))

    @property
    def laser_permitted(self) -> bool:
        """The SLM's interlock: True only while it is really showing our frames."""
        return self.slm is not None and bool(self.slm.laser_permitted)

    # ------------------------------------------------------------------------------------------- geometry
    @property
    def geometry(self) -> SLMGeometry:
        """The SLM → sample geometry now (the blaze is read from the SLM, which may change it live)."""
        cfg = self.config
        gx, gy = self.slm.blaze
        return SLMGeometry(
            shape=(int(self.slm.shape[0]), int(self.slm.shape[1])),
            pitch_um=cfg.slm.pitch_um,
            wavelength_um=cfg.slm.wavelength_um,
            focal_length_um=cfg.optics.focal_length_um,
            magnification=cfg.optics.magnification,
            blaze=(float(gx), float(gy)),
        )

    def check_target(self, x: float, y: float) -> str | None:
        """Why a camera-pixel target cannot be stimulated, or ``None`` when it can.

        Refused: no calibration, outside the SLM's addressable field, or within
        ``calibration.zero_order_radius_px`` of the zero order (which a blazed grating moves, see
        :attr:`zero_order_slm`).
        """
        return target_refusal(self.calibration, self.geometry, x, y,
                              self.config.calibration.zero_order_radius_px)

    @property
    def zero_order_slm(self) -> np.ndarray:
        """Where the zero order is in the engine's Fourier pixels ``(x, y)``: ``N//2`` minus the blaze shift.

        For drawing the exclusion zone: ``calibration.slm_to_camera(session.zero_order_slm)``.
        """
        return self.geometry.zero_order_slm

    # ------------------------------------------------------------------------------------------- the loop
    def _check_targets(self, targets: Sequence[Target]) -> list[Target]:
        targets = [t if isinstance(t, Target) else Target(*t) for t in targets]
        self.safety.check_targets(targets, self.check_target)
        return targets

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
        targets = self._check_targets(targets)
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
        spot_target = SpotTarget.from_pixels(xy_slm, shape=shape, weights=weights)
        warm = self._warm.ok(xy_slm)
        kwargs = dict(method=cfg.method, iterations=cfg.iterations, tolerance=cfg.tolerance,
                      budget_ms=cfg.budget_ms)
        res = self.engine.compute(spot_target, warm_start=warm, **kwargs)
        if warm and self._warm.failed(metric(res.metrics, "efficiency")):
            log.debug("warm start lost the pattern (efficiency %s); computing from scratch",
                      metric(res.metrics, "efficiency"))
            res = self.engine.compute(spot_target, warm_start=False, **kwargs)
            warm = False
        self._warm.remember(xy_slm, metric(res.metrics, "efficiency"))
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
        result.predicted_power_mw = self.safety.predicted_power(weights, metric(res.metrics, "efficiency"))
        self.safety.check_power(result.predicted_power_mw)
        return result

    def show(self, result: ApplyResult) -> ApplyResult:
        """Show a computed result on the SLM and log it (limits are checked again first)."""
        with self._lock:
            self._check_open()
            self._check_targets(result.targets)
            self.safety.check_power(result.predicted_power_mw)
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

    def _record(self, result: ApplyResult, rec: FrameRecord) -> dict:
        permitted, reason = self.safety.permit(self.slm)
        return pattern_record(
            times=RecordTimes(request=result.t_request, computed=result.t_computed,
                              uploaded=rec.t_uploaded, swapped=rec.t_swapped, wall_offset=rec.wall_offset),
            targets=result.targets,
            targets_slm=result.targets_slm,
            targets_sample_um=self.geometry.slm_to_sample_um(result.targets_slm),
            method=result.method,
            iterations=result.iterations,
            warm_start=result.warm_started,
            metrics=result.metrics,
            compute_ms=result.compute_ms,
            click_to_swap_ms=result.click_to_swap_ms,
            predicted_power_mw=result.predicted_power_mw,
            slm_frame_index=rec.index,
            laser_permitted=permitted,
            interlock_reason=reason,
        )

    # ------------------------------------------------------------------------------------------- optics
    def predicted_intensity(self, phase: object) -> np.ndarray:
        """Focal-plane intensity (fraction of the power per pixel, float64 (ny, nx)) of an SLM phase.

        Through the optics core: the configured illumination (Gaussian of ``optics.beam_waist_um`` or a
        plane wave) on a pixelated SLM with its fill factor and 8-bit quantisation, then the Fourier
        lens.  The zero order sits at ``(N//2, N//2)``, as in the engine's coordinates.
        """
        return self._preview.intensity(phase, tuple(self.slm.shape))

    # ------------------------------------------------------------------------------------------- calibration
    def calibrate(self, grid: int | None = None, progress: ProgressFn | None = None) -> Calibration:
        """Measure the camera↔SLM calibration with this session's devices and install it.

        The grid is shown on the SLM but not logged as stimulation (it is a calibration pattern);
        a ``"calibration"`` record in the log says when the calibration changed.
        """
        with self._lock:
            self._check_open()
            cal = build.calibrate(self.config, self.engine, self.slm, self.camera,
                                  grid or self.config.calibration.grid, progress)
            self.calibration = cal
            self._warm.forget()  # the engine now holds a calibration grid, not a pattern
            if self.log is not None:
                self.log.append(calibration_record(cal.to_dict()))
            return cal

    def save_calibration(self, cal: Calibration, path: Path | None = None) -> Path:
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
