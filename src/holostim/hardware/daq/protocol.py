r"""The line protocol of the holostim DAQ firmware (``assets/firmware/holostim_daq/holostim_daq.ino``).

ASCII lines, ``\n``-terminated (a ``\r`` is ignored), 115200 baud, 8N1. The host sends one command and
reads one reply; every command also feeds the firmware's watchdog.

======================  ==========================================  =================================
command                 meaning                                     reply
======================  ==========================================  =================================
``V``                   version query                               ``OK holostim_daq <ver> wd=<ms>``
``H``                   heartbeat                                   ``OK <micros>``
``G1`` / ``G0``         gate_out high (open) / low (closed)         ``OK``
``P <us>``              swap_out pulse of ``us`` µs (1..100000)     ``OK``
``A <mV>``              power_ao to ``mV`` millivolts (0..5000)     ``OK``
``T1`` / ``T0``         report / stop reporting trigger_in edges    ``OK``
anything else           —                                           ``ERR <reason>``
======================  ==========================================  =================================

Unsolicited lines start with ``EV``: ``EV T <micros>`` — a rising edge on trigger_in while reporting is
on; ``EV W <micros>`` — the watchdog closed the gate. ``<micros>`` is the board's 32-bit microsecond
counter (it wraps after about 71.6 minutes; the host maps it to its clock with the heartbeat replies).

**Watchdog:** when no command has arrived for longer than ``wd`` ms (100 by default) the firmware pulls
gate_out low by itself, so a crashed or killed host leaves the laser gated off.
"""

from __future__ import annotations

FIRMWARE_NAME = "holostim_daq"
PROTOCOL_VERSION = 1
BAUDRATE = 115200
WATCHDOG_MS = 100
MAX_PULSE_US = 100_000
MAX_AO_MV = 5000
WRAP = 1 << 32


def micros_delta(later: int, earlier: int) -> int:
    """``later - earlier`` in µs on the board's wrapping 32-bit counter (signed, ±35 minutes)."""
    return ((later - earlier + WRAP // 2) % WRAP) - WRAP // 2
