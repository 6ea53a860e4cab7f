"""From a validated session config to a rig: the SLM, the camera, the hologram engine and the calibration.

Each step is a function of the config and what the steps before built, so the session can keep every
device it already holds and close them all if a later step fails. In simulation with no calibration file
(or a missing or stale one) the session measures a quick calibration against the simulated rig (through
its safety gate and log) and saves it, so the whole loop works on first start; a real rig never
recalibrates silently: a calibration measured for other devices is an error that says to run
``holostim calibrate``.

No Qt here: the OpenGL SLM's window module is imported only when such a session is opened (on the GUI
thread of a running Qt application).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from holostim.calibration import Calibration, run_calibration
from holostim.calibration.procedure import ShowFn
from holostim.config import SessionConfig
from holostim.hardware.camera import Camera, open_camera
from holostim.hardware.daq import DAQ
from holostim.hardware.registry import backend_class
from holostim.hardware.slm import SLMProtocol
from holostim.holography import HologramEngine
from holostim.session.errors import SessionError

__all__ = ["calibrate", "calibration_mismatch", "describe_daq", "load_calibration", "make_camera", "make_daq",
           "make_engine", "make_slm"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]


def make_slm(cfg: SessionConfig) -> SLMProtocol:
    """The SLM of ``cfg.slm``: the registry's backend of that name, built from the section.

    The OpenGL backend's module (Qt) is imported only here, when such a session is opened.
    """
    return backend_class("slm", cfg.slm.backend).from_config(cfg.slm, cfg.safety)


def make_daq(cfg: SessionConfig) -> DAQ | None:
    """The DAQ of ``cfg.daq`` (the registry's backend of that name, with the section's keys), or ``None``.

    A DAQ that is not there raises its own one-line :class:`~holostim.hardware.daq.DaqError` (which device,
    how to fix it); its gate starts closed.
    """
    section = cfg.daq
    if section is None:
        return None
    return backend_class("daq", section.backend)(**section.options())


def describe_daq(daq: DAQ | None) -> dict | None:
    """What the log header says about the session's DAQ (``None``: no DAQ, so no laser gate)."""
    if daq is None:
        return None
    pc = daq.power_calibration
    out = {"backend": type(daq).__name__, "swap_pulse_ms": daq.swap_pulse_ms,
           "power_ao": bool(daq.has_power_ao and pc is not None),
           "power_range_mw": None if pc is None else [pc.min_mw, pc.max_mw]}
    for attr in ("port", "firmware_version", "watchdog_ms"):  # the serial board says which it is
        value = getattr(daq, attr, None)
        if isinstance(value, (str, int, float)):
            out[attr] = value
    return out


def make_camera(cfg: SessionConfig, slm: SLMProtocol, daq: DAQ | None = None) -> Camera:
    """The camera of ``cfg.camera``; the simulated one looks through the (simulated) ``slm``.

    With a DAQ, the simulated laser is behind its gate: the simulated sample is lit at ``t`` only if the
    gate was open at ``t`` (the simulated DAQ's line history; another DAQ's host-side state).
    """
    options = cfg.camera.options()
    if cfg.camera.backend == "simulated":
        if cfg.slm.backend != "simulated":
            raise SessionError(
                "camera.backend 'simulated' needs slm.backend 'simulated' (the simulated camera looks "
                "through the simulated SLM); use a real camera backend with a real SLM"
            )
        options.update(cfg.simulated_camera_kwargs())
        options["slm"] = slm
        if daq is not None:
            options["laser_on"] = getattr(daq, "gate_open_at", None) or (lambda t: daq.gate_open)
        full = cfg.safety.laser_power_mw
        if daq is not None and daq.has_power_ao and daq.power_calibration is not None:
            options["laser_mw"] = lambda t: daq.power_mw if daq.power_mw is not None else full
        else:
            options["laser_mw"] = full
    return open_camera(cfg.camera.backend, **options)


def make_engine(cfg: SessionConfig) -> HologramEngine:
    """The hologram engine of ``cfg.engine`` (shape of the SLM)."""
    return HologramEngine(**cfg.engine_kwargs())


def calibrate(cfg: SessionConfig, engine: HologramEngine, slm: SLMProtocol, camera: Camera, grid: int,
              progress: ProgressFn | None = None, show: ShowFn | None = None) -> Calibration:
    """Measure the camera ↔ SLM calibration with these devices (``cfg.calibration``'s zero-order radius).

    ``show`` puts each frame on the SLM (the session's gate and log); the session re-shows its own
    frame afterwards, so the procedure does not restore one behind the gate's back.
    """
    return run_calibration(engine, slm, camera, grid=grid, progress=progress, show=show,
                           restore=show is None, zero_order_radius_px=cfg.calibration.zero_order_radius_px)


def calibration_mismatch(
    cfg: SessionConfig, cal: Calibration, slm: SLMProtocol, camera: Camera
) -> str | None:
    """Why a loaded calibration does not belong to these devices, or ``None``.

    Other shapes are always a mismatch; another camera name is one in simulation (the name identifies the
    simulated rig) and only a warning on a real rig (a camera may be renamed).
    """
    slm_shape = tuple(slm.shape)
    cam_shape = tuple(camera.shape)
    if tuple(cal.slm_shape) != slm_shape or tuple(cal.camera_shape) != cam_shape:
        return (f"was measured with SLM {tuple(cal.slm_shape)} and camera {tuple(cal.camera_shape)}, "
                f"but this session has SLM {slm_shape} and camera {cam_shape}")
    cam_name = str(camera.name)
    if cal.camera_id and cam_name and cal.camera_id != cam_name:
        if cfg.simulated:
            return f"belongs to camera {cal.camera_id!r}, not this simulated rig ({cam_name!r})"
        log.warning("calibration was measured with camera %r; this session's camera is %r",
                    cal.camera_id, cam_name)
    return None


def load_calibration(cfg: SessionConfig, slm: SLMProtocol, camera: Camera) -> tuple[Calibration | None, bool]:
    """``(calibration, measure)``: the one from ``calibration.file``, and whether to measure one now.

    ``measure`` is True on a simulated rig (with ``auto_in_simulation``) whose file is missing or was
    measured for other devices: the session then measures through its own gate and log, and saves it.

    Raises
    ------
    SessionError
        The file belongs to other devices and this is not a simulated rig with ``auto_in_simulation``.
    """
    cal_cfg = cfg.calibration
    auto = cfg.simulated and cal_cfg.auto_in_simulation
    if cal_cfg.file is not None and cal_cfg.file.is_file():
        cal = Calibration.load(cal_cfg.file)
        problem = calibration_mismatch(cfg, cal, slm, camera)
        if problem is None:
            return cal, False
        if not auto:
            raise SessionError(f"calibration {str(cal_cfg.file)!r} {problem}; run `holostim calibrate` again")
        log.warning("calibration %s %s; recalibrating the simulated rig", cal_cfg.file, problem)
    elif auto:
        log.info("no calibration file %s: calibrating the simulated rig", cal_cfg.file or "set")
    if auto:
        return None, True
    if cal_cfg.file is not None:
        log.warning("calibration file %s does not exist; run `holostim calibrate`", cal_cfg.file)
    return None, False
