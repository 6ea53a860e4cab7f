"""The stimulation log: durable appends, exact frame hashes, a reader that survives a crash."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from holostim.eventlog import EventLog, EventLogError, frame_hash, read, read_masks


def test_frame_hash_is_sha256_of_shape_and_bytes():
    frame = np.arange(12, dtype=np.uint8).reshape(3, 4)
    expected = hashlib.sha256(b"3x4;" + bytes(range(12))).hexdigest()
    assert frame_hash(frame) == "sha256:" + expected
    # Same bytes, other geometry: a different hash.
    assert frame_hash(frame.reshape(4, 3)) != frame_hash(frame)
    # A non-contiguous view hashes like its contiguous copy.
    big = np.arange(64, dtype=np.uint8).reshape(8, 8)
    assert frame_hash(big[::2, ::2]) == frame_hash(np.ascontiguousarray(big[::2, ::2]))
    with pytest.raises(EventLogError, match="uint8"):
        frame_hash(frame.astype(np.float32))
    # a 10/12-bit panel's uint16 frame: its little-endian bytes, the depth mixed in
    deep = frame.astype(np.uint16) * 300
    want = hashlib.sha256(b"3x4;u16;" + deep.astype("<u2").tobytes()).hexdigest()
    assert frame_hash(deep) == "sha256:" + want


def test_header_then_records_round_trip(tmp_path):
    log = EventLog.create(tmp_path / "logs", {"config": {"name": "x"}, "backend": "numpy"}, masks="npz")
    frames = [np.full((6, 7), i * 40, np.uint8) for i in range(3)]
    written = []
    for i, f in enumerate(frames):
        written.append(
            log.append(
                {
                    "method": "wgs",
                    "metrics": {"efficiency": np.float32(0.5 + i / 10), "gap": float("nan")},
                    "targets": np.array([[1.5, 2.0]]),
                },
                frame=f,
            )
        )
    log.close()
    with pytest.raises(EventLogError, match="closed"):
        log.append({})

    contents = read(log.path)
    assert not contents.truncated
    assert contents.header["type"] == "header"
    assert contents.header["config"] == {"name": "x"}
    assert contents.header["holostim_version"]
    assert "machine" in contents.header
    assert len(contents) == 3
    for i, rec in enumerate(contents.records):
        assert rec["seq"] == i + 1
        assert rec["type"] == "pattern"
        assert rec["frame_hash"] == frame_hash(frames[i])
        assert rec["metrics"]["efficiency"] == pytest.approx(0.5 + i / 10, rel=1e-6)
        assert rec["metrics"]["gap"] is None  # NaN is written as null: strict JSON
        assert rec["targets"] == [[1.5, 2.0]]
        assert rec["method"] == "wgs"
        assert (written[i]["seq"], written[i]["frame_hash"]) == (rec["seq"], rec["frame_hash"])
    # Every line is strict JSON (no NaN tokens) so jq/pandas can read it.
    for line in log.path.read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))

    masks = read_masks(log.path)
    assert sorted(masks) == ["frame_000001", "frame_000002", "frame_000003"]
    for i, f in enumerate(frames):
        np.testing.assert_array_equal(masks[f"frame_{i + 1:06d}"], f)


def test_never_overwrites_and_names_are_unique(tmp_path):
    a = EventLog.create(tmp_path, {})
    b = EventLog.create(tmp_path, {})
    assert a.path != b.path
    with pytest.raises(EventLogError, match="already exists"):
        EventLog(a.path, {})
    a.close()
    b.close()


def test_reader_tolerates_truncated_last_line_and_reports_damage(tmp_path):
    with EventLog(tmp_path / "run.jsonl", {}) as log:
        for i in range(4):
            log.append({"i": i})
    data = (tmp_path / "run.jsonl").read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[:-10])  # the writer died inside record 4
    contents = read(cut)
    assert contents.truncated
    assert [r["i"] for r in contents.records] == [0, 1, 2]

    damaged = tmp_path / "damaged.jsonl"
    lines = data.split(b"\n")
    lines[2] = lines[2][:5]  # damage in the middle is not a crash artefact: reported, naming the line
    damaged.write_bytes(b"\n".join(lines))
    contents = read(damaged)
    assert [r["i"] for r in contents.records] == [0, 2, 3]  # the records around it are all there
    assert [str(d).split(": ")[0] for d in contents.damaged] == [f"{damaged}:3"]

    not_a_log = tmp_path / "other.jsonl"
    not_a_log.write_text('{"a": 1}\n')
    with pytest.raises(EventLogError, match="not a holostim event log"):
        read(not_a_log)
    with pytest.raises(EventLogError, match="cannot read"):
        read(tmp_path / "missing.jsonl")


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from holostim.eventlog import EventLog
    log = EventLog(sys.argv[1], {"config": {"pad": "x" * 5000}}, masks="npz")
    rng = np.random.default_rng(0)
    i = 0
    while True:
        i += 1
        frame = rng.integers(0, 256, (64, 64), dtype=np.uint8)
        # Big records make it likely that the kill lands inside a write.
        log.append({"i": i, "payload": "y" * 20000}, frame=frame)
        if i == 5:
            print("ready", flush=True)
    """
)


