"""The stimulation log: an append-only JSON Lines record of every pattern that reached the SLM.

:mod:`~holostim.eventlog.writer` writes it (all-or-nothing appends), :mod:`~holostim.eventlog.reader`
reads it back (never hiding a good record), :mod:`~holostim.eventlog.records` defines what each
record holds, :mod:`~holostim.eventlog.masks` stores the frames themselves, and
:mod:`~holostim.eventlog.appendfile` is the all-or-nothing append both files are written with.
"""

from holostim.eventlog.reader import DamagedLine, LogContents, read, read_masks
from holostim.eventlog.records import FORMAT, FORMAT_VERSION, EventLogError, frame_hash, machine_info
from holostim.eventlog.writer import EventLog

__all__ = [
    "FORMAT",
    "DamagedLine",
    "FORMAT_VERSION",
    "EventLog",
    "EventLogError",
    "LogContents",
    "frame_hash",
    "machine_info",
    "read",
    "read_masks",
]
