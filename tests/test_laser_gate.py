"""Issue 12, "light outside the limits": every frame passes the one gate, is logged, and decides the laser.

Each test is a reproduction from the issue on the simulated rig: before the gate, these frames reached
the SLM unchecked or unlogged with LASER PERMITTED.
"""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from test_session import N, calibrated, in_field, patterns_in, session_file, write_session  # noqa: F401

from holostim.eventlog import EventLogError, frame_hash, read
from holostim.hardware.slm.patterns import checkerboard
from holostim.holography import SpotTarget
from holostim.session import SafetyError, Session


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def rig(folder, calibrated_folder, **sections):  # noqa: F811 - the fixture's folder, passed on
    import shutil

    shutil.copy(calibrated_folder / "calibration.yaml", folder / "calibration.yaml")
    return write_session(folder, **sections)


def without_daq(path):
    """The session file at ``path`` without its ``daq`` section (light follows the SLM's interlock)."""
    import yaml

    data = yaml.safe_load(path.read_text())
    data.pop("daq", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


class Permits:
    """The session's ``"permit"`` events, as heard."""

    def __init__(self, session: Session):
        self.heard: list[tuple[bool, str]] = []
        session.add_listener("permit", lambda ok, why: self.heard.append((ok, why)))


def test_apply_with_no_targets_blocks_the_laser(session_file):  # noqa: F811
    with Session.open(session_file) as s:
        permits = Permits(s)
        s.apply([in_field(s, (30, 30))])
        assert s.laser_permitted and permits.heard[-1] == (True, "")
        res = s.apply([])
        assert not res.phase.any()  # the flat phase is shown (all light in the zero order) ...
        assert s.permit_state() == (False, "no targets")  # ... with the laser blocked
        assert permits.heard[-1] == (False, "no targets")
        assert res.record["interlock"] == {"laser_permitted": False, "reason": "no targets"}
        path = s.log.path
    lasers = patterns_in(path, "laser")
    assert [(r["laser_permitted"], r["reason"]) for r in lasers][:2] == [(True, ""), (False, "no targets")]


@pytest.mark.parametrize("where", ["on a target", "off the targets"])
def test_show_rechecks_the_phase_actually_shown(calibrated, tmp_path, where):  # noqa: F811
    path = rig(tmp_path, calibrated, safety={"laser_power_mw": 100, "max_power_per_spot_mw": 20,
                                             "max_total_power_mw": 500})
    grid = [(x, y) for x in (22, 38, 54, 80, 96, 108) for y in (20, 40, 90, 100, 110)]  # 30 spots
    with Session.open(path) as s:
        res = s.compute([in_field(s, p) for p in grid])  # 30 spots at ~3 mW each: within the limits
        assert len(res.targets) == 30 and res.predicted_power_mw.max() < 20
        one = (22, 20) if where == "on a target" else (100, 64)
        res.phase = s.engine.compute(SpotTarget.from_pixels(np.array([one], float), shape=(N, N)),
                                     method="wgs", iterations=10).phase  # one spot, 30 still claimed
        before = s.log.path.read_bytes()
        n_frames = len(s.slm.frames)
        with pytest.raises(SafetyError, match=r"predicted power \d+\.\d mW .*max_power_per_spot_mw = 20"):
            s.show(res)  # the claimed 30 spots do not matter: the shown phase puts ~90 mW in one spot
        assert s.log.path.read_bytes() == before and len(s.slm.frames) == n_frames


def test_calibration_frames_obey_the_limits_and_are_logged(session_file, tmp_path):  # noqa: F811
    cases = {
        "over": ({"laser_power_mw": 300}, r"calibration: predicted .* exceeds safety\.max_"),
        "unset": ({"laser_power_mw": None}, "calibration.laser_power_mw not set"),
        "within": ({"laser_power_mw": 10}, None),
    }
    for name, (section, reason) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "calibration.yaml").write_bytes((session_file.parent / "calibration.yaml").read_bytes())
        path = write_session(folder, calibration=section, safety={"max_power_per_spot_mw": 15})
        if reason is not None:  # the verdicts with the laser blocked; behind a DAQ's gate the camera
            without_daq(path)   # would see no spot (tests/test_laser_gate_daq.py checks that refusal)
        with Session.open(path) as s:
            s.apply([in_field(s, (30, 30))])
            assert s.laser_permitted
            permits = Permits(s)
            s.calibrate(grid=3)
            shown = [r.frame for r in list(s.slm.frames)[-6:-1]]  # the five calibration frames
            log_path = s.log.path
        frames = [r for r in read(log_path).records if r["type"] == "frame"]
        assert [r["kind"] for r in frames] == ["calibration"] * 5
        assert [r["name"] for r in frames] == ["background", "reference spot 1", "reference spot 2",
                                               "reference spot 3", "3x3 grid"]
        assert [r["frame_hash"] for r in frames] == [frame_hash(f) for f in shown]
        spots = [r for r in frames if r["name"].startswith("reference")]
        if reason is None:  # 10 mW in one reference spot: within 15 mW, light allowed
            assert all(r["interlock"]["laser_permitted"] for r in spots)
            assert all(r["peak_power_mw"] <= 15 for r in frames)
        else:  # a reference spot would get ~270 mW, or the power is unknown: blocked all along
            assert not any(r["interlock"]["laser_permitted"] for r in frames)
            assert all(re.search(reason, r["interlock"]["reason"]) for r in spots)
            # blocked from the first calibration frame until the pattern is back, then closed
            oks = [ok for ok, _ in permits.heard]
            assert not any(oks[:-2]) and oks[-2:] == [True, False]
            assert re.search(reason, permits.heard[0][1])
        # afterwards the SLM shows the pattern again, through the gate: light allowed again
        assert patterns_in(log_path)[-1]["interlock"]["laser_permitted"] is True


