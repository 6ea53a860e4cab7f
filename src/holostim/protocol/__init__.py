"""Stimulation protocols: a file of patterns and a schedule, prepared up front, run with hardware timing.

A protocol names **patterns** (sets of targets, each with a power per spot) and a **schedule** of steps
(pattern, duration, power), repeated over trials, optionally in a seeded random order, started by a
timer or by TTL triggers. Running one means: every mask computed and checked before the first step,
then per step one upload and swap, the laser gate opened only once the frame is settled and permitted,
and closed at the step's end; everything in the session's log.

- :mod:`~holostim.protocol.model`: the file (``ProtocolConfig``, ``load_protocol``, ``save``);
- :mod:`~holostim.protocol.schedule`: the schedule expanded into the run's steps (``expand`` → ``Plan``);
- :mod:`~holostim.protocol.patterns`: each pattern's targets (``resolve_patterns``);
- :mod:`~holostim.protocol.errors`: ``ProtocolError`` (and ``ProtocolFileError`` for the file).
"""

from holostim.protocol.errors import ProtocolError, ProtocolFileError
from holostim.protocol.model import (
    PROTOCOL_VERSION,
    PatternSpec,
    ProtocolConfig,
    ScheduleSpec,
    StepSpec,
    load_protocol,
    parse_protocol,
)
from holostim.protocol.patterns import ResolvedPattern, UnusedPatternWarning, resolve_patterns
from holostim.protocol.schedule import Plan, Step, expand

__all__ = [
    "PROTOCOL_VERSION",
    "PatternSpec",
    "Plan",
    "ProtocolConfig",
    "ProtocolError",
    "ProtocolFileError",
    "ResolvedPattern",
    "ScheduleSpec",
    "Step",
    "StepSpec",
    "UnusedPatternWarning",
    "expand",
    "load_protocol",
    "parse_protocol",
    "resolve_patterns",
]
