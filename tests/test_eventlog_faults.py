"""The log under faults: a failed append changes nothing, a damaged line hides nothing else, a full disk
or a bad folder is named as such and leaves no junk behind."""

from __future__ import annotations

import numpy as np
import pytest
from eventlog_faults import install

from holostim.eventlog import EventLog, EventLogError, frame_hash, read, read_masks


def _frame(i: int) -> np.ndarray:
    return np.random.default_rng(i).integers(0, 256, (24, 32), dtype=np.uint8)


def test_enospc_mid_append_leaves_no_fragment_and_consumes_no_sequence_number(tmp_path, monkeypatch):
    faults = install(monkeypatch)
    log = EventLog(tmp_path / "run.jsonl", {})
    for i in range(3):
        log.append({"i": i})
    before = log.path.read_bytes()

    faults.fail_write(".jsonl", keep=9)  # a fragment reaches the disk, then ENOSPC
    with pytest.raises(EventLogError, match="No space left on device") as err:
        log.append({"i": "lost"})
    assert str(log.path) in str(err.value)
    assert faults.writes_failed == 1
    assert log.path.read_bytes() == before  # the fragment was cut off again
    assert log.n_records == 3

    faults.fail_fsync(".jsonl")  # the whole line was written but could not be made durable
    with pytest.raises(EventLogError, match="No space left on device"):
        log.append({"i": "lost too"})
    assert faults.fsyncs_failed == 1
    assert log.path.read_bytes() == before

    rec = log.append({"i": 3})  # space is back: the next record continues cleanly
    assert rec["seq"] == 4
    log.close()
    contents = read(log.path)
    assert contents.damaged == [] and not contents.truncated
    assert [(r["seq"], r["i"]) for r in contents.records] == [(1, 0), (2, 1), (3, 2), (4, 3)]


def test_enospc_during_mask_append_keeps_every_acknowledged_mask(tmp_path, monkeypatch):
    faults = install(monkeypatch)
    log = EventLog(tmp_path / "run.jsonl", {}, masks="npz")
    acknowledged: dict[str, np.ndarray] = {}
    for i in range(1, 8):
        if i == 3:  # the frame store fills up mid-frame
            faults.fail_write(".masks", keep=100)
        if i == 5:  # the frame was stored, then its record could not be written: both are undone
            faults.fail_write(".jsonl", keep=3)
        try:
            rec = log.append({"i": i}, frame=_frame(i))
        except EventLogError as exc:
            assert "No space left on device" in str(exc)
            continue
        acknowledged[rec["mask"]] = _frame(i)
    log.close()
    assert faults.writes_failed == 2
    assert len(acknowledged) == 5

    contents = read(log.path)
    assert contents.damaged == []
    assert [r["i"] for r in contents.records] == [1, 2, 4, 6, 7]
    assert [r["seq"] for r in contents.records] == [1, 2, 3, 4, 5]
    masks = read_masks(log.path)
    assert sorted(masks) == sorted(acknowledged)  # nothing unreachable, nothing orphaned
    for rec in contents.records:
        np.testing.assert_array_equal(masks[rec["mask"]], acknowledged[rec["mask"]])
        assert frame_hash(masks[rec["mask"]]) == rec["frame_hash"]
    assert read_masks(log.masks_path).keys() == masks.keys()  # the store alone describes itself


def test_reader_returns_every_good_record_and_reports_damaged_lines(tmp_path):
    with EventLog(tmp_path / "run.jsonl", {}) as log:
        for i in range(6):
            log.append({"i": i})
    lines = log.path.read_bytes().split(b"\n")  # [header, r1..r6, b""]
    # What the old writer left after one ENOSPC: a fragment with the next record glued to it.
    lines[2] = lines[2][:11] + lines[3]
    del lines[3]
    lines[4] = b"\xff\xfe not utf-8"
    lines[5] = b"[1, 2]"
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(b"\n".join(lines[:-1]) + b'\n{"type":"pat')  # and a truncated last line

    contents = read(damaged)
    assert [r["i"] for r in contents.records] == [0, 3]
    assert contents.truncated
    assert [d.line for d in contents.damaged] == [3, 5, 6, 7]
    reasons = [d.reason for d in contents.damaged]
    assert "JSON" in reasons[0] and "UTF-8" in reasons[1] and "not a JSON object" in reasons[2]
    assert "incomplete last line" in reasons[3]
    assert all(str(damaged) in str(d) and f":{d.line}:" in str(d) for d in contents.damaged)

    no_header = tmp_path / "noheader.jsonl"
    no_header.write_bytes(b"garbage\n" + b"\n".join(lines[1:3]) + b"\n")
    with pytest.raises(EventLogError, match="not a holostim event log"):
        read(no_header)


