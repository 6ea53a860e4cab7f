"""What ``Session.open`` would refuse, checked when a session is validated, without opening a device.

"Valid" must mean "the session opens": otherwise ``holostim check-config`` passes a file that the GUI
then refuses, or a calibration runs for minutes before its output path turns out to be a directory.
The checks that need only files and the other sections are therefore made by the schema itself
(:class:`~holostim.config.schema.SessionConfig`'s model validator calls :func:`check_session`):

- device combinations the session builder refuses (the simulated camera looks through the simulated
  SLM, so it cannot be paired with a real one);
- ``calibration.file``: not a directory, not under ``/proc``, ``/sys`` or ``/dev``, in a folder that can
  be one; if it exists, it parses as a holostim calibration (:meth:`Calibration.load`'s checks) and was
  measured for this SLM's shape — and, on the simulated rig, whose camera and optics the session
  describes completely, for this camera's shape, id and handedness. A mismatch is an error unless the
  simulated rig recalibrates on open (``calibration.auto_in_simulation``), exactly as at open.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from holostim.calibration import Calibration, CalibrationError, check_save_path

if TYPE_CHECKING:
    from holostim.config.schema import SessionConfig

__all__ = ["check_calibration_path", "check_session", "neurons_that_fit", "refuse"]


def check_calibration_path(path: Path | None) -> Path | None:
    """``calibration.file`` as a place a calibration can be read from and written to (``ValueError``).

    The rules of :meth:`Calibration.save` (:func:`~holostim.calibration.check_save_path`), and an existing
    file must load as a calibration.
    """
    if path is None:
        return None
    try:
        check_save_path(path)
        if path.exists():
            Calibration.load(path)
    except CalibrationError as exc:
        raise ValueError(str(exc)) from None
    return path


def neurons_that_fit(shape: tuple[int, int], radius_px: float) -> int:
    """About the most neurons :class:`holostim.sim.sample.Sample` can place on ``shape`` (random packing).

    Neurons keep 2.2 radii apart and 1.5 radii from the edge; random sequential placement jams at 54.7 %
    of the plane covered by the exclusion disks (diameter 2.2 radii) and slows down long before: up to
    50 % coverage it succeeds in about a second on the default 512² field, so that is the bound.
    """
    h, w = shape
    margin, spacing = 1.5 * radius_px, 2.2 * radius_px
    area = max(0.0, w - 1 - 2 * margin) * max(0.0, h - 1 - 2 * margin)
    return int(0.5 * area / (math.pi * (spacing / 2) ** 2)) + 1


def refuse(loc: tuple[str, ...], message: str, value: Any) -> None:
    """Raise a ``ValidationError`` at ``loc``: a model validator's ``ValueError`` has no location."""
    raise ValidationError.from_exception_data("SessionConfig", [InitErrorDetails(
        type=PydanticCustomError("session_combination", message), loc=loc, input=value)])


def check_session(cfg: SessionConfig) -> None:
    """Raise a located ``ValidationError`` for what :func:`holostim.session.Session.open` would refuse."""
    if cfg.camera.backend == "simulated" and cfg.slm.backend != "simulated":
        refuse(("camera", "backend"), f"camera.backend 'simulated' needs slm.backend 'simulated' (the "
                f"simulated camera looks through the simulated SLM), not {cfg.slm.backend!r}; name a real "
                "camera backend in the camera section", "simulated")
    path = cfg.calibration.file
    if path is not None and path.is_file():
        problem = _calibration_mismatch(cfg, Calibration.load(path))
        if problem is not None and not (cfg.simulated and cfg.calibration.auto_in_simulation):
            refuse(("calibration", "file"), f"calibration {str(path)!r} {problem}; run `holostim calibrate` "
                    "again", str(path))


def _calibration_mismatch(cfg: SessionConfig, cal: Calibration) -> str | None:
    """Why ``cal`` does not belong to the devices ``cfg`` describes (what is known without opening them)."""
    if tuple(cal.slm_shape) != tuple(cfg.slm.shape):
        return (f"was measured with SLM shape {tuple(cal.slm_shape)}, but this session's is "
                f"{tuple(cfg.slm.shape)}")
    if cfg.camera.backend != "simulated":
        return None  # a real camera's shape and name are known only once it is open (checked then)
    if tuple(cal.camera_shape) != tuple(cfg.simulation.shape):
        return (f"was measured with camera shape {tuple(cal.camera_shape)}, but this simulated camera's is "
                f"{tuple(cfg.simulation.shape)}")
    name = cfg.simulated_camera_kwargs()["name"]
    if cal.camera_id and cal.camera_id != name:
        return f"belongs to camera {cal.camera_id!r}, not this simulated rig ({name!r})"
    if cal.mirrored != cfg.simulation.ground_truth.mirror:
        return (f"is {'' if cal.mirrored else 'not '}mirrored, but this simulated rig's optics "
                f"{'flip' if cfg.simulation.ground_truth.mirror else 'do not flip'} the image "
                "(simulation.ground_truth.mirror)")
    return None
