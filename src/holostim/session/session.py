"""One rig session: its devices, engine, calibration and log, and the click → SLM loop.

:class:`Session` is what the GUI and the CLI both drive. It builds the rig from a
:class:`~holostim.config.SessionConfig` (:mod:`holostim.session.build`), owns the lifetimes (closing
everything, in reverse order, on :meth:`Session.close` or when opening fails half-way), and turns a list
of camera-pixel targets (:class:`~holostim.session.result.Target`) into light:

    check (the safety gate) → camera→SLM through the calibration → compute (warm start when the targets
    moved little) → show through the gate → log one record → notify listeners.

Every frame that reaches the SLM — patterns, the flat phase of "no targets", test patterns, calibration
frames, a pattern shown again on another screen — goes through one method, :meth:`Session._show_frame`:
the frame is made, :meth:`~holostim.safety.SafetyGate.decide` judges the phase it really shows, the SLM
displays it, and one record with its kind and SHA-256 is made durable. The laser permit
(:class:`~holostim.safety.LaserPermit`, :attr:`Session.laser_permitted`, the ``"permit"`` event) is the
gate's: the SLM's interlock, the last frame's verdict and its record together; every change is logged.
A refused pattern raises :class:`~holostim.safety.TargetRefused` or :class:`~holostim.safety.SafetyError`
with the reason and is neither shown nor logged. ``apply`` may be called from a worker thread (the
GUI's); one lock serialises compute, show and log.

With a ``daq`` section the session opens its DAQ (after the SLM; closed first): every swap pulses
``swap_out``, and light reaches the sample only through :attr:`Session.laser_gate`
(:mod:`holostim.session.laser_gate`), which closes at the top of every frame's way to the SLM.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from holostim.backend import get_backend
from holostim.backend.fft import FFTPlan
from holostim.calibration import Calibration
from holostim.config import SessionConfig, load_config
from holostim.eventlog import EventLog, EventLogError
from holostim.eventlog.records import (
    calibration_record,
    metric,
    refusal_record,
    session_end_record,
    session_header,
)
from holostim.geometry import SLMGeometry, target_refusal
from holostim.hardware.camera import Camera
from holostim.hardware.daq import DAQ
from holostim.hardware.slm import FrameRecord, SLMProtocol
from holostim.holography import HologramEngine, SpotTarget
from holostim.safety import (
    DutyCycleLimit,
    LaserPermit,
    SafetyError,
    SafetyGate,
    TargetRefused,
    Verdict,
    far_field_intensity,
)
from holostim.session import build
from holostim.session.depth_calibration import DepthCalibrating
from holostim.session.errors import SessionError
from holostim.session.field_shift import FieldShift, plan_for
from holostim.session.frame_records import MakeRecord, other_frame_maker, pattern_maker
from holostim.session.gate_wiring import GateWiring
from holostim.session.laser_gate import LaserGate
from holostim.session.listeners import Listeners
from holostim.session.permit_keeper import PermitKeeper
from holostim.session.power import spot_power_fractions
from holostim.session.power_calibration import PowerCalibrating
from holostim.session.prepared import PreparedPattern, PreparedShowing
from holostim.session.preview import Preview
from holostim.session.result import ApplyResult, Target
from holostim.session.warm_start import WarmStart

__all__ = ["EVENTS", "Session"]

log = logging.getLogger(__name__)

EVENTS = ("result", "interlock", "frame", "permit", "gate")

ProgressFn = Callable[[int, int, str], None]


class Session(GateWiring, PreparedShowing, PowerCalibrating, DepthCalibrating):
    """Devices, engine, calibration and log of one rig session (see the module docstring).

    Use :meth:`open`; a session is a context manager.

    Attributes
    ----------
    config : SessionConfig
    path : Path or None
        The session file it was loaded from.
    camera, slm, engine
        The devices and the hologram engine (``camera`` is ``None`` in a session opened without one).
    calibration : Calibration or None
        ``None`` when there is none yet (then :meth:`apply` refuses every target).
    safety : SafetyGate
        The limits every frame passes before it reaches the SLM.
    permit : LaserPermit
        The laser permit (see :attr:`laser_permitted`).
    log : EventLog
        The stimulation log of this run.
    daq : DAQ or None
        The session's DAQ (``None`` without a ``daq`` section): trigger in, swap out, the laser gate.
    laser_gate : LaserGate
        The one driver of the DAQ's gate and power lines (always there; without a DAQ it cannot open).
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
        self.daq: DAQ | None = None
        self._gate_plan: FFTPlan | None = None
        self.safety = SafetyGate(config.safety, self._far_field, self._spot_power)
        self.permit = LaserPermit(config.safety.laser_power_mw)
        self._keeper = PermitKeeper(self.permit, lambda: self.log, lambda: self.safety.permit(self.slm),
                                    self._on_permit)
        self._reshow: Callable[[], object] | None = None  # shows again what the SLM shows now
        self.targets: list[Target] = [Target(t.x, t.y, t.weight, t.group, t.id, t.z_um)
                                      for t in config.targets]
        self.last_result: ApplyResult | None = None
        self._lock = threading.RLock()
        self.laser_gate = LaserGate(None, slm=lambda: self.slm, permit=self.permit_state,
                                    event_log=lambda: self.log, frame_lock=self._lock,
                                    settle_taus=config.slm.settle_taus, on_log_failure=self._gate_log_failed,
                                    emit=lambda is_open, why, t: self._emit("gate", is_open, why, t),
                                    duty=DutyCycleLimit.from_limits(config.safety),
                                    on_duty=lambda ok, why: self._keeper.update(lambda p: p.duty(ok, why)))
        self._listeners = Listeners(EVENTS, error=SessionError, name="session")
        self._unsubscribe: list[Callable[[], None]] = []
        self._preview = Preview(config)
        self._warm = WarmStart(config.engine.warm_start, config.engine.warm_start_max_shift_px)
        self._closed = False
        self._depth_range: tuple[object, float | None] = (None, None)

    # ------------------------------------------------------------------------------------------- building
    @classmethod
    def open(
        cls,
        config: str | Path | SessionConfig,
        *,
        load_calibration: bool = True,
        progress: ProgressFn | None = None,
        camera: bool = True,
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
        camera : bool
            ``False`` opens the SLM, engine, gate and log only (``holostim slm-check``): no camera, no
            calibration (neither loaded nor measured), so every target is refused; test patterns go through
            the gate and the log as always, and the log header's ``camera`` is ``null``.
        """
        if isinstance(config, SessionConfig):
            cfg, path = config, None
        else:
            path = Path(config)
            cfg = load_config(path)
        self = cls(cfg, path)
        try:
            self._build(load_calibration, progress, camera)
        except BaseException:
            self.close()
            raise
        return self

    def _build(self, load_calibration: bool = True, progress: ProgressFn | None = None,
               camera: bool = True) -> None:
        cfg = self.config
        self.slm = build.make_slm(cfg)
        self.daq = self.laser_gate.daq = build.make_daq(cfg)  # after the SLM; its gate starts closed
        if camera:
            self.camera = build.make_camera(cfg, self.slm, self.daq)
        self.engine = build.make_engine(cfg)
        measure = False
        if load_calibration and camera:
            self.calibration, measure = build.load_calibration(cfg, self.slm, self.camera)
        self.log = EventLog.create(cfg.log.directory, self._log_header(), masks=cfg.log.masks)
        log.info("session %r: log %s", cfg.name, self.log.path)
        self._subscribe_slm()
        if measure:  # a simulated rig measures its calibration through the gate, into this log
            cal = self._measure_calibration(cfg.calibration.grid, progress)
            if cfg.calibration.file is not None:
                cal.save(cfg.calibration.file)
                log.info("calibration saved to %s (residual %.3f px)", cfg.calibration.file, cal.residual_px)

    def _log_header(self) -> dict:
        cam = self.camera
        header = session_header(
            session_file=self.path,
            config=self.config.to_dict(),
            calibration=self.calibration.to_dict() if self.calibration is not None else None,
            backend=self.engine.backend.describe(),
            slm=self.slm.describe(),
            camera_backend=self.config.camera.backend if cam is not None else None,
            camera_shape=cam.shape if cam is not None else None,
            camera_name=cam.name if cam is not None else None,
        )
        header["daq"] = build.describe_daq(self.daq)  # which laser gate, if any
        return header

    def _subscribe_slm(self) -> None:
        self._unsubscribe.append(self.slm.add_interlock_listener(self._on_interlock))
        self._unsubscribe.append(self.slm.add_frame_listener(lambda rec: self._emit("frame", rec)))
        self._unsubscribe.append(self.slm.add_frame_listener(self.laser_gate.swap_listener()))

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
            if self._reshow is not None:
                self._reshow()

    # ------------------------------------------------------------------------------------------- listeners
    def add_listener(self, event: str, callback: Callable[..., None]) -> Callable[[], None]:
        """Call ``callback`` on ``event``; returns a function that removes it.

        ``"result"``: ``callback(result: ApplyResult)`` after each pattern is shown (on the caller's
        thread of :meth:`apply`).  ``"permit"``: ``callback(permitted: bool, reason: str)`` on every
        change of the laser permit (:attr:`laser_permitted`: what a banner or a shutter must follow; on
        the thread that changed it).  ``"interlock"``: ``callback(ok: bool, reason: str)`` whenever the
        SLM's own display interlock changes (on the SLM's watchdog thread).  ``"frame"``:
        ``callback(record: FrameRecord)`` for every frame the SLM swaps in -- patterns, calibration
        grids and test patterns alike (on the display's thread).  ``"gate"``: ``callback(is_open: bool,
        reason: str, t: float)`` whenever the laser gate opens or closes (``t`` monotonic; on the thread
        that did it).  GUIs forward all of them through queued signals.
        """
        return self._listeners.add(event, callback)

    def _emit(self, event: str, *args: object) -> None:
        self._listeners.emit(event, *args)

    def _on_interlock(self, permitted: bool, reason: str) -> None:
        if self._closed:
            return
        self._keeper.interlock_changed(permitted, reason)  # the permit first: a listener may read it
        self._emit("interlock", bool(permitted), str(reason))

    # ------------------------------------------------------------------------------------------- the permit
    @property
    def laser_permitted(self) -> bool:
        """The gate's laser permit: interlock ok, last frame passed with light, and its record durable."""
        return self.permit.state[0]

    @property
    def permit_reason(self) -> str:
        """Why the laser is blocked ("" while permitted)."""
        return self.permit.state[1]

    def permit_state(self) -> tuple[bool, str]:
        """``(laser_permitted, reason)`` now, from one reading."""
        return self.permit.state

    def log_refusal(self, x: float, y: float, reason: str, z_um: float = 0.0) -> bool:
        """Log a target the user asked for (at depth ``z_um``) and was refused (the GUI calls it so).

        Returns False when the record could not be made durable (the laser is then blocked).
        """
        self._check_open()
        return self._keeper.append(refusal_record(x, y, reason, z_um))

    def append_record(self, record: dict) -> None:
        """Make one bookkeeping record durable (a protocol's, say); on failure the laser is blocked.

        Raises
        ------
        EventLogError
            The record could not be written (the permit is already blocked with the reason).
        """
        self._check_open()
        if not self._keeper.append(record):
            what = record.get("type", "record")
            raise EventLogError(f"log write failed: the {what!r} record is not logged; the laser is blocked "
                                f"({self.permit_reason})")

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

    def check_target(self, x: float, y: float, z_um: float = 0.0) -> str | None:
        """Why a camera-pixel target at depth ``z_um`` cannot be stimulated, or ``None`` when it can.

        Refused: no calibration, outside the SLM's addressable field, within
        ``calibration.zero_order_radius_px`` of the zero order (which a blazed grating moves, see
        :attr:`zero_order_slm`), or at a depth :meth:`depth_refusal` refuses.
        """
        reason = target_refusal(self.calibration, self.geometry, x, y,
                                self.config.calibration.zero_order_radius_px)
        return reason if reason is not None else self.depth_refusal(z_um)

    def depth_refusal(self, z_um: float) -> str | None:
        """Why no spot can be placed at depth ``z_um`` (sample µm from the focal plane), or ``None``.

        The gate's ``safety.max_depth_um`` first, then the optics' reach: without a defocus model (an
        NA not below the medium index) only the focal plane, and never past the SLM's defocus range
        (:meth:`~holostim.holography.defocus.DefocusModel.max_depth_um`: deeper, its lens would alias).
        """
        reason = self.safety.depth_refusal(float(z_um))
        return reason if reason is not None else self._optics_depth_refusal(float(z_um))

    def _optics_depth_refusal(self, z_um: float) -> str | None:
        if z_um == 0.0:
            return None
        reach = self.depth_range_um
        if reach is None:
            o = self.config.optics
            return (f"depth z = {z_um:+g} µm needs a defocus model, and optics.objective_na "
                    f"{o.objective_na:g} is not below the medium index {o.index:g}: set optics.medium_index "
                    "(oil 1.518) to place spots off the focal plane")
        if abs(z_um) > reach:
            return (f"depth z = {z_um:+g} µm is past this SLM's defocus range of ±{reach:.0f} µm (its "
                    "lens phase would step more than π per pixel and alias); choose a plane nearer focus")
        return None

    def field_shift(self, targets: Sequence[Target]) -> FieldShift | None:
        """The smallest move of all neurons together that lets every one of ``targets`` be stimulated.

        For targets refused for the zero order: the plan (:mod:`holostim.session.field_shift`) says how
        far the stage (or galvos) must move the sample; the pattern then follows the neurons. It is only
        a plan: no device of a session can move the field today. ``None``: no shift fits.
        """
        radius = self.config.calibration.zero_order_radius_px
        return plan_for(targets, self.calibration, self.geometry, radius, self.check_target)

    @property
    def depth_range_um(self) -> float | None:
        """How far (± sample µm) the SLM's defocus reaches from focus; ``None``: no defocus model."""
        model = self.config.defocus_model()
        shape = tuple(self.config.slm.shape)
        key = (model, shape)
        if self._depth_range[0] != key:  # the optics or SLM of the config changed: measure it again
            self._depth_range = (key, None if model is None else model.max_depth_um(shape))
        return self._depth_range[1]

    @property
    def zero_order_slm(self) -> np.ndarray:
        """Where the zero order is in the engine's Fourier pixels ``(x, y)``: ``N//2`` minus the blaze shift.

        For drawing the exclusion zone: ``calibration.slm_to_camera(session.zero_order_slm)``.
        """
        return self.geometry.zero_order_slm

    # ------------------------------------------------------------------------------------------- the loop
    def _check_targets(self, targets: Sequence[Target]) -> list[Target]:
        targets = [t if isinstance(t, Target) else Target(*t) for t in targets]
        self.safety.check_targets(targets, self.check_target, self._optics_depth_refusal)
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

    def _compute_locked(self, targets: Sequence[Target], request_time: float | None,
                        judge: bool = True, budget_ms: float | None = None) -> ApplyResult:
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
        weights, eff = self.power.engine_weights(xy_slm, np.array([t.weight for t in targets], np.float64))
        z = self.engine_depths([t.z_um for t in targets])  # true depths → the engine's, one place
        # One plane for all (a 2-D set moved by the depth map's offset): the 2-D hologram plus that
        # plane's defocus is the same pattern, without a 3-D compute.
        plane = float(z[0]) if (np.all(z == z[0]) and z[0] != 0 and self.engine.defocus is not None) else 0.0
        spot_target = SpotTarget.from_pixels(xy_slm, shape=shape, weights=weights, z=z - plane)
        warm = self._warm.ok(xy_slm)
        kwargs = dict(method=cfg.method, iterations=cfg.iterations, tolerance=cfg.tolerance,
                      budget_ms=cfg.budget_ms if budget_ms is None else float(budget_ms))
        res = self.engine.compute(spot_target, warm_start=warm, **kwargs)
        if warm and self._warm.failed(metric(res.metrics, "efficiency")):
            log.debug("warm start lost the pattern (efficiency %s); computing from scratch",
                      metric(res.metrics, "efficiency"))
            res = self.engine.compute(spot_target, warm_start=False, **kwargs)
            warm = False
        self._warm.remember(xy_slm, metric(res.metrics, "efficiency"))
        phase = np.asarray(res.phase)
        if plane:
            phase = np.mod(phase + self.engine.defocus.phase(plane, shape), 2 * np.pi).astype(phase.dtype)
        result = ApplyResult(
            targets=list(targets),
            targets_slm=xy_slm,
            phase=phase,
            metrics=res.metrics,
            timings=res.timings,
            iterations=int(res.iterations),
            method=cfg.method,
            t_request=t_request,
            t_computed=time.monotonic(),
            warm_started=warm,
            efficiency=eff,
            depths_engine_um=None if self.calibration.depth_map is None else z,
        )
        if judge:  # a preview is judged like a frame; apply judges the frame it shows instead
            result.predicted_power_mw = self.safety.decide("pattern", result.phase,
                                                           result.spots_slm).predicted_power_mw
        return result

    def show(self, result: ApplyResult) -> ApplyResult:
        """Show a computed result on the SLM and log it.

        The targets are checked again, and the gate judges the phase the frame really shows, not the
        result's metrics or claimed power: a result whose phase was replaced is judged by that phase.
        """
        with self._lock:
            self._check_open()
            self._check_targets(result.targets)
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
            result = self._compute_locked(targets, request_time, judge=False)
            self._show_locked(result)
        self._emit("result", result)
        return result

    def _show_locked(self, result: ApplyResult, remember: bool = True) -> None:
        make = pattern_maker(result, self.geometry.slm_to_sample_um)
        rec, verdict, record = self._show_frame("pattern", make, phase=result.phase,
                                                targets_slm=result.spots_slm)
        result.frame_record = rec
        result.frame = np.asarray(rec.frame)
        result.record = record
        if remember:
            self.last_result = result
            self.targets = list(result.targets)
            self._reshow = lambda: self._show_locked(result)
        self._open_gate_interactive(rec, verdict, {"kind": "pattern"})

    def show_test_pattern(self, frame: np.ndarray, name: str) -> FrameRecord:
        """Show a ready uint8 test pattern (``kind`` ``test_pattern``), logged with its hash.

        The laser stays blocked while it is shown, unless ``safety.test_patterns_with_laser`` is set
        (and then only within the power limits).
        """
        with self._lock:
            self._check_open()
            return self._show_test_locked(np.asarray(frame), str(name))

    def _show_test_locked(self, frame: np.ndarray, name: str) -> FrameRecord:
        make = other_frame_maker("test_pattern", name, None)
        rec, verdict, _ = self._show_frame("test_pattern", make, gray=frame)
        self._reshow = lambda: self._show_test_locked(frame, name)
        self._open_gate_interactive(rec, verdict, {"kind": "test_pattern", "name": name})
        return rec

    def _show_frame(self, kind: str, make_record: MakeRecord, *, phase: object = None,
                    gray: np.ndarray | None = None, targets_slm: np.ndarray | None = None,
                    judged: PreparedPattern | None = None) -> tuple[FrameRecord, Verdict, dict]:
        """The one way a frame reaches the SLM: make it, judge it, display it, log it, update the permit.

        The gate judges the phase the finished frame shows (its gray levels back to retardance, minus the
        SLM's corrections: the engine's coordinates), before it is displayed; a refused pattern leaves
        the SLM and the log as they were. A frame without light blocks the laser before it is displayed;
        one with light permits it only once its record is durable. Any failure after the frame was made
        blocks the laser with the reason. ``judged``: a prepared pattern whose frame this is, already
        judged by this gate (:meth:`show_prepared` has checked it is the same light).
        """
        self._check_open()
        # The laser gate closes before any new frame is loaded, and no older frame may open it again.
        self.laser_gate.before_frame(kind)
        rec = self.slm.load(phase) if gray is None else self.slm.load_gray(gray)
        try:
            if judged is not None:
                verdict = judged.verdict
            else:
                verdict = self.safety.decide(kind, self._shown_phase(rec.frame), targets_slm,
                                             calibration_power_mw=self.config.calibration.laser_power_mw)
        except (SafetyError, TargetRefused):
            raise  # not shown: the permit stays with the frame the SLM still shows
        except Exception as exc:
            why = f"the safety check of a {kind} frame failed: {exc}"
            self._keeper.update(lambda p: p.fail(why))
            raise
        try:
            self._keeper.update(lambda p: p.showing(verdict))
            self.slm.display(rec)
            # The swap happens on the display's thread; wait for it (a few frames at most) so the record
            # carries the real swap time -- except on the main thread, whose event loop does the swap.
            if rec.t_swapped is None and threading.current_thread() is not threading.main_thread():
                rec.wait_swapped(max(0.25, 10 * self.config.slm.frame_period_ms / 1e3))
            ok, why = self.safety.permit(self.slm)
            record = make_record(rec, verdict, self._camera_frame_index(), verdict.light and ok,
                                 verdict.reason or why)
            if judged is not None:
                record["frame_hash"] = judged.frame_sha256  # checked against the frame: no second hash
            written = self.log.append(record, frame=np.asarray(rec.frame))
        except EventLogError as exc:
            why = f"log write failed, the {kind} frame is not logged: {exc}"
            self._keeper.update(lambda p: p.fail(why))
            raise
        except BaseException as exc:
            why = f"showing a {kind} frame failed: {exc}"
            self._keeper.update(lambda p: p.fail(why))
            raise
        # The permit hears the interlock only from the SLM's watchdog, so it never holds a state the
        # watchdog did not report (an "on" it never saw would make it miss the next "off").
        self.slm.check_interlock()
        self._keeper.update(lambda p: p.logged(verdict))
        return rec, verdict, written

    def _shown_phase(self, frame: np.ndarray) -> np.ndarray:
        """The phase a frame shows in the engine's coordinates: its gray levels' retardance − corrections."""
        return self.slm.gray_to_phase(frame) - self.slm.correction_phase

    def _far_field(self, phase: np.ndarray) -> np.ndarray:
        """Focal-plane intensity (sums to 1) of a phase: the engine's model, with its beam and padding.

        The gate runs on the CPU, under the session lock, with a planned FFT of its own (made on first
        use; FFTW's wisdom cache makes that quick after the first run on a machine).
        """
        p = self.engine.padding
        shape = (p * phase.shape[0], p * phase.shape[1])
        if self._gate_plan is None or tuple(self._gate_plan.shape) != shape:
            self._gate_plan = get_backend("numpy", "single").new_fft_plan(shape)
        far = far_field_intensity(phase, self.engine.source_amplitude, p, plan=self._gate_plan)
        return far * self.power.grid(shape, p)  # what reaches the sample: the pixels' envelope too

    def _spot_power(self, phase: np.ndarray, spots: np.ndarray) -> np.ndarray:
        """Each spot's share of the light at the sample, at its own position and depth (for the gate)."""
        return spot_power_fractions(phase, spots, self.engine.source_amplitude, self.engine.defocus,
                                    self.power.at(spots[:, :2]))

    def _camera_frame_index(self) -> int | None:
        """The camera's latest frame counter now (``None`` before its first streamed frame)."""
        latest = getattr(self.camera, "latest", None)
        frame = latest() if latest is not None else None
        return None if frame is None else int(frame.counter)

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

        Every calibration frame goes through the gate (kind ``calibration``, judged at
        ``calibration.laser_power_mw``; the laser stays blocked when that is not set or a spot would be
        over a limit) and is logged; afterwards the SLM shows again what it showed before, through the
        gate too. A ``"calibration"`` record says when the calibration changed.
        """
        with self._lock:
            self._check_open()
            if self.camera is None:
                raise SessionError("this session was opened without a camera: it cannot calibrate")
            return self._measure_calibration(grid or self.config.calibration.grid, progress)

    def _measure_calibration(self, grid: int, progress: ProgressFn | None) -> Calibration:
        try:
            cal = build.calibrate(self.config, self.engine, self.slm, self.camera, grid, progress,
                                  show=self._show_calibration_frame)
        except BaseException:
            try:
                self._restore_frame()
            except Exception:
                log.exception("showing the previous frame again after a failed calibration failed")
            raise
        self._restore_frame()
        self.calibration = cal
        self._warm.forget()  # the engine now holds a calibration grid, not a pattern
        self.log.append(calibration_record(cal.to_dict()))
        return cal

    def _restore_frame(self) -> None:
        """Show again what the SLM showed before a calibration (a flat phase, laser blocked, if nothing)."""
        if self._reshow is not None:
            self._reshow()
            return
        flat = ApplyResult(targets=[], targets_slm=np.zeros((0, 2)), phase=np.zeros(tuple(self.slm.shape),
                           np.float32), metrics=None, timings=None, iterations=0, method="none",
                           t_request=time.monotonic(), t_computed=time.monotonic())
        self._show_locked(flat, remember=False)

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

        targets = [TargetConfig(x=t.x, y=t.y, weight=t.weight, group=t.group, id=t.id, z_um=t.z_um)
                   for t in self.targets]
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
        """Close the laser gate, block the laser, end the log, close the DAQ, log, camera and SLM.

        The gate closes first of all, and the DAQ is the first device closed (its gate line stays off).

        Safe to call twice. A log without its ``session_end`` record was ended by a crash or power loss.
        """
        with self._lock:
            if self._closed:
                return
            try:
                self.laser_gate.shut("the session is closed")
            except Exception:  # the DAQ is closed below whatever happened here
                log.exception("closing the laser gate failed")
            self._unsubscribe_slm()
            if self.log is not None and self.slm is not None:
                self._keeper.update(lambda p: p.fail("the session is closed"))
                n = self.log.n_records
                self._keeper.append(session_end_record(n))
            self._closed = True
            for name in ("daq", "log", "camera", "slm"):
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
