"""The session's depths: a target's ``z_um`` through the measured axial map, and measuring that map.

A target's ``z_um`` is a true depth in the sample (µm from the camera's focal plane). The engine places
spots at *nominal* depths, those of the session's defocus model; :meth:`DepthCalibrating.engine_depths`
is the one place one becomes the other — through the calibration's
:class:`~holostim.calibration.depth_map.DepthMap` when ``holostim calibrate --depth`` measured one, as
it is otherwise. The compute, a prepared library frame and the gate's per-spot depths all ask it.

:meth:`DepthCalibrating.calibrate_depth` measures the map (:mod:`holostim.calibration.depth_procedure`)
as :mod:`holostim.session.power_calibration` measures the power map: a mixin of
:class:`~holostim.session.Session`, every frame a ``calibration`` frame through
:meth:`Session._show_frame` (judged at ``calibration.laser_power_mw`` with each spot at its depth,
logged with its hash), the SLM showing again what it showed before, and the focus put back where it was.
The map is installed in the session's calibration and a ``calibration`` record says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from holostim.calibration import Calibration
from holostim.calibration.depth_procedure import DepthMeasurement, measure_depth_map
from holostim.eventlog.records import calibration_record
from holostim.session.errors import SessionError

if TYPE_CHECKING:
    from holostim.session.session import ProgressFn

__all__ = ["DepthCalibrating"]


class DepthCalibrating:
    """:meth:`engine_depths` and :meth:`calibrate_depth` for :class:`~holostim.session.Session`."""

    last_depth_measurement: DepthMeasurement | None = None

    def engine_depths(self, z_um: Sequence[float] | np.ndarray) -> np.ndarray:
        """The engine's (nominal) depths for true target depths ``z_um`` (µm): the depth map's inverse.

        Without a measured map, the depths themselves (the defocus model is taken at its word); also
        without a defocus model (an engine that places no depth: its 2-D targets must stay 2-D, and the
        compute refuses 3-D ones with the reason).
        """
        s: Any = self
        z = np.asarray(z_um, dtype=np.float64).reshape(-1)
        cal = s.calibration
        dm = None if cal is None else cal.depth_map
        if dm is None or getattr(s.engine, "defocus", None) is None:
            return z.copy()
        return dm.nominal_um(z)

    def calibrate_depth(self, depths_um: Sequence[float] | None = None, progress: ProgressFn | None = None,
                        *, grid: int = 3) -> Calibration:
        """Measure the axial map with the camera's focus drive and install it in the session's calibration.

        Needs the camera ↔ SLM calibration, the engine's defocus model and a camera whose imaged plane
        can be moved (a ``focus_um`` property, as the simulated camera has). ``depths_um``: the focus
        positions (true µm; default: five across ±4 axial resolutions); ``grid`` spots per side (3 to
        7). Returns the calibration with its new ``depth_map`` (save it with :meth:`save_calibration`);
        the sweeps are kept in :attr:`last_depth_measurement`.
        """
        s: Any = self  # the Session
        with s._lock:
            s._check_open()
            if s.camera is None:
                raise SessionError("this session was opened without a camera: it cannot calibrate")
            if s.calibration is None:
                raise SessionError("no camera ↔ SLM calibration: run `holostim calibrate` first (the depth "
                                   "calibration needs to know where each spot lands on the camera)")
            if s.engine.defocus is None:
                raise SessionError("depth calibration needs a defocus model: optics.objective_na must be "
                                   "below optics.medium_index (set medium_index for an oil objective)")
            camera = s.camera
            start = getattr(camera, "focus_um", None)
            if start is None:
                raise SessionError(f"camera {camera.name!r} has no focus drive holostim can move (a "
                                   "focus_um property); depth calibration steps the imaged plane through "
                                   "known depths (the simulated camera has one)")

            def set_focus(um: float) -> None:
                camera.focus_um = um

            try:
                m = measure_depth_map(
                    s.engine, s.slm, camera, s.calibration, set_focus=set_focus, depths_um=depths_um,
                    grid=grid, zero_order_radius_px=s.config.calibration.zero_order_radius_px,
                    progress=progress, show=s._show_calibration_frame)
            finally:
                camera.focus_um = start
                s._restore_frame()
            cal = dataclasses.replace(s.calibration, depth_map=m.depth_map)  # the affine, power map kept
            s.calibration = cal
            s._warm.forget()  # the engine now holds a calibration pattern
            s.last_depth_measurement = m
            s.log.append(calibration_record(cal.to_dict()))
            return cal
