"""Shared by the SLM tests: an independent gray-level reference, a frame comparison and a fake clock."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "slm"
TWO_PI = 2 * math.pi


def ref_gray(total_phase: np.ndarray, levels: float, table: np.ndarray | None = None):
    """Independent float64 computation: nearest of ``levels`` steps per 2π, 2π ≡ 0, optional LUT.

    Returns (gray, ambiguous) where ambiguous marks pixels within 1e-3 level of a rounding boundary
    (float32 arithmetic in the kernel may round those either way).
    """
    t = np.mod(np.asarray(total_phase, np.float64), TWO_PI) / TWO_PI * levels
    k = np.floor(t + 0.5)
    frac = t + 0.5 - k
    ambiguous = (frac < 1e-3) | (frac > 1 - 1e-3)
    k = k.astype(np.int64)
    k[k >= levels] = 0
    gray = k if table is None else np.asarray(table)[k]
    return gray.astype(np.uint8), ambiguous


def assert_frame(frame, expected, ambiguous):
    assert frame.dtype == np.uint8 and frame.shape == expected.shape
    bad = (frame != expected) & ~ambiguous
    assert not bad.any(), f"{bad.sum()} pixels differ, e.g. at {np.argwhere(bad)[:3].tolist()}"
    assert ambiguous.mean() < 0.01


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t
