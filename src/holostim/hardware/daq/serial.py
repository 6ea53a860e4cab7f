"""An Arduino-class board running ``holostim_daq.ino``, over a serial port (pyserial).

The protocol is in :mod:`holostim.hardware.daq.protocol`. A background thread sends a heartbeat every
``heartbeat_ms``; the firmware closes the gate by itself when heartbeats stop for longer than its
watchdog (100 ms), so a host that crashes or is killed leaves the laser gated off. Another thread reads
the board's lines: replies go to the command waiting for them, ``EV T`` edges to :meth:`trigger_in`,
``EV W`` (the watchdog fired) marks the gate closed. Board times (µs) are mapped to the host clock with
each heartbeat reply. pyserial is imported only here, when a board is opened
(``pip install pyserial``, or ``pip install holostim[daq]``).
"""

from __future__ import annotations

import queue
import threading
from typing import Annotated, Any

from pydantic import Field

from holostim.hardware.daq import protocol as P
from holostim.hardware.daq.base import DAQ, DaqError, DaqNotFoundError, DAQOptions, PowerCalibrationError


class SerialDAQOptions(DAQOptions):
    """The ``daq`` keys of the ``serial`` backend."""

    port: str = Field(..., description="serial port, e.g. /dev/ttyACM0 or COM3")
    baudrate: Annotated[int, Field(gt=0)] = P.BAUDRATE
    heartbeat_ms: Annotated[float, Field(gt=0, le=50, allow_inf_nan=False)] = Field(
        20.0, description="heartbeat period; well below the firmware's 100 ms watchdog")
    boot_s: Annotated[float, Field(ge=0, le=30, allow_inf_nan=False)] = Field(
        3.0, description="how long to wait for the board to answer after the port opens (reset)")
    ao_max_v: Annotated[float, Field(gt=0, le=5, allow_inf_nan=False)] = Field(
        5.0, description="full scale of the board's power_ao output")


