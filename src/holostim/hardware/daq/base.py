"""The DAQ device: TTL in, a swap pulse out, the laser gate, and an optional analog power line.

A DAQ is what ties the SLM to the laser on a rig. Four lines, each optional except the gate:

- ``trigger_in`` — a digital input; :meth:`DAQ.trigger_in` waits for a rising edge (with a timeout)
  and returns its time on the DAQ's clock, or ``None``;
- ``swap_out`` — a digital output pulsed by :meth:`DAQ.swap_out` on every real SLM swap;
- ``gate_out`` — the shutter / Pockels enable, digital. It is **closed** when the device opens, when it
  closes, and whenever a call to the device fails (the base closes it before the error propagates);
- ``power_ao`` — an analog Pockels voltage, set in mW through a :class:`PowerCalibration` (a table of
  (mW, V) pairs measured with a photodiode, or polynomial coefficients); a power outside the
  calibrated range is refused.

A backend subclasses :class:`DAQ` and implements ``_write_gate``, ``_pulse_swap``, ``_wait_edge`` and,
if it has the line, ``_write_ao``; it brings an ``Options`` model (a subclass of :class:`DAQOptions`)
whose fields are the keys of the session's ``daq`` section for that backend. Times come from an
injectable ``clock`` (seconds, monotonic), so tests never depend on the wall clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from holostim.errors import HolostimError

Clock = Callable[[], float]


class DaqError(HolostimError, RuntimeError):
    """A DAQ that cannot be opened or used; the message is one line that says how to fix it."""


class DaqNotFoundError(DaqError):
    """The DAQ device (or its driver) is not there."""


class PowerCalibrationError(DaqError, ValueError):
    """A power calibration that is not usable, or a power outside its calibrated range."""


class PowerCalibration:
    """Laser power (mW at the sample) → Pockels voltage (V).

    From a table of ``(mW, V)`` pairs (measured with a photodiode): powers strictly increasing, voltages
    strictly monotonic, interpolated piecewise linearly (monotonic between the points). Or from
    polynomial coefficients ``V = c0 + c1·mW + c2·mW² + ...`` over ``[0, max_mw]``, which must be
    monotonic over that range. A power outside the calibrated range is refused, never extrapolated.
    """

    def __init__(self, table: Sequence[tuple[float, float]] | None = None, *,
                 polynomial: Sequence[float] | None = None, max_mw: float | None = None):
        if (table is None) == (polynomial is None):
            raise PowerCalibrationError("a power calibration is either a table of (mW, V) pairs or "
                                        "polynomial coefficients, not both or neither")
        self._poly: np.ndarray | None = None
        if table is not None:
            pts = np.asarray(table, dtype=float)
            if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2 or not np.isfinite(pts).all():
                raise PowerCalibrationError("a power calibration table needs at least two finite "
                                            "(mW, V) pairs")
            mw, volts = pts[:, 0], pts[:, 1]
            if (mw < 0).any() or not (np.diff(mw) > 0).all():
                raise PowerCalibrationError("power calibration: the mW values must be ≥ 0 and strictly "
                                            f"increasing, got {mw.tolist()}")
            dv = np.diff(volts)
            if not ((dv > 0).all() or (dv < 0).all()):
                raise PowerCalibrationError("power calibration: the voltages must be strictly monotonic "
                                            f"in mW, got {volts.tolist()}")
            self._mw, self._volts = mw, volts
            self.min_mw, self.max_mw = float(mw[0]), float(mw[-1])
        else:
            coeffs = np.asarray(polynomial, dtype=float)
            if coeffs.ndim != 1 or len(coeffs) < 2 or not np.isfinite(coeffs).all():
                raise PowerCalibrationError("power calibration: polynomial needs at least two finite "
                                            "coefficients (c0, c1, ...)")
            if max_mw is None or not (np.isfinite(max_mw) and max_mw > 0):
                raise PowerCalibrationError("power calibration: a polynomial needs max_mw > 0 (the "
                                            "highest calibrated power)")
            grid = np.linspace(0.0, float(max_mw), 1025)
            dv = np.diff(np.polynomial.polynomial.polyval(grid, coeffs))
            if not ((dv > 0).all() or (dv < 0).all()):
                raise PowerCalibrationError("power calibration: the polynomial is not monotonic over "
                                            f"0..{max_mw} mW")
            self._poly = coeffs
            self.min_mw, self.max_mw = 0.0, float(max_mw)

    def volts(self, mw: float) -> float:
        """The voltage for ``mw``; refuses a power outside the calibrated range."""
        mw = float(mw)
        if not np.isfinite(mw) or mw < self.min_mw or mw > self.max_mw:
            raise PowerCalibrationError(f"laser power {mw} mW is outside the power calibration's range "
                                        f"{self.min_mw}..{self.max_mw} mW; calibrate that range first")
        if self._poly is not None:
            return float(np.polynomial.polynomial.polyval(mw, self._poly))
        return float(np.interp(mw, self._mw, self._volts))


class PowerCalibrationOptions(BaseModel):
    """The ``daq.power_calibration`` keys: ``table`` of [mW, V] pairs, or ``polynomial`` + ``max_mw``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: list[tuple[float, float]] | None = Field(None, description="[[mW, V], ...] photodiode points")
    polynomial: list[float] | None = Field(None, description="V = c0 + c1·mW + ...")
    max_mw: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="highest calibrated power (with polynomial)")

    @model_validator(mode="after")
    def _check(self) -> PowerCalibrationOptions:
        self.build()  # the same checks as at run time, so a valid session opens
        return self

    def build(self) -> PowerCalibration:
        """The :class:`PowerCalibration` these keys describe."""
        try:
            return PowerCalibration(self.table, polynomial=self.polynomial, max_mw=self.max_mw)
        except PowerCalibrationError as e:
            raise ValueError(str(e)) from None


