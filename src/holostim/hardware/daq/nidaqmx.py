"""NI-DAQmx boards (the ``nidaqmx`` package, imported only when a board is opened).

Lines are named as in NI MAX: ``gate_line: Dev1/port0/line0``, ``swap_line: Dev1/port0/line1``,
``trigger_line: Dev1/port0/line2`` (polled digital input), ``power_line: Dev1/ao0``. Only the gate is
required. Needs NI's driver (NI-DAQmx, from ni.com; on Linux also ``python -m nidaqmx installdriver``)
and ``pip install nidaqmx``.

**Wiring for a default-off gate:** an NI digital line is an input (floating, or pulled up on some
boards) at power-up and after a reset until a task drives it, so put a pull-down resistor (e.g. 4.7 kΩ
to ground) on the gate line and use a shutter driver / Pockels enable that is *off* on a low or
unconnected input; likewise the Pockels AO reads 0 V until it is written. Unlike the serial firmware an
NI board has no heartbeat watchdog: a killed host leaves the last value on the line (holostim closes the
gate on every exit it sees), so rigs that need crash safety use the serial board or a hardware watchdog.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from pydantic import Field, model_validator

from holostim.hardware.daq.base import DAQ, DaqError, DaqNotFoundError, DAQOptions

DRIVER_HINT = ("install NI-DAQmx from ni.com (on Linux: python -m nidaqmx installdriver), or use "
               "daq.backend: simulated or serial")


class NIDAQmxOptions(DAQOptions):
    """The ``daq`` keys of the ``nidaqmx`` backend."""

    gate_line: str = Field(..., description="digital output, e.g. Dev1/port0/line0")
    swap_line: str | None = Field(None, description="digital output for the swap pulse")
    trigger_line: str | None = Field(None, description="digital input for TTL triggers (polled)")
    power_line: str | None = Field(None, description="analog output for the Pockels cell, e.g. Dev1/ao0")
    ao_min_v: Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)] = 0.0
    ao_max_v: Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)] = 5.0
    poll_ms: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] = Field(
        0.2, description="trigger_line polling period")

    @model_validator(mode="after")
    def _check_range(self) -> NIDAQmxOptions:
        if self.ao_min_v >= self.ao_max_v:
            raise ValueError(f"ao_min_v ({self.ao_min_v}) must be below ao_max_v ({self.ao_max_v})")
        return self


class NIDAQmxDAQ(DAQ):
    """An NI-DAQmx board: one task per line."""

    Options = NIDAQmxOptions
    has_power_ao = True

    def __init__(self, gate_line: str, *, swap_line: str | None = None, trigger_line: str | None = None,
                 power_line: str | None = None, ao_min_v: float = 0.0, ao_max_v: float = 5.0,
                 poll_ms: float = 0.2, **kw: Any):
        super().__init__(**kw)
        try:
            import nidaqmx
            import nidaqmx.errors
        except ImportError:
            raise DaqNotFoundError(f"the nidaqmx DAQ needs the nidaqmx package: pip install nidaqmx; and "
                                   f"NI's driver: {DRIVER_HINT}") from None
        self._nidaqmx = nidaqmx
        self.has_power_ao = power_line is not None
        self.ao_range = (float(ao_min_v), float(ao_max_v))
        self.poll_s = poll_ms / 1000.0
        self._tasks: dict[str, Any] = {}
        self._stop = threading.Event()
        try:
            self._tasks["gate"] = self._task(lambda t: t.do_channels.add_do_chan(gate_line), gate_line)
            if swap_line:
                self._tasks["swap"] = self._task(lambda t: t.do_channels.add_do_chan(swap_line), swap_line)
            if trigger_line:
                self._tasks["trigger"] = self._task(lambda t: t.di_channels.add_di_chan(trigger_line),
                                                    trigger_line)
            if power_line:
                self._tasks["power"] = self._task(
                    lambda t: t.ao_channels.add_ao_voltage_chan(power_line, min_val=ao_min_v,
                                                                max_val=ao_max_v), power_line)
            self._start()
        except BaseException:
            self._release()
            raise

    def _task(self, add, line: str) -> Any:
        nidaqmx = self._nidaqmx
        try:
            task = nidaqmx.Task()
        except nidaqmx.errors.DaqNotFoundError:
            raise DaqNotFoundError(f"NI-DAQmx driver not found: {DRIVER_HINT}") from None
        try:
            add(task)
        except nidaqmx.errors.DaqError as e:
            task.close()
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DaqNotFoundError(f"NI-DAQmx: cannot use line {line!r} ({first}); check the line names "
                                   "in daq (NI MAX lists the devices)") from None
        return task

    def _write_gate(self, is_open: bool) -> None:
        if "gate" in self._tasks:
            self._tasks["gate"].write(bool(is_open))

    def _pulse_swap(self, ms: float) -> None:
        task = self._tasks.get("swap")
        if task is None:
            return  # no swap line wired
        task.write(True)
        self._stop.wait(ms / 1000.0)
        task.write(False)

    def _write_ao(self, volts: float) -> None:
        lo, hi = self.ao_range
        if not lo <= volts <= hi:
            raise DaqError(f"power_ao {volts:.3f} V is outside daq.ao_min_v..ao_max_v {lo}..{hi} V; check "
                           "daq.power_calibration")
        self._tasks["power"].write(float(volts))

    def _wait_edge(self, timeout_s: float, since: float) -> float | None:
        task = self._tasks.get("trigger")
        if task is None:
            raise DaqError("the nidaqmx DAQ has no trigger_line; set daq.trigger_line")
        deadline = self.clock() + timeout_s
        last = bool(task.read())
        while True:
            now = self.clock()
            value = bool(task.read())
            if value and not last and now >= since:
                return now
            last = value
            if now >= deadline:
                return None
            self._stop.wait(self.poll_s)

    def _release(self) -> None:
        self._stop.set()
        for task in self._tasks.values():
            try:
                task.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._tasks.clear()
