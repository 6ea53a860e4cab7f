"""Spot depths through the session: Target.z_um reaches the engine's 3-D target and the log's records."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
from test_session import calibrated, in_field, patterns_in, write_session  # noqa: F401 (a fixture)

from holostim.holography import HologramEngine, SpotTarget
from holostim.session import Session, Target


@pytest.fixture
def no_tolerance_session(calibrated, tmp_path):  # noqa: F811
    # without a tolerance stop: the direct sum's tolerance error counts the spots only (no dark pixels),
    # and three spots are within the default ±10 % before the first iteration
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    return write_session(tmp_path, engine={"tolerance": None, "iterations": 10})


def test_depths_reach_the_engine_and_the_log(no_tolerance_session):
    with Session.open(no_tolerance_session) as s:
        flat = [in_field(s, (40, 40)), in_field(s, (90, 60)), in_field(s, (60, 100))]
        deep = [dataclasses.replace(t, z_um=z) for t, z in zip(flat, (5.0, 0.0, -3.0), strict=True)]
        r3 = s.apply(deep)
        r2 = s.apply(flat)
        path = s.log.path
        # the hologram is the engine's for the 3-D target (the session's defocus model, the direct sum)
        alone = HologramEngine(**s.config.engine_kwargs()).compute(
            SpotTarget.from_pixels(r3.targets_slm, shape=s.slm.shape, z=[5.0, 0.0, -3.0],
                                   weights=1.0 / r3.efficiency),  # the session's power compensation
            iterations=10)
    assert r3.iterations == 10 and r3.metrics.uniformity > 0.99
    assert np.abs(np.angle(np.exp(1j * (r3.phase.astype(float) - alone.phase)))).max() < 1e-4
    assert np.abs(np.angle(np.exp(1j * (r3.phase.astype(float) - r2.phase)))).max() > 0.1
    recs = patterns_in(path)[-2:]
    assert [t["z_um"] for t in recs[0]["targets"]] == [5.0, 0.0, -3.0]
    assert [t["z_um"] for t in recs[1]["targets"]] == [0.0, 0.0, 0.0]
    assert Target(1.0, 2.0).z_um == 0.0 and Target(1.0, 2.0, 1.0, 0, None, 4.0).z_um == 4.0