class SerialDAQ(DAQ):
    """The holostim DAQ firmware over a serial port."""

    Options = SerialDAQOptions
    has_power_ao = True

    def __init__(self, port: str, *, baudrate: int = P.BAUDRATE, heartbeat_ms: float = 20.0,
                 boot_s: float = 3.0, ao_max_v: float = 5.0, reply_timeout_s: float = 0.5, **kw: Any):
        super().__init__(**kw)
        try:
            import serial
        except ImportError:
            raise DaqNotFoundError("the serial DAQ needs pyserial: pip install pyserial") from None
        self.port = port
        self.ao_max_v = float(ao_max_v)
        self.heartbeat_s = heartbeat_ms / 1000.0
        self.reply_timeout_s = reply_timeout_s
        self.watchdog_tripped = False
        self.firmware_version: int | None = None
        self.watchdog_ms: int | None = None
        try:
            self._port = serial.Serial(port, baudrate, timeout=0.05, write_timeout=1.0)
        except (serial.SerialException, OSError, ValueError) as e:
            raise DaqNotFoundError(f"serial DAQ: cannot open {port!r} ({str(e).splitlines()[0]}); check "
                                   "daq.port (ls /dev/ttyACM* /dev/ttyUSB*, or COMn) and that the board "
                                   "runs assets/firmware/holostim_daq") from None
        try:
            self._port.reset_input_buffer()  # nothing a previous host left unread
        except Exception:  # noqa: BLE001 - not every port type can
            pass
        self._replies: queue.Queue[str] = queue.Queue()
        self._cmd_lock = threading.Lock()
        self._edges: list[float] = []
        self._edge_cond = threading.Condition()
        self._sync: tuple[float, int] | None = None  # (host time, board µs) of the last heartbeat
        self.sync_error_s = 0.0
        """The largest error of the board → host time mapping so far (half a heartbeat's round trip)."""
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="holostim-daq-reader", daemon=True)
        self._reader.start()
        try:
            self._handshake(boot_s)
            self._start()
            self._command("T1")
        except BaseException:
            self._shutdown()
            raise
        self._beater = threading.Thread(target=self._heartbeat_loop, name="holostim-daq-heartbeat",
                                        daemon=True)
        self._beater.start()

    # -- connection ------------------------------------------------------------------------------
    def _handshake(self, boot_s: float) -> None:
        deadline = self.clock() + boot_s
        while True:
            try:
                reply = self._command("V")
                break
            except DaqError:
                if self.clock() >= deadline:
                    raise DaqNotFoundError(f"serial DAQ: no holostim_daq firmware answers on {self.port!r}; "
                                           "flash assets/firmware/holostim_daq/holostim_daq.ino") from None
        parts = reply.split()
        if len(parts) < 3 or parts[0] != P.FIRMWARE_NAME:
            raise DaqNotFoundError(f"serial DAQ: {self.port!r} answers {reply!r}, not holostim_daq; "
                                   "flash assets/firmware/holostim_daq/holostim_daq.ino")
        self.firmware_version = int(parts[1])
        if self.firmware_version != P.PROTOCOL_VERSION:
            raise DaqError(f"serial DAQ: firmware protocol {self.firmware_version}, this holostim speaks "
                           f"{P.PROTOCOL_VERSION}; flash assets/firmware/holostim_daq/holostim_daq.ino")
        for p in parts[2:]:
            if p.startswith("wd="):
                self.watchdog_ms = int(p[3:])
        self._heartbeat()

    def _command(self, text: str) -> str:
        """Send one command and return the reply after ``OK`` (``ERR ...`` raises DaqError)."""
        with self._cmd_lock:
            while not self._replies.empty():  # a late reply of a timed-out command
                self._replies.get_nowait()
            try:
                self._port.write((text + "\n").encode("ascii"))
                self._port.flush()
            except Exception as e:  # noqa: BLE001 - pyserial's errors vary by platform
                raise DaqError(f"serial DAQ on {self.port!r}: write failed ({e}); is the board still "
                               "connected?") from None
            try:
                reply = self._replies.get(timeout=self.reply_timeout_s)
            except queue.Empty:
                raise DaqError(f"serial DAQ on {self.port!r}: no reply to {text!r} within "
                               f"{self.reply_timeout_s} s") from None
        if reply.startswith("OK"):
            return reply[2:].strip()
        raise DaqError(f"serial DAQ on {self.port!r}: {text!r} refused: {reply}")

    def _read_loop(self) -> None:
        buf = b""
        while not self._stop.is_set():
            try:
                chunk = self._port.read(self._port.in_waiting or 1)
            except Exception:  # noqa: BLE001 - port gone; the next command reports it
                return
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("ascii", "replace").strip()
                if line.startswith("EV "):
                    self._event(line)
                elif line:
                    self._replies.put(line)

    def _event(self, line: str) -> None:
        parts = line.split()
        if len(parts) != 3:
            return
        us = int(parts[2])
        if parts[1] == "W":
            self.watchdog_tripped = True
            self._gate = False
        elif parts[1] == "T":
            t = self._host_time(us)
            with self._edge_cond:
                self._edges.append(t)
                self._edge_cond.notify_all()

    def _host_time(self, us: int) -> float:
        if self._sync is None:
            return self.clock()
        host, board = self._sync
        return host + P.micros_delta(us, board) / 1e6

    def _heartbeat(self) -> None:
        before = self.clock()
        board = int(self._command("H"))
        after = self.clock()
        self._sync = ((before + after) / 2, board)
        self.sync_error_s = max(self.sync_error_s, (after - before) / 2)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self._heartbeat()
            except Exception:  # noqa: BLE001 - the board is gone: its watchdog closes the gate
                self._gate = False

    def _shutdown(self) -> None:
        self._stop.set()
        for name in ("_beater", "_reader"):
            th = getattr(self, name, None)
            if th is not None and th is not threading.current_thread():
                th.join(timeout=2)
        try:
            self._port.close()
        except Exception:  # noqa: BLE001
            pass

    # -- the backend ----------------------------------------------------------------------------
    def _write_gate(self, is_open: bool) -> None:
        if is_open:
            self.watchdog_tripped = False
        self._command("G1" if is_open else "G0")

    def _pulse_swap(self, ms: float) -> None:
        self._command(f"P {max(1, min(P.MAX_PULSE_US, round(ms * 1000)))}")

    def _write_ao(self, volts: float) -> None:
        if not 0.0 <= volts <= self.ao_max_v:
            raise PowerCalibrationError(f"power_ao {volts:.3f} V is outside the board's 0..{self.ao_max_v} "
                                        "V; check daq.power_calibration")
        self._command(f"A {round(volts * 1000)}")

    def _wait_edge(self, timeout_s: float, since: float) -> float | None:
        deadline = self.clock() + timeout_s
        with self._edge_cond:
            while True:
                self._edges = [t for t in self._edges if t >= since]
                if self._edges:
                    return self._edges.pop(0)
                left = deadline - self.clock()
                if left <= 0:
                    return None
                self._edge_cond.wait(min(left, 0.01))

    def _release(self) -> None:
        self._shutdown()