def test_test_pattern_is_logged_and_blocks_the_laser(session_file, tmp_path):  # noqa: F811
    frame = checkerboard((N, N), square=8)
    with Session.open(session_file) as s:
        s.apply([in_field(s, (30, 30))])
        assert s.laser_permitted
        rec = s.show_test_pattern(frame, "checkerboard")
        np.testing.assert_array_equal(s.slm.last_frame, frame)
        assert not s.laser_permitted and "test pattern" in s.permit_reason
        log_path = s.log.path
    (logged,) = patterns_in(log_path, "frame")
    assert (logged["kind"], logged["name"]) == ("test_pattern", "checkerboard")
    assert logged["frame_hash"] == frame_hash(frame) and logged["slm_frame_index"] == rec.index
    assert logged["interlock"]["laser_permitted"] is False
    # A session that explicitly allows it lets the laser see a test pattern within the limits.
    cal = {"file": str(session_file.parent / "calibration.yaml")}
    path = write_session(tmp_path / "allowed", calibration=cal, safety={"test_patterns_with_laser": True})
    with Session.open(path) as s:
        s.show_test_pattern(np.full((N, N), 128, np.uint8), "flat")  # 15 mW in the zero order ≤ 20 mW
        assert s.laser_permitted


def test_a_session_without_a_camera_shows_test_patterns_through_the_gate(session_file, tmp_path):  # noqa: F811
    """``Session.open(camera=False)`` (slm-check): SLM, gate and log; no camera, no calibration."""
    from holostim.session import SessionError, TargetRefused

    frame = checkerboard((N, N), square=8)
    with Session.open(session_file, camera=False) as s:
        assert s.camera is None and s.calibration is None  # the calibration file beside it is not loaded
        rec = s.show_test_pattern(frame, "checkerboard")
        np.testing.assert_array_equal(s.slm.last_frame, frame)
        assert not s.laser_permitted and "test pattern" in s.permit_reason
        with pytest.raises(TargetRefused):
            s.apply([(30.0, 30.0)])  # no calibration: every target is refused
        with pytest.raises(SessionError, match="without a camera"):
            s.calibrate()
        log_path = s.log.path
    contents = read(log_path)
    assert contents.header["camera"] is None and contents.header["calibration"] is None
    (logged,) = patterns_in(log_path, "frame")
    assert (logged["kind"], logged["frame_hash"], logged["slm_frame_index"]) == (
        "test_pattern", frame_hash(frame), rec.index)
    assert logged["camera_frame_index"] is None and not logged["interlock"]["laser_permitted"]
    assert contents.records[-1]["type"] == "session_end"
    with Session.open(session_file) as s:  # a normal session is as before
        assert s.camera is not None and s.calibration is not None
        assert read(s.log.path).header["camera"]["backend"] == "simulated"


def test_unset_laser_power_never_permits(session_file, tmp_path, capsys):  # noqa: F811
    from holostim.cli import main
    from holostim.config import SafetyConfig

    assert SafetyConfig().laser_power_mw is None  # not 0 (which turned every power limit off)
    cal = {"file": str(session_file.parent / "calibration.yaml")}
    path = write_session(tmp_path / "unset", calibration=cal, safety={"laser_power_mw": None})
    with Session.open(path) as s:
        res = s.apply([in_field(s, (30, 30))])  # shown and logged ...
        assert res.record["frame_hash"] == frame_hash(s.slm.last_frame)
        assert s.permit_state() == (False, "safety.laser_power_mw not set")  # ... but never lit
        assert res.record["interlock"]["laser_permitted"] is False
        assert s.slm.laser_permitted  # the display itself is fine
    assert main(["check-config", str(path)]) == 0
    err = capsys.readouterr().err
    assert "warning: safety.laser_power_mw is not set: the laser will never be permitted" in err
    assert err.strip().endswith("valid")


