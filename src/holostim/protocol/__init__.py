"""Stimulation protocols: a file of patterns and a schedule, prepared up front, run with hardware timing.

A protocol names **patterns** (sets of targets, each with a power per spot) and a **schedule** of steps
(pattern, duration, power), repeated over trials, optionally in a seeded random order, started by a
timer or by TTL triggers. Running one means: every mask computed and checked before the first step,
then per step one upload and swap, the laser gate opened only once the frame is settled and permitted,
and closed at the step's end; everything in the session's log.
"""
