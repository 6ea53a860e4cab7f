"""A small simulated rig with a DAQ for the laser-gate tests: no calibration, test patterns with light.

A uniform gray test pattern sends all light into one spot (the zero order), within the limits, so the
gate's rules can be exercised without computing a hologram or measuring a calibration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_session import write_session

from holostim.eventlog import frame_hash, read
from holostim.session import Session

N = 64


def write_rig(folder: Path, *, daq: dict | None | str = "simulated", **sections) -> Path:
    """config/simulation.yaml at N×N, private logs, no calibration; ``daq``: a section, None = none."""
    merged: dict = {"simulation": {"n_neurons": 4}, "calibration": {"file": None},
                    "engine": {"backend": "numpy"}, "safety": {"test_patterns_with_laser": True}}
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    return write_session(folder, n=N, daq=daq, **merged)


def open_rig(folder: Path, camera: bool = False, **kw) -> Session:
    return Session.open(write_rig(folder, **kw), load_calibration=False, camera=camera)


def gray(level: int) -> np.ndarray:
    """A uniform test pattern (all light in the zero-order spot)."""
    return np.full((N, N), level, np.uint8)


def records(session_or_path, kind: str | None = None) -> list[dict]:
    path = session_or_path.log.path if isinstance(session_or_path, Session) else session_or_path
    return [r for r in read(path).records if kind is None or r["type"] == kind]


def gate_intervals(daq, end: float) -> list[tuple[float, float]]:
    """``[(opened, closed), ...]`` from the simulated DAQ's ``gate_out`` history (``end`` if still open)."""
    out, t_open = [], None
    for e in daq.events("gate_out"):
        if e.value and t_open is None:
            t_open = e.t
        elif not e.value and t_open is not None:
            out.append((t_open, e.t))
            t_open = None
    if t_open is not None:
        out.append((t_open, end))
    return out


class OpenSpy:
    """Watches the DAQ's gate line: at each opening, were the frame's and the gate's records durable?"""

    def __init__(self, session: Session):
        self.session = session
        self.problems: list[str] = []
        self.opened = 0
        daq = session.daq
        real = daq._write_gate

        def write_gate(is_open: bool) -> None:
            if is_open:
                self.opened += 1
                self._check()
            real(is_open)

        daq._write_gate = write_gate

    def _check(self) -> None:
        s = self.session
        rec = s.slm.last_record
        sha = frame_hash(rec.frame)
        recs = read(s.log.path).records  # what is on disk now, before the line opens
        gates = [r for r in recs if r["type"] == "gate"]
        if not gates or gates[-1]["action"] != "open" or gates[-1]["frame_sha256"] != sha:
            self.problems.append(f"no durable gate-open record for frame {rec.index} before the line opened")
        if not any(r.get("frame_hash") == sha and r["type"] in ("frame", "pattern") for r in recs):
            self.problems.append(f"frame {rec.index} was not logged before the line opened")
