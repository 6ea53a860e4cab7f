"""Prepared patterns: judged once by the gate, shown later at the cost of an upload and a swap.

The verdict is reused only for the same light; each way it could be about other light is refused.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_session import N, calibrated, in_field, session_file, write_session  # noqa: F401

from holostim.eventlog import frame_hash, read
from holostim.session import SafetyError, Session, SessionError


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def test_a_prepared_pattern_shows_its_judged_frame_without_judging_again(session_file, monkeypatch):  # noqa: F811
    with Session.open(session_file) as s:
        before = list(s.targets)
        p = s.prepare_pattern([in_field(s, (30, 30)), in_field(s, (60, 45))], "pair")
        assert not p.frame.flags.writeable and p.frame.dtype == np.uint8 and p.frame.shape == (N, N)
        assert p.verdict.light and p.n_spots == 2
        np.testing.assert_allclose(p.spot_fraction * s.config.safety.laser_power_mw,
                                   p.verdict.predicted_power_mw)
        calls = []
        real = s.safety.decide
        monkeypatch.setattr(s.safety, "decide", lambda *a, **k: calls.append(a) or real(*a, **k))
        shown = s.show_prepared(p)
        assert calls == []  # the gate's far field is not computed again
        np.testing.assert_array_equal(s.slm.last_frame, p.frame)
        assert shown.record["frame_hash"] == frame_hash(s.slm.last_frame) == p.frame_sha256
        assert s.laser_permitted
        again = s.show_prepared(p)  # each showing is its own record, with its own times
        assert again.record["seq"] > shown.record["seq"] and again.t_request >= shown.t_request
        assert s.targets == before  # the GUI's target set is not the protocol's
        path = s.log.path
    patterns = [r for r in read(path).records if r["type"] == "pattern"]
    assert [r["frame_hash"] for r in patterns[-2:]] == [p.frame_sha256] * 2


def test_a_changed_frame_is_refused(session_file):  # noqa: F811
    with Session.open(session_file) as s:
        p = s.prepare_pattern([in_field(s, (30, 30))], "one")
        other = p.frame.copy()
        other[0, 0] ^= 1
        with pytest.raises(SafetyError, match="changed after the gate judged it"):
            s.show_prepared(dataclasses.replace(p, frame=other))
        assert s.slm.last_record is None or not np.array_equal(s.slm.last_frame, other)


def test_changed_corrections_need_a_new_preparation(session_file):  # noqa: F811
    with Session.open(session_file) as s:
        p = s.prepare_pattern([in_field(s, (30, 30))], "one")
        s.slm.set_corrections(blaze=(0.01, 0.0))
        with pytest.raises(SessionError, match="corrections changed since pattern 'one' was prepared"):
            s.show_prepared(p)


def test_a_pattern_of_another_session_is_refused(session_file, calibrated, tmp_path):  # noqa: F811
    import shutil

    other_dir = tmp_path / "other"
    other_dir.mkdir()
    shutil.copy(calibrated / "calibration.yaml", other_dir / "calibration.yaml")
    with Session.open(session_file) as s, Session.open(write_session(other_dir)) as t:
        p = s.prepare_pattern([in_field(s, (30, 30))], "one")
        with pytest.raises(SessionError, match="prepared by another session"):
            t.show_prepared(p)


def test_a_pattern_over_the_limits_is_refused_when_prepared(calibrated, tmp_path):  # noqa: F811
    import shutil

    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    path = write_session(tmp_path, safety={"laser_power_mw": 100, "max_power_per_spot_mw": 5})
    with Session.open(path) as s:
        with pytest.raises(SafetyError, match="mW"):
            s.prepare_pattern([in_field(s, (30, 30))], "hot")
