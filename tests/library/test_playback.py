"""A protocol playing a library's sets on the simulated rig: stored frames, through the session's gate.

The runner shows each library pattern's stored frame; the log's pattern records carry the frame hashes
the library's manifest has, each step's gate opened on them, and the gate's verdict is the session's own
(computed from the frame). A library made for another calibration is refused before anything is shown.
"""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from lib_rig import make_rig, write_spec

from holostim.config import load_config
from holostim.eventlog import read
from holostim.library.build import build_library, plan_library
from holostim.library.spec import load_spec
from holostim.library.store import open_manifest
from holostim.protocol.errors import ProtocolError
from holostim.protocol.model import parse_protocol
from holostim.protocol.runner import ProtocolRun
from holostim.session import Session


@pytest.fixture(scope="module")
def library(calibrated, tmp_path_factory, client):  # noqa: F811
    rig = make_rig(calibrated, tmp_path_factory.mktemp("play"))
    spec = write_spec(rig.parent, sets={"random": {"count": 6, "k": 3, "seed": 4}}, power_mw_per_spot=0.5,
                      chunk_sets=2)
    build_library(plan_library(load_spec(spec), load_config(rig)), rig.parent / "lib.zarr", client=client)
    return rig


PROTOCOL = """\
version: 1
name: from-library
patterns:
  a: {library: lib.zarr, set: r1}
  b: {library: lib.zarr, set: r4, power_mw_per_spot: 0.25}
schedule:
  steps:
    - {pattern: a, duration_ms: 60}
    - {pattern: b, duration_ms: 60}
    - {pattern: a, duration_ms: 60}
"""


def test_a_protocol_plays_library_frames_whose_logged_hashes_are_the_manifests(library):
    rig = library
    protocol = parse_protocol(PROTOCOL, base_dir=rig.parent)
    manifest = open_manifest(rig.parent / "lib.zarr")
    want = {s["id"]: r["sha256"] for s, r in zip(manifest["sets"], manifest["results"], strict=True)}
    with Session.open(rig) as s:
        run = ProtocolRun(s, protocol)
        run.prepare()
        a, b = run.prepared["a"], run.prepared["b"]
        assert (a.frame_sha256, b.frame_sha256) == (want["r1"], want["r4"])
        # the verdict is the session's gate on this frame, not a stored number
        again = s.safety.decide("pattern", s._shown_phase(a.frame), a.result.targets_slm)
        np.testing.assert_array_equal(a.verdict.predicted_power_mw, again.predicted_power_mw)
        assert run.run() == ("completed", "")
        path = s.log.path
    records = read(path).records
    patterns = [r for r in records if r["type"] == "pattern"]
    steps = [r for r in records if r["type"] == "step"]
    assert [r["pattern"] for r in steps] == ["a", "b", "a"]
    assert [p["frame_hash"] for p in patterns[-3:]] == [want["r1"], want["r4"], want["r1"]]
    assert sum(1 for r in records if r["type"] == "gate" and r["open"]) == 3


def test_only_the_played_sets_are_read_and_a_corrupt_one_is_refused(library):
    rig = library
    arr = zarr.open_array(store=str(rig.parent / "lib.zarr"), path="frames", mode="r+")
    saved = np.asarray(arr[5])
    arr[5] = 255 - saved  # set r5 is corrupt; a protocol playing r1 and r4 never reads it
    try:
        with Session.open(rig) as s:
            ProtocolRun(s, parse_protocol(PROTOCOL, base_dir=rig.parent)).prepare()
            bad = PROTOCOL.replace("set: r4", "set: r5")
            with pytest.raises(ProtocolError, match=r"pattern 'b': .*set 'r5' has changed on disk"):
                ProtocolRun(s, parse_protocol(bad, base_dir=rig.parent)).prepare()
    finally:
        arr[5] = saved


def test_a_library_for_another_calibration_is_refused(library):
    rig = library
    with Session.open(rig) as s:
        s.calibration.matrix[0, 2] += 0.5  # the spots would land elsewhere than the library assumed
        n = len(s.slm.frames)
        with pytest.raises(ProtocolError, match="another SLM setting .* or calibration"):
            ProtocolRun(s, parse_protocol(PROTOCOL, base_dir=rig.parent)).prepare()
        assert len(s.slm.frames) == n
