"""Every save that must survive a power cut fsyncs the file's data and then its folder (the rename).

A rename without both can leave an empty or missing calibration after a power loss. The check counts
the real ``os.fsync`` calls by the file each descriptor names, so it holds for whatever helper a save
path uses.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from eventlog_faults import fd_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fsyncs(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = os.fsync

    def fsync(fd):
        seen.append(fd_path(fd))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def assert_durable(path: Path, seen: list[str]) -> None:
    """The data of ``path`` (its temporary twin, before the rename) and then its folder were fsync'd."""
    data = [i for i, p in enumerate(seen)
            if Path(p).parent == path.parent and Path(p).name.startswith(path.name)]
    folder = [i for i, p in enumerate(seen) if p == str(path.parent)]
    assert data, f"{path.name}: its data was never fsync'd ({seen})"
    assert folder and folder[-1] > data[0], f"{path.name}: its folder was not fsync'd after the data ({seen})"
    assert path.is_file() and path.stat().st_size > 0
    assert not [p for p in path.parent.iterdir() if ".tmp" in p.name]  # no temporary file left


def test_calibration_save_is_durable(tmp_path, fsyncs):
    from holostim.calibration import Calibration

    cal = Calibration(np.array([[0.9, 0.2, -10.0], [-0.25, 0.95, 40.0]]), (256, 256), (300, 400),
                      residual_px=0.1)
    path = cal.save(tmp_path / "rig" / "calibration.yaml")
    assert_durable(path, fsyncs)


def test_session_save_is_durable(tmp_path, fsyncs):
    from holostim.config import load_config

    path = load_config(ROOT / "config" / "simulation.yaml").save(tmp_path / "my-rig.yaml")
    assert_durable(Path(path), fsyncs)


@pytest.mark.parametrize("name", ["targets.csv", "targets.json"])
def test_gui_target_save_is_durable(tmp_path, fsyncs, name):
    from types import SimpleNamespace

    from holostim.session.target_files import save_targets

    path = save_targets(tmp_path / name, [SimpleNamespace(x=1.0, y=2.0, weight=1.0, group=0)])
    assert_durable(Path(path), fsyncs)


def test_fftw_wisdom_save_is_durable(tmp_path, fsyncs, monkeypatch):
    pytest.importorskip("pyfftw")
    from holostim.backend import get_backend

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    get_backend("numpy", "single").new_fft_plan((18, 6))
    assert_durable(tmp_path / "holostim" / "fftw-wisdom.json", fsyncs)


def test_a_new_log_is_durable(tmp_path, fsyncs):
    from holostim.eventlog import EventLog

    log = EventLog.create(tmp_path / "logs", {}, masks="npz")
    log.append({"i": 1}, frame=np.zeros((4, 4), np.uint8))
    log.close()
    assert str(log.path) in fsyncs and str(log.masks_path) in fsyncs
    assert str(log.path.parent) in fsyncs  # the new directory entries


def test_the_check_catches_a_plain_write(tmp_path, fsyncs):
    path = tmp_path / "calibration.yaml"
    path.write_text("matrix: []\n")  # what a save without fsync does
    with pytest.raises(AssertionError, match="never fsync'd"):
        assert_durable(path, fsyncs)
    with open(path, "w") as fh:  # data fsync'd, but the folder (the rename) not
        fh.write("matrix: []\n")
        fh.flush()
        os.fsync(fh.fileno())
    with pytest.raises(AssertionError, match="folder was not fsync'd"):
        assert_durable(path, fsyncs)