def test_full_disk_at_create_says_so_and_leaves_no_files(tmp_path, monkeypatch):
    faults = install(monkeypatch)
    logs = tmp_path / "logs"
    logs.mkdir()
    faults.fail_write(".jsonl", keep=0, until_cleared=True)
    with pytest.raises(EventLogError) as err:
        EventLog.create(logs, {"config": {}}, masks="npz")
    assert "No space left on device" in str(err.value) and str(logs) in str(err.value)
    assert faults.writes_failed == 1  # one try, not a thousand
    assert list(logs.iterdir()) == []
    faults.clear()
    assert EventLog.create(logs, {}).n_records == 0


@pytest.mark.parametrize("kind", ["file", "devnull"])
def test_log_directory_that_is_not_a_folder_is_named_as_such(tmp_path, kind):
    target = tmp_path / "logs.txt"
    if kind == "file":
        target.write_text("my notes\n")
    else:
        target = "/dev/null"
    with pytest.raises(EventLogError, match=r"not a folder") as err:
        EventLog.create(target, {})
    assert str(target) in str(err.value) and "already exists" not in str(err.value)
    if kind == "file":
        assert target.read_text() == "my notes\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["logs.txt"]


def _session_file(tmp_path, log_directory: str):
    import yaml

    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    data = yaml.safe_load((root / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [64, 64]
    data["simulation"].update(shape=[64, 64], n_neurons=4)
    data["log"]["directory"] = log_directory
    path = tmp_path / "session.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_session_open_on_a_full_disk_says_so_and_creates_no_logs(tmp_path, monkeypatch):
    from holostim.session import Session

    (tmp_path / "logs").mkdir()
    faults = install(monkeypatch)
    faults.fail_write(".jsonl", keep=0, until_cleared=True)
    with pytest.raises(EventLogError, match="No space left on device") as err:
        Session.open(_session_file(tmp_path, "logs"), load_calibration=False)
    assert str(tmp_path / "logs") in str(err.value)
    assert list((tmp_path / "logs").iterdir()) == []


def test_session_log_directory_that_is_a_file_is_named(tmp_path):
    from holostim.session import Session

    (tmp_path / "logs").write_text("not a folder\n")
    with pytest.raises(EventLogError, match=r"log.directory .*logs' is a file, not a folder"):
        Session.open(_session_file(tmp_path, "logs"), load_calibration=False)
    assert (tmp_path / "logs").read_text() == "not a folder\n"


def test_frame_store_skips_only_the_damaged_or_unfinished_frame(tmp_path):
    from holostim.eventlog.masks import read_frames

    with EventLog(tmp_path / "run.jsonl", {}, masks="npz") as log:
        recs = [log.append({"i": i}, frame=_frame(i)) for i in range(1, 5)]
    data = bytearray(log.masks_path.read_bytes())
    data[recs[1]["mask_offset"] + 200] ^= 0xFF  # a flipped byte inside frame 2's pixels
    damaged = tmp_path / "damaged.masks"
    damaged.write_bytes(bytes(data[: recs[3]["mask_offset"] + 50]))  # and frame 4 cut short
    frames, problems = read_frames(damaged)
    assert sorted(frames) == ["frame_000001", "frame_000003"]
    np.testing.assert_array_equal(frames["frame_000003"], _frame(3))
    assert len(problems) == 2 and "CRC" in problems[0] and "incomplete last frame" in problems[1]
    garbage = bytearray(log.masks_path.read_bytes())
    garbage[recs[1]["mask_offset"] : recs[1]["mask_offset"] + 8] = b"XXXXXXXX"  # a head overwritten
    (tmp_path / "garbage.masks").write_bytes(bytes(garbage))
    frames, problems = read_frames(tmp_path / "garbage.masks")  # resyncs on the next frame's head
    assert sorted(frames) == ["frame_000001", "frame_000003", "frame_000004"] and len(problems) == 1
    (tmp_path / "other.masks").write_bytes(b"PK\x03\x04 not a frame store")
    with pytest.raises(EventLogError, match="not a holostim frame store"):
        read_masks(tmp_path / "other.masks")
