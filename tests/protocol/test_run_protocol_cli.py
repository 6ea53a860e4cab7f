"""``holostim run-protocol``: completes with exit 0, refuses bad input with exit 2 and nothing shown, and
on SIGTERM closes the gate, ends the log and exits 1 with the reason."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_session import calibrated, in_field, write_session  # noqa: F401

from holostim.cli import main
from holostim.eventlog import read
from holostim.session import Session, Target
from holostim.session.target_files import save_targets

SRC = Path(__file__).resolve().parents[2] / "src"
CELLS = [(30, 30), (60, 45), (90, 80), (40, 95)]


@pytest.fixture
def rig(calibrated, tmp_path):  # noqa: F811
    """The 128² simulated rig with a target file of four cells in two groups (and a zero-order one)."""
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    session = write_session(tmp_path)
    with Session.open(session) as s:
        cells = [in_field(s, xy) for xy in CELLS]
        zero = s.calibration.slm_to_camera(np.array([[64.0, 64.0]]))[0]
    rows = [Target(t.x, t.y, 1.0, 1 + i // 2, i + 1) for i, t in enumerate(cells)]
    rows.append(Target(float(zero[0]), float(zero[1]), 1.0, 3, 9))
    save_targets(tmp_path / "cells.csv", rows)
    shutil.rmtree(tmp_path / "logs")  # that session's log: each test reads only its run's
    return tmp_path, session


def write_protocol(folder: Path, groups=(1, 2), duration_ms=40, repetitions=2, **schedule) -> Path:
    data = {"version": 1, "name": "cli test",
            "patterns": {f"g{g}": {"targets_file": "cells.csv", "group": g} for g in groups},
            "schedule": {"steps": [{"pattern": f"g{g}", "duration_ms": duration_ms} for g in groups],
                         "repetitions": repetitions, **schedule}}
    path = folder / "protocol.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def only_log(folder: Path) -> Path:
    (path,) = (folder / "logs").glob("*.jsonl")
    return path


def test_run_protocol_completes_with_exit_0(rig, capsys):
    folder, session = rig
    assert main(["run-protocol", str(write_protocol(folder)), "--config", str(session)]) == 0
    out = capsys.readouterr()
    assert "protocol completed: 4 steps, gate opened 4 times" in out.out
    recs = read(only_log(folder)).records
    assert [r["outcome"] for r in recs if r["type"] == "protocol_end"] == ["completed"]
    assert recs[-1]["type"] == "session_end"


def test_a_bad_protocol_file_is_one_line_and_exit_2(rig, capsys):
    folder, session = rig
    path = folder / "protocol.yaml"
    path.write_text("version: 1\nname: x\npatterns: {a: {group: 1}}\nschedule:\n  steps: [{pattern: a, "
                    "duration_ms: 10}]\n  repetitons: 3\n")
    assert main(["run-protocol", str(path), "--config", str(session)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "protocol.yaml:6" in err[0] and "schedule.repetitons" in err[0]


def test_a_refused_pattern_is_exit_2_and_nothing_is_lit(rig, capsys):
    folder, session = rig
    assert main(["run-protocol", str(write_protocol(folder, groups=(1, 3))), "--config", str(session)]) == 2
    err = capsys.readouterr().err
    assert "pattern 'g3'" in err and "zero" in err and "g1" not in err.split("refused")[-1].split(":")[0]
    recs = read(only_log(folder)).records
    assert not [r for r in recs if r["type"] == "gate" and r["open"]]
    assert not [r for r in recs if r["type"] in ("protocol", "step")]


def test_sigterm_closes_the_gate_first_and_exits_1(rig):
    folder, session = rig
    protocol = write_protocol(folder, duration_ms=3000, repetitions=5)
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOLOSTIM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "holostim", "run-protocol", str(protocol), "--config",
                             str(session)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=folder)
    try:
        for line in proc.stderr:  # the run has started once the first step's progress line appears
            if line.startswith("protocol [") or "step 1/" in line:
                break
        log_path = None
        while log_path is None:  # its first gate opening is in the log
            logs = list((folder / "logs").glob("*.jsonl"))
            if logs and any(r["type"] == "gate" and r["open"] for r in read(logs[0]).records):
                log_path = logs[0]
            else:
                time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "protocol aborted" in err and "SIGTERM received" in err and "the gate is closed" in err
    recs = read(log_path).records
    gates = [r for r in recs if r["type"] == "gate"]
    assert gates[-1]["open"] is False and "SIGTERM" in gates[-1]["reason"]
    end = next(r for r in recs if r["type"] == "protocol_end")
    assert end["outcome"] == "aborted" and "SIGTERM" in end["reason"] and gates[-1]["seq"] < end["seq"]
    assert recs[-1]["type"] == "session_end"