class DAQOptions(BaseModel):
    """The keys of a session's ``daq`` section that every backend takes; a backend adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    swap_pulse_ms: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = Field(
        1.0, description="length of the swap_out pulse")
    power_calibration: PowerCalibrationOptions | None = Field(
        None, description="mW → Pockels volts for power_ao; none: no analog power line")

    def options(self) -> dict[str, Any]:
        """Keyword arguments of the backend's constructor (without the session's ``backend`` tag)."""
        out = {k: getattr(self, k) for k in type(self).model_fields if k != "backend"}
        pc = out.pop("power_calibration")
        out["power_calibration"] = pc.build() if pc is not None else None
        return out


class DAQ:
    """The base of every DAQ backend: the gate's fail-safe rules, the power calibration, the clock."""

    Options: ClassVar[type[DAQOptions]] = DAQOptions
    has_power_ao: ClassVar[bool] = False
    """Whether the backend has an analog power line at all."""

    def __init__(self, *, swap_pulse_ms: float = 1.0, power_calibration: PowerCalibration | None = None,
                 clock: Clock = time.monotonic):
        self.clock = clock
        self.swap_pulse_ms = float(swap_pulse_ms)
        self.power_calibration = power_calibration
        self._gate = False
        self._closed = False
        self._lock = threading.RLock()
        self.power_mw: float | None = None

    # -- what a backend implements -------------------------------------------------------------
    def _write_gate(self, is_open: bool) -> None:
        raise NotImplementedError

    def _pulse_swap(self, ms: float) -> None:
        raise NotImplementedError

    def _wait_edge(self, timeout_s: float, since: float) -> float | None:
        raise NotImplementedError

    def _write_ao(self, volts: float) -> None:
        raise DaqError(f"{type(self).__name__} has no power_ao line")

    def _release(self) -> None:
        """Free the device (after the gate is closed)."""

    # -- the device ----------------------------------------------------------------------------
    def _start(self) -> None:
        """Call at the end of a backend's constructor: the gate starts closed."""
        self._call(self._write_gate, False)
        self._gate = False

    @property
    def gate_open(self) -> bool:
        """Whether the host has the gate open (False after any failure)."""
        return self._gate

    def open_gate(self) -> None:
        """Let light through (the gating rules are the caller's; this is the line)."""
        with self._lock:
            self._check_open()
            self._call(self._write_gate, True)
            self._gate = True

    def close_gate(self) -> None:
        """Block the light; a no-op on a closed device (whose gate is already closed)."""
        with self._lock:
            if self._closed:
                return
            self._gate = False
            self._call(self._write_gate, False)

    def swap_out(self) -> None:
        """One pulse of ``swap_pulse_ms`` on the swap line (call on every real SLM swap)."""
        with self._lock:
            self._check_open()
            self._call(self._pulse_swap, self.swap_pulse_ms)

    def trigger_in(self, timeout_s: float, since: float | None = None) -> float | None:
        """Wait up to ``timeout_s`` for a rising edge on the trigger line, at or after ``since``.

        ``since`` (the DAQ clock) defaults to now: earlier edges are not reported. Returns the edge's
        time on the DAQ clock, or ``None`` at the timeout.
        """
        self._check_open()
        if not (timeout_s >= 0):
            raise DaqError(f"trigger_in timeout must be ≥ 0 s, got {timeout_s}")
        start = self.clock() if since is None else float(since)
        return self._call(self._wait_edge, float(timeout_s), start)

    def set_power_mw(self, mw: float) -> float:
        """Set the analog power line to ``mw`` through the power calibration; returns the volts."""
        with self._lock:
            self._check_open()
            if not self.has_power_ao or self.power_calibration is None:
                raise DaqError("this DAQ has no power_ao line with a power calibration; add "
                               "daq.power_calibration (and the backend's AO line) to the session")
            volts = self.power_calibration.volts(mw)  # refuses before anything is written
            self._call(self._write_ao, volts)
            self.power_mw = float(mw)
            return volts

    def close(self) -> None:
        """Close the gate, then release the device; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            try:
                self.close_gate()
            finally:
                self._closed = True
                self._release()

    def __enter__(self) -> DAQ:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise DaqError(f"{type(self).__name__} is closed")

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one device call; on any error close the gate (best effort) before raising."""
        try:
            return fn(*args)
        except BaseException:
            self._gate = False
            if fn != self._write_gate or args != (False,):
                try:
                    self._write_gate(False)
                except Exception:  # noqa: BLE001 - the first error is the one to report
                    pass
            raise
