"""The closed loop's trace file: one fixed-size row per camera frame, append-only, beside the log.

``<log>.traces`` starts with one JSON header line (ROI ids, columns), then binary float64 rows
``[t, counter, dff…, f…]``. Rows are written whole and flushed every frame, fsynced every
``sync_every`` rows and at close. A crash leaves at most a torn last row, which :func:`read_traces`
ignores; every complete row stays readable. Why not log records: at 100 fps the event log (one JSON
record made durable at a time, fsync each) would spend its budget on traces, and grow ~10× faster than
these rows (50 ROIs: 816 bytes a frame, 80 kB/s).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from holostim.protocol.closed_loop.readout import TraceSample

__all__ = ["TraceWriter", "read_traces"]


class TraceWriter:
    """Appends :class:`TraceSample` rows to a new trace file (never overwrites one)."""

    def __init__(self, path: str | Path, roi_ids: list[int], *, sync_every: int = 100) -> None:
        self.path = Path(path)
        self.n = len(roi_ids)
        self._f = open(self.path, "xb")  # noqa: SIM115 - held open for the run
        header = {"format": "holostim-traces", "version": 1, "roi_ids": [int(i) for i in roi_ids],
                  "columns": ["t", "counter"] + [f"dff_{i}" for i in roi_ids] + [f"f_{i}" for i in roi_ids],
                  "dtype": "<f8"}
        self._f.write((json.dumps(header) + "\n").encode())
        self._f.flush()
        os.fsync(self._f.fileno())
        self._sync_every = int(sync_every)
        self.rows = 0

    def append(self, s: TraceSample) -> None:
        """One row, written whole and flushed."""
        row = np.concatenate([[s.t, float(s.counter)], s.dff, s.f]).astype("<f8")
        self._f.write(row.tobytes())
        self._f.flush()
        self.rows += 1
        if self.rows % self._sync_every == 0:
            os.fsync(self._f.fileno())

    def close(self) -> None:
        """Make every row durable and close the file. Safe to call twice."""
        if not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()


def read_traces(path: str | Path) -> dict[str, Any]:
    """``{"roi_ids", "t", "counter", "dff" (frames × ROIs), "f"}`` of a trace file (no torn last row)."""
    data = Path(path).read_bytes()
    nl = data.index(b"\n")
    header = json.loads(data[:nl])
    n = len(header["roi_ids"])
    width = 2 + 2 * n
    body = data[nl + 1:]
    rows = len(body) // (8 * width)
    arr = np.frombuffer(body[: rows * 8 * width], "<f8").reshape(rows, width)
    return {"roi_ids": header["roi_ids"], "t": arr[:, 0], "counter": arr[:, 1].astype(int),
            "dff": arr[:, 2:2 + n], "f": arr[:, 2 + n:]}