def test_log_write_failure_blocks_the_laser(session_file, monkeypatch):  # noqa: F811
    with Session.open(session_file) as s:
        permits = Permits(s)
        s.apply([in_field(s, (30, 30))])
        assert s.laser_permitted
        real = s.log.append
        full = threading.Event()

        def append(record, frame=None):
            if full.is_set():
                raise EventLogError(f"cannot write the log {str(s.log.path)!r}: No space left on device")
            return real(record, frame=frame)

        monkeypatch.setattr(s.log, "append", append)
        full.set()
        with pytest.raises(EventLogError, match="No space left"):
            s.apply([in_field(s, (40, 30))])
        np.testing.assert_array_equal(s.slm.last_frame, s.slm.frames[-1].frame)  # it was on the SLM ...
        assert not s.laser_permitted  # ... and the laser was blocked at once
        assert "log write failed" in s.permit_reason and "No space left" in s.permit_reason
        assert permits.heard[-1][0] is False and "log write failed" in permits.heard[-1][1]
        full.clear()  # space again: the next durable frame permits light again
        s.apply([in_field(s, (40, 30))])
        assert s.laser_permitted and permits.heard[-1] == (True, "")


def test_log_records_session_end_camera_frame_permit_changes_and_refusals(session_file):  # noqa: F811
    with Session.open(session_file) as s:
        s.camera.start()
        first = s.camera.wait_frame(after=0, timeout=30)
        assert first is not None
        res = s.apply([in_field(s, (30, 30))])
        assert res.record["camera_frame_index"] >= first.counter
        assert s.log_refusal(12.5, 20.0, "in the zero-order exclusion")
        s.slm.set_visible(False)  # the interlock goes off: recorded, and the permit with it
        done = threading.Event()
        s.add_listener("permit", lambda ok, why: done.set())
        assert done.wait(30) or not s.laser_permitted
        path = s.log.path
    records = read(path).records
    assert records[-1]["type"] == "session_end" and records[-1]["records"] == len(records) - 1
    (refusal,) = [r for r in records if r["type"] == "refusal"]
    assert refusal["camera_px"] == [12.5, 20.0] and refusal["reason"] == "in the zero-order exclusion"
    lasers = [(r["laser_permitted"], r["reason"]) for r in records if r["type"] == "laser"]
    assert lasers[0] == (True, "") and lasers[-1] == (False, "the session is closed")
    assert any(not ok and "hidden" in why for ok, why in lasers)
    interlocks = [r["ok"] for r in records if r["type"] == "interlock"]
    assert interlocks[-2:] == [True, False]


def test_interlock_off_right_after_a_frame_blocks_even_if_the_watchdog_never_saw_it_on(
        session_file, monkeypatch):  # noqa: F811
    """The race CI caught: the interlock goes on (a frame) and off (window hidden) between two passes.

    The permit once took "on" from the session's own look at the SLM while the watchdog, which had not
    passed since "no frame shown yet", saw only "off" -> no change to report, and LASER PERMITTED stayed
    on a hidden window. Here the watchdog is held still across both edges (no wakes, no polling).
    """
    from holostim.hardware.slm.interlock import InterlockWatchdog

    monkeypatch.setattr(InterlockWatchdog, "POLL_S", 3600.0)
    with Session.open(session_file) as s:
        watchdog = s.slm._interlock
        real_wake = watchdog.wake
        monkeypatch.setattr(watchdog, "wake", lambda: None)  # the thread sleeps through both edges
        heard = threading.Event()
        s.apply([in_field(s, (30, 30))])
        assert s.laser_permitted
        s.add_listener("permit", lambda ok, why: heard.set() if not ok else None)
        s.slm.set_visible(False)
        real_wake()  # now the watchdog passes once: it must see "off" as a change
        assert heard.wait(30)
        assert s.permit_state() == (False, "simulated SLM window hidden")


def test_holostim_calibrate_logs_its_frames_and_warns_without_a_calibration_power(tmp_path, capsys):
    from holostim.cli import main

    path = write_session(tmp_path, calibration={"laser_power_mw": None})
    without_daq(path)  # behind a DAQ's gate a calibration without light is refused (test_laser_gate_daq.py)
    assert main(["calibrate", "--config", str(path), "--grid", "3"]) == 0
    err = capsys.readouterr().err
    assert "warning: calibration.laser_power_mw is not set: the laser stays blocked while calibrating" in err
    (log_path,) = (tmp_path / "logs").glob("*.jsonl")
    frames = patterns_in(log_path, "frame")
    assert [r["kind"] for r in frames] == ["calibration"] * 5
    assert not any(r["interlock"]["laser_permitted"] for r in frames)
    assert read(log_path).records[-1]["type"] == "session_end"
