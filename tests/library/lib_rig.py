"""The library tests' rig: the 128² simulated session of tests/test_session.py and a pool of cells on it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import yaml
from test_session import write_session

from holostim.calibration import Calibration
from holostim.session.result import Target
from holostim.session.target_files import save_targets

POOL_SLM = [(30, 30), (60, 45), (90, 80), (40, 95), (95, 35), (70, 100), (25, 60), (100, 60), (50, 20),
            (80, 20)]
"""Cells in SLM Fourier px of the 128² rig (away from the zero order at (64, 64))."""


def make_rig(calibrated: Path, folder: Path) -> Path:
    """A session in ``folder`` with the measured calibration and a ``cells.csv`` pool (ids 1..10)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(calibrated / "calibration.yaml", folder / "calibration.yaml")
    session = write_session(folder)
    cal = Calibration.load(folder / "calibration.yaml")
    cam = cal.slm_to_camera(np.array(POOL_SLM, dtype=float))
    save_targets(folder / "cells.csv", [Target(float(x), float(y), 1.0 + 0.1 * i, 0, i + 1)
                                        for i, (x, y) in enumerate(cam)])
    return session


def write_spec(folder: Path, name: str = "library.yaml", **over) -> Path:
    """A spec drawing random ensembles of 3 from the pool (``over`` replaces top-level keys)."""
    data = {"version": 1, "name": "test-ensembles", "targets_file": "cells.csv",
            "sets": {"random": {"count": 40, "k": 3, "seed": 5}},
            "compute": {"method": "wgs", "iterations": 5, "seed": 11}, "chunk_sets": 8}
    data.update(over)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
