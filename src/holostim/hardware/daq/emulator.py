"""A pure-Python emulator of the holostim DAQ firmware on a pseudo-terminal (product code).

:class:`FirmwareEmulator` opens a pty (``os.openpty``), puts it in raw mode and answers the protocol of
:mod:`holostim.hardware.daq.protocol` on the master side exactly as ``holostim_daq.ino`` does, watchdog
included. A host opens :attr:`FirmwareEmulator.port` (the slave's path) like any serial port, so
:class:`~holostim.hardware.daq.serial.SerialDAQ` is tested through a real serial port, with pyserial.
It uses only ``os``/``termios``/``tty`` (no pyserial). Every line change is in :attr:`history`
(:class:`~holostim.hardware.daq.simulated.LineEvent`, times on the emulator's own ``clock``), every
command's arrival time in :attr:`commands`.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import time
import tty
from typing import Any

from holostim.hardware.daq import protocol as P
from holostim.hardware.daq.simulated import LineEvent


class FirmwareEmulator:
    """The firmware on a pty; ``with FirmwareEmulator() as fw: SerialDAQ(fw.port)``."""

    def __init__(self, *, watchdog_ms: int = P.WATCHDOG_MS, clock=time.monotonic, poll_s: float = 0.001):
        self.clock = clock
        self.watchdog_ms = int(watchdog_ms)
        self.poll_s = poll_s
        self.history: list[LineEvent] = []
        self.commands: list[tuple[float, str]] = []
        self.lines: dict[str, Any] = {"gate_out": False, "swap_out": False, "power_ao": 0.0,
                                      "trigger_in": False}
        self.reporting = False
        self._t0 = clock()
        self._last_command = self._t0
        self._lock = threading.RLock()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing: bytes in, bytes out
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._buf = b""
        self._set("gate_out", False)
        self._thread = threading.Thread(target=self._run, name="holostim-daq-emulator", daemon=True)
        self._thread.start()

    # -- observation and the outside world --------------------------------------------------------
    def micros(self, t: float | None = None) -> int:
        """The board's wrapping 32-bit µs counter at emulator time ``t`` (default now)."""
        return int(round(((self.clock() if t is None else t) - self._t0) * 1e6)) % P.WRAP

    def events(self, line: str) -> list[LineEvent]:
        """The history of one line."""
        with self._lock:
            return [e for e in self.history if e.line == line]

    @property
    def last_command_time(self) -> float:
        """When the last command (a heartbeat) arrived, on the emulator's clock."""
        return self._last_command

    def inject_edge(self) -> float:
        """A rising edge on trigger_in now; reported to the host as ``EV T`` if reporting is on."""
        with self._lock:
            t = self.clock()
            self._set("trigger_in", True, t)
            self._set("trigger_in", False, t)
            if self.reporting:
                self._send(f"EV T {self.micros(t)}")
            return t

    def close(self) -> None:
        """Stop the firmware thread and close the pty."""
        self._stop.set()
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> FirmwareEmulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the firmware ----------------------------------------------------------------------------
    def _set(self, line: str, value: Any, t: float | None = None) -> None:
        with self._lock:
            self.lines[line] = value
            self.history.append(LineEvent(self.clock() if t is None else t, line, value))

    def _send(self, text: str) -> None:
        data = (text + "\n").encode("ascii")
        try:
            os.write(self._master, data)
        except OSError as e:  # nobody reading (buffer full) or gone: a board would drop it too
            if e.errno not in (errno.EAGAIN, errno.EIO):
                raise

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], self.poll_s)
            except (OSError, ValueError):
                return
            if ready:
                try:
                    chunk = os.read(self._master, 4096)
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EIO):
                        return
                    chunk = b""
                self._buf += chunk
                while b"\n" in self._buf:
                    raw, self._buf = self._buf.split(b"\n", 1)
                    self._handle(raw.decode("ascii", "replace").replace("\r", "").strip())
            self._watchdog()

    def _watchdog(self) -> None:
        with self._lock:
            now = self.clock()
            if self.lines["gate_out"] and (now - self._last_command) * 1000.0 > self.watchdog_ms:
                self._set("gate_out", False, now)
                self._send(f"EV W {self.micros(now)}")

    def _handle(self, cmd: str) -> None:
        if not cmd:
            return
        with self._lock:
            now = self.clock()
            self._last_command = now
            self.commands.append((now, cmd))
            self._send(self._reply(cmd, now))

    def _reply(self, cmd: str, now: float) -> str:
        op, _, arg = cmd.partition(" ")
        if op == "V" and not arg:
            return f"OK {P.FIRMWARE_NAME} {P.PROTOCOL_VERSION} wd={self.watchdog_ms}"
        if op == "H" and not arg:
            return f"OK {self.micros(now)}"
        if op in ("G0", "G1") and not arg:
            if self.lines["gate_out"] != (op == "G1"):
                self._set("gate_out", op == "G1", now)
            return "OK"
        if op in ("T0", "T1") and not arg:
            self.reporting = op == "T1"
            return "OK"
        if op in ("P", "A"):
            try:
                value = int(arg)
            except ValueError:
                return f"ERR bad number {arg!r}"
            if op == "P":
                if not 1 <= value <= P.MAX_PULSE_US:
                    return f"ERR pulse {value} us outside 1..{P.MAX_PULSE_US}"
                self._set("swap_out", True, now)
                self._set("swap_out", False, now + value / 1e6)
                return "OK"
            if not 0 <= value <= P.MAX_AO_MV:
                return f"ERR ao {value} mV outside 0..{P.MAX_AO_MV}"
            self._set("power_ao", value / 1000.0, now)
            return "OK"
        return f"ERR unknown command {cmd[:20]!r}"
