"""NWB export of a real protocol run on the simulated rig: valid NWB that reads back as the JSONL log.

The log is written by :class:`holostim.protocol.ProtocolRun` on the shrunk simulation session (as in
tests/protocol/test_runner.py); the NWB file is checked with ``pynwb.validate`` and read back with plain
pynwb (the extension's spec cached in the file), and every number is compared with the raw JSON records,
not with the exporter's own reading of them.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics

import numpy as np
import pytest
from test_session import calibrated, in_field, write_session  # noqa: F401

from holostim.cli import main
from holostim.eventlog import read
from holostim.interop import InteropError, read_rois
from holostim.interop.nwb_export import TABLE, TARGETS, export_nwb
from holostim.protocol.model import ProtocolConfig
from holostim.protocol.runner import ProtocolRun
from holostim.session import Session, Target

pynwb = pytest.importorskip("pynwb")
CELLS = [(30, 30), (60, 45), (90, 80), (40, 95)]  # SLM Fourier px of the 128² rig


@pytest.fixture(scope="module")
def protocol_log(calibrated, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("nwb-rig")
    shutil.copy(calibrated / "calibration.yaml", folder / "calibration.yaml")
    with Session.open(write_session(folder)) as s:
        s.targets = [Target(t.x, t.y, 1.0, 1 + i // 2, i + 1)
                     for i, t in enumerate(in_field(s, xy) for xy in CELLS)]
        protocol = ProtocolConfig.model_validate({
            "version": 1, "name": "nwb-test", "patterns": {"a": {"group": 1}, "b": {"group": 2}},
            "schedule": {"steps": [{"pattern": "a", "duration_ms": 60}, {"pattern": "b", "duration_ms": 60}],
                         "repetitions": 2, "inter_step_interval_ms": 10}})
        run = ProtocolRun(s, protocol)
        run.prepare()
        assert run.run() == ("completed", "")
        return s.log.path


def _raw(path):
    contents = read(path)
    recs = list(contents.records)
    offset = statistics.median(r["time"] - r["time_mono"] for r in recs if "time_mono" in r)
    from datetime import datetime
    t0 = datetime.fromisoformat(contents.header["started"]).timestamp() - offset
    return contents.header, recs, t0


def test_export_is_valid_nwb_and_reads_back_as_the_log(protocol_log, tmp_path):
    out = export_nwb(protocol_log, tmp_path / "run.nwb", effector="ChRmine", location="VISp")
    assert list(pynwb.validate(path=str(out))) == []
    header, recs, t0 = _raw(protocol_log)
    steps = [r for r in recs if r["type"] == "step"]
    shown = {r["frame_hash"]: r for r in recs if r["type"] == "pattern" and r["targets"]}
    (start,) = [r for r in recs if r["type"] == "protocol"]
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        table = nwb.intervals[TABLE]
        targets = nwb.processing["ophys"]["StimulationTargets"][TARGETS]
        assert len(table) == len(steps) == 4
        for i, step in enumerate(steps):
            row = table[i]
            assert row["start_time"].iloc[0] == pytest.approx(step["t_gate_open"] - t0, abs=1e-6)
            assert row["stop_time"].iloc[0] == pytest.approx(step["t_gate_close"] - t0, abs=1e-6)
            assert row["swap_time"].iloc[0] == pytest.approx(step["t_swapped"] - t0, abs=1e-6)
            assert (row["step"].iloc[0], row["trial"].iloc[0]) == (step["index"], step["trial"])
            assert row["pattern_name"].iloc[0] == step["pattern"]
            assert row["frame_sha256"].iloc[0] == step["frame_sha256"]
            np.testing.assert_allclose(row["power_per_roi"].iloc[0],
                                       np.array(step["predicted_power_mw"]) / 1e3)
            region = row["targets"].iloc[0].targeted_rois
            ids = [int(targets["target_id"][k]) for k in region.data[:]]
            assert ids == step["targets"]
            rec = shown[step["frame_sha256"]]  # where each target landed, by the pattern record of its frame
            for k, t in zip(region.data[:], rec["targets"], strict=True):
                assert [targets["x_um"][k], targets["y_um"][k]] == pytest.approx(t["sample_um"][:2])
                assert [targets["x_camera_px"][k], targets["y_camera_px"][k]] == pytest.approx(t["camera_px"])
            assert row["stimulus_site"].iloc[0].effector == "ChRmine"
            assert row["stimulus_site"].iloc[0].spatial_light_modulator.spatial_resolution_in_px[:].tolist() \
                == [128, 128]
        # light durations and order exactly as logged
        np.testing.assert_allclose(np.asarray(table["stop_time"][:]) - np.asarray(table["start_time"][:]),
                                   [s["t_gate_close"] - s["t_gate_open"] for s in steps], atol=1e-9)
        assert nwb.devices["Laser"].stimulation_wavelength_in_nm == pytest.approx(
            1e3 * header["config"]["slm"]["wavelength_um"])
        assert nwb.devices["Laser"].peak_power_in_W == pytest.approx(
            header["config"]["safety"]["laser_power_mw"] / 1e3)
        notes = json.loads(nwb.notes)
        assert notes["session"] == json.loads(json.dumps(header["config"]))
        cals = [header["calibration"]] + [r["calibration"] for r in recs if r["type"] == "calibration"]
        last_cal = cals[-1]
        assert last_cal is not None
        assert notes["calibration"] == json.loads(json.dumps(last_cal))
        proto = json.loads(nwb.protocol)
        assert proto["plan"] == json.loads(json.dumps(start["plan"]))
        assert proto["outcome"]["outcome"] == "completed"
        assert "sample µm" in targets.description
    # the targets table is an ordinary PlaneSegmentation: holostim's own NWB ROI reader takes it
    rois = read_rois(out)
    assert len(rois) == 4 and rois.format == "nwb"


def test_a_log_without_light_is_refused_and_nothing_written(tmp_path):
    with Session.open(write_session(tmp_path, daq=None)) as s:
        log = s.log.path
    with pytest.raises(InteropError, match="no presentation"):
        export_nwb(log, tmp_path / "x.nwb")
    assert not (tmp_path / "x.nwb").exists()


def test_cli_export_nwb_one_line(protocol_log, tmp_path, capsys):
    out = tmp_path / "cli.nwb"
    assert main(["export-nwb", str(protocol_log), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "4 presentations of 2 patterns (4 targets, in sample µm" in line
    assert out.is_file() and not list(tmp_path.glob(".*.tmp.nwb"))
    assert main(["export-nwb", str(protocol_log), "--out", str(tmp_path / "x.txt")]) == 2
    assert "must end in .nwb" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    assert main(["export-nwb", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_protocol_asking_for_nwb_is_exported_when_it_ends(calibrated, tmp_path, capsys):  # noqa: F811
    from holostim.session.target_files import save_targets

    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    session = write_session(tmp_path)
    with Session.open(session) as s:
        save_targets(tmp_path / "cells.csv", [Target(t.x, t.y, 1.0, 0, i + 1)
                                              for i, t in enumerate(in_field(s, xy) for xy in CELLS[:2])])
    (tmp_path / "out").mkdir()
    proto = tmp_path / "p.yaml"
    proto.write_text("version: 1\nname: export\npatterns:\n  a: {targets_file: cells.csv}\n"
                     "schedule:\n  steps:\n    - {pattern: a, duration_ms: 50}\nexport_nwb: out/run.nwb\n")
    assert main(["run-protocol", str(proto), "--config", str(session)]) == 0
    assert "exported to NWB" in capsys.readouterr().err
    with pynwb.NWBHDF5IO(str(tmp_path / "out" / "run.nwb"), "r") as io:
        table = io.read().intervals[TABLE]
        assert len(table) == 1 and table["pattern_name"][0] == "a"


@pytest.mark.parametrize(("value", "message"), [
    ("run.h5", "'run.h5' must end in .nwb"),
    ("missing/run.nwb", "the folder .* does not exist"),
])
def test_the_export_key_is_checked_before_any_light(tmp_path, value, message, capsys):
    proto = tmp_path / "p.yaml"
    proto.write_text("version: 1\nname: export\npatterns:\n  a: {group: 0}\n"
                     f"schedule:\n  steps:\n    - {{pattern: a, duration_ms: 50}}\nexport_nwb: {value}\n")
    assert main(["run-protocol", str(proto), "--config", str(write_session(tmp_path / "rig"))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "p.yaml:8: export_nwb:" in err
    assert re.search(message, err)


def test_an_interactive_session_exports_each_gate_opening_on_a_pattern(calibrated, tmp_path):  # noqa: F811
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    with Session.open(write_session(tmp_path)) as s:
        first = [in_field(s, xy) for xy in CELLS[:2]]
        s.apply(first)
        s.apply([in_field(s, CELLS[3])])
        log = s.log.path
    _, recs, t0 = _raw(log)
    opens = [r for r in recs
             if r["type"] == "gate" and r["action"] == "open" and r.get("kind") != "calibration"]
    closes = [r for r in recs if r["type"] == "gate" and r["action"] == "close"][-len(opens):]
    assert len(opens) == 2
    out = export_nwb(log, tmp_path / "live.nwb")
    assert list(pynwb.validate(path=str(out))) == []
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        table = io.read().intervals[TABLE]
        np.testing.assert_allclose(table["start_time"][:], [o["t"] - t0 for o in opens], atol=1e-6)
        np.testing.assert_allclose(table["stop_time"][:], [c["t"] - t0 for c in closes], atol=1e-6)
        assert list(table["step"][:]) == [-1, -1]
        assert [len(table["targets"][i].targeted_rois.data[:]) for i in range(2)] == [2, 1]
