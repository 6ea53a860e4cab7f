"""The session's power per spot: its efficiency model, and measuring the map through its gate and log.

:attr:`PowerCalibrating.power` is the session's :class:`~holostim.session.power.PowerModel` (made on first
use from ``slm.fill_factor`` and ``engine.power_compensation``; it reads the session's geometry and
calibration live). A mixin of :class:`~holostim.session.Session`, like :mod:`holostim.session.prepared`:
every frame of the measurement is a ``calibration`` frame through :meth:`Session._show_frame` (judged at
``calibration.laser_power_mw``, logged with its hash), and afterwards the SLM shows again what it showed
before. The measured map is installed in the session's calibration (the session's power model reads it
at once) and a ``calibration`` record says so.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from holostim.calibration import Calibration
from holostim.calibration.power_procedure import PowerMeasurement, measure_power_map
from holostim.eventlog.records import calibration_record
from holostim.session.errors import SessionError
from holostim.session.power import PowerModel

if TYPE_CHECKING:
    from holostim.session.session import ProgressFn

__all__ = ["PowerCalibrating"]


class PowerCalibrating:
    """:attr:`power` and :meth:`calibrate_power` for :class:`~holostim.session.Session`."""

    last_power_measurement: PowerMeasurement | None = None
    _power: PowerModel | None = None

    @property
    def power(self) -> PowerModel:
        """The efficiency per spot (compensation and prediction; ``power.compensate`` may be switched)."""
        if self._power is None:
            cfg = self.config
            self._power = PowerModel(cfg.slm.fill_factor, cfg.engine.power_compensation,
                                     lambda: self.geometry, lambda: self.calibration)
        return self._power

    def calibrate_power(self, grid: int | None = None, progress: ProgressFn | None = None, *,
                        degree: int = 4) -> Calibration:
        """Measure the efficiency map across the field and install it in the session's calibration.

        Needs the camera ↔ SLM calibration. ``grid`` spots per side (3 to 7; default 7) over 85 % of
        the field; ``degree`` of the smooth map. Returns the calibration with its new ``power_map``
        (save it with :meth:`save_calibration`); the spots and their measured efficiencies are kept in
        :attr:`last_power_measurement`.
        """
        s = self  # the Session
        with s._lock:
            s._check_open()
            if s.camera is None:
                raise SessionError("this session was opened without a camera: it cannot calibrate")
            if s.calibration is None:
                raise SessionError("no camera ↔ SLM calibration: run `holostim calibrate` first (the power "
                                   "calibration needs to know where each spot lands on the camera)")

            cfg = s.config
            try:
                m = measure_power_map(
                    s.engine, s.slm, s.camera, s.calibration, fill_factor=cfg.slm.fill_factor,
                    zero_order=s.geometry.zero_order_slm, grid=grid or 7,
                    zero_order_radius_px=cfg.calibration.zero_order_radius_px, degree=degree,
                    progress=progress, show=s._show_calibration_frame)
            finally:
                s._restore_frame()
            cal = s.calibration
            cal = dataclasses.replace(cal, power_map=m.power_map)  # the affine and any depth map kept
            s.calibration = cal
            s._warm.forget()  # the engine now holds a calibration pattern, and the weights change
            s.last_power_measurement = m
            s.log.append(calibration_record(cal.to_dict()))
            return cal