def test_sigkill_mid_run_leaves_a_readable_log(tmp_path):
    path = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    contents = read(path)
    n = len(contents.records)
    assert n >= 5
    assert [r["i"] for r in contents.records] == list(range(1, n + 1))
    assert all(len(r["payload"]) == 20000 for r in contents.records)
    assert contents.header["config"]["pad"] == "x" * 5000
    # Every mask whose record made it into the log is readable and matches the logged hash (the frame
    # is stored before its record is written).
    masks = read_masks(path)
    for rec in contents.records:
        assert frame_hash(masks[rec["mask"]]) == rec["frame_hash"]


def test_legacy_npz_masks_recovered_when_the_zip_directory_was_being_rewritten(tmp_path):
    import zipfile

    path = tmp_path / "run.jsonl"
    frames = [np.full((5, 9), 10 * i, np.uint8) for i in range(1, 4)]
    for seq, f in enumerate(frames, start=1):  # how logs before the frame store kept their masks
        with zipfile.ZipFile(path.with_suffix(".masks.npz"), mode="a", compression=zipfile.ZIP_STORED) as zf:
            with zf.open(f"frame_{seq:06d}.npy", mode="w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, f, allow_pickle=False)
    assert sorted(read_masks(path)) == ["frame_000001", "frame_000002", "frame_000003"]
    data = path.with_suffix(".masks.npz").read_bytes()
    member = 128 + 45  # npy header + data of one frame, plus change
    for cut_at, n_intact in ((len(data) - 30, 3), (data.rfind(b"PK\x03\x04") + member // 2, 2)):
        broken = tmp_path / f"cut{cut_at}.masks.npz"
        broken.write_bytes(data[:cut_at])
        masks = read_masks(broken)
        assert sorted(masks) == [f"frame_{i:06d}" for i in range(1, n_intact + 1)]
        for i in range(n_intact):
            np.testing.assert_array_equal(masks[f"frame_{i + 1:06d}"], frames[i])


def test_pattern_record_schema_from_typed_inputs():
    from types import SimpleNamespace

    from holostim.eventlog.records import RecordTimes, calibration_record, pattern_record
    from holostim.holography.metrics import METRIC_NAMES
    from holostim.session import Target

    rec = pattern_record(
        times=RecordTimes(request=10.0, computed=10.5, uploaded=10.75, swapped=None, wall_offset=1000.0),
        targets=[Target(1.0, 2.0, weight=2.0, group=3, id=17)],
        targets_slm=np.array([[40.0, 41.0]]),
        targets_sample_um=np.array([[-5.0, 6.5]]),
        method="wgs", iterations=7, warm_start=True,
        metrics=SimpleNamespace(efficiency=np.float32(0.5), gap="n/a"),
        compute_ms=3.0, click_to_swap_ms=None, predicted_power_mw=np.array([12.0]),
        slm_frame_index=4, laser_permitted=False, interlock_reason="no frame shown yet",
    )
    assert rec["time"] == {"request": 1010.0, "computed": 1010.5, "uploaded": 1010.75, "swapped": None,
                           "request_mono": 10.0, "computed_mono": 10.5, "uploaded_mono": 10.75,
                           "swapped_mono": None}
    assert rec["targets"] == [{"id": 17, "camera_px": [1.0, 2.0], "slm_px": [40.0, 41.0],
                               "sample_um": [-5.0, 6.5], "z_um": 0.0, "weight": 2.0, "group": 3}]
    # Every metric name is there; one the engine did not give, or not a number, is None.
    assert list(rec["metrics"]) == list(METRIC_NAMES)
    assert rec["metrics"]["efficiency"] == 0.5 and rec["metrics"]["gap"] is None
    assert rec["metrics"]["uniformity"] is None
    assert rec["predicted_power_mw"] == [12.0] and rec["slm_frame_index"] == 4
    assert rec["interlock"] == {"laser_permitted": False, "reason": "no frame shown yet"}
    assert calibration_record({"n_spots": 9}) == {"type": "calibration", "calibration": {"n_spots": 9}}
