"""Building a library on a LocalCluster: the same bytes as computing each set alone, resumable, self-checking.

The reference is computed here without any library code: the session's own engine and SLM (opened on
the simulated rig), each set's spots mapped by the calibration, the engine run with the set's seed,
the phase turned into the SLM's frame. The build must equal it byte for byte with 2 worker processes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from lib_rig import make_rig, write_spec

from holostim.backend import Backend
from holostim.config import load_config
from holostim.holography import HologramEngine, SpotTarget
from holostim.library.build import build_library, plan_library
from holostim.library.spec import LibrarySpecError, load_spec, set_seed
from holostim.library.store import RECORDS, open_manifest, read_set
from holostim.session import Session


@pytest.fixture(scope="module")
def rig(calibrated, tmp_path_factory):  # noqa: F811
    return make_rig(calibrated, tmp_path_factory.mktemp("lib"))


def _plan(rig, name="library.yaml", **over):
    return plan_library(load_spec(write_spec(rig.parent, name, **over)), load_config(rig))


@pytest.mark.slow
def test_a_200_set_library_equals_each_set_computed_alone(rig, client, tmp_path):
    plan = _plan(rig, sets={"random": {"count": 200, "k": 4, "seed": 5}}, chunk_sets=16)
    report = build_library(plan, tmp_path / "lib.zarr", client=client)
    assert (report.n_sets, report.n_chunks, report.computed_chunks) == (200, 13, 13)
    frames = np.asarray(zarr.open_array(store=str(tmp_path / "lib.zarr"), path="frames", mode="r")[:])
    manifest = open_manifest(tmp_path / "lib.zarr")
    assert manifest["complete"] and len(manifest["results"]) == 200
    with Session.open(rig) as s:
        # the session's engine, with the one FFT thread of each worker (another thread count may round
        # the FFT differently)
        engine = HologramEngine(**{**s.config.engine_kwargs(), "backend": Backend("numpy", "single", 1)})
        for i, entry in enumerate(manifest["sets"]):
            xy = s.calibration.camera_to_slm(np.array(entry["camera_px"]))
            target = SpotTarget.from_pixels(xy, shape=s.slm.shape, weights=np.array(entry["weights"]))
            res = engine.compute(target, method="wgs", iterations=5, seed=set_seed(11, entry["id"]))
            want = s.slm.phase_to_gray(res.phase)
            assert frames[i].tobytes() == want.tobytes(), entry["id"]
            # the direct sum (these few spots) runs BLAS on one thread everywhere: the same bits as a
            # Dask worker's, whatever this process's BLAS thread count
            assert manifest["results"][i]["efficiency"] == pytest.approx(res.metrics.efficiency, abs=0)
    # the manifest's coordinates: camera px → SLM px → sample µm
    e = manifest["sets"][0]
    assert np.allclose(e["slm_px"], s.calibration.camera_to_slm(np.array(e["camera_px"])))
    assert len(e["sample_um"]) == len(e["camera_px"]) == 4
    assert manifest["calibration"] == s.calibration.to_dict()


def _table(folder, name, sets):
    import csv

    cells = list(csv.DictReader((folder / "cells.csv").open()))
    with (folder / name).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x_camera_px", "y_camera_px", "weight", "set"])
        for sid, rows in sets.items():
            w.writerows([cells[r]["x_camera_px"], cells[r]["y_camera_px"], 1.0, sid] for r in rows)
    return {"table": {"file": name}}


def test_a_set_does_not_depend_on_the_library_around_it(rig, client, tmp_path):
    """Set "b" alone, and among others in chunks of another size: the same frame (its seed is its id's)."""
    many = _table(rig.parent, "many.csv", {"a": [0, 1], "b": [2, 3, 4], "c": [5], "d": [6, 7]})
    one = _table(rig.parent, "one.csv", {"b": [2, 3, 4]})
    build_library(_plan(rig, "a.yaml", targets_file=None, sets=many, chunk_sets=3), tmp_path / "a.zarr",
                  client=client)
    build_library(_plan(rig, "b.yaml", targets_file=None, sets=one, chunk_sets=1), tmp_path / "b.zarr",
                  client=client)
    a, ea, _ = read_set(tmp_path / "a.zarr", "b")
    b, eb, _ = read_set(tmp_path / "b.zarr", "b")
    assert ea["camera_px"] == eb["camera_px"] and ea["seed"] == eb["seed"]
    assert a.tobytes() == b.tobytes() and ea["sha256"] == eb["sha256"]


def test_a_rebuild_computes_nothing_and_a_corrupt_chunk_is_redone(rig, client, tmp_path):
    out = tmp_path / "lib.zarr"
    plan = _plan(rig)
    first = build_library(plan, out, client=client)
    before = np.asarray(zarr.open_array(store=str(out), path="frames", mode="r")[:])
    again = build_library(plan, out, client=client)
    assert (first.computed_chunks, again.computed_chunks, again.skipped_chunks) == (5, 0, 5)
    arr = zarr.open_array(store=str(out), path="frames", mode="r+")
    arr[9] = 255 - before[9]  # set 9 is in chunk 1
    (out / RECORDS / "000003.json").unlink()  # chunk 3 lost its record (killed between data and record)
    third = build_library(plan, out, client=client)
    assert third.computed_chunks == 2
    after = np.asarray(zarr.open_array(store=str(out), path="frames", mode="r")[:])
    assert after.tobytes() == before.tobytes()
    record = json.loads((out / RECORDS / "000001.json").read_text())
    assert record["sets"][1]["sha256"] == open_manifest(out)["results"][9]["sha256"]


def test_another_spec_into_the_same_store_is_refused(rig, client, tmp_path):
    from holostim.library.store import LibraryStoreError

    build_library(_plan(rig), tmp_path / "lib.zarr", client=client)
    other = _plan(rig, compute={"method": "gs", "iterations": 5, "seed": 11})
    with pytest.raises(LibraryStoreError, match="another spec"):
        build_library(other, tmp_path / "lib.zarr", client=client)


def test_a_store_killed_while_being_created_is_completed_by_the_rerun(rig, client, tmp_path):
    import shutil

    out = tmp_path / "lib.zarr"
    plan = _plan(rig)
    build_library(plan, out, client=client)
    want = np.asarray(zarr.open_array(store=str(out), path="frames", mode="r")[:])
    shutil.rmtree(out / "frames")
    shutil.rmtree(out / RECORDS)  # only the group and its manifest were written
    assert build_library(plan, out, client=client).computed_chunks == 5
    assert np.asarray(zarr.open_array(store=str(out), path="frames", mode="r")[:]).tobytes() == want.tobytes()


def test_a_deep_gray_slm_needs_phases_not_8_bit_frames(rig):
    """A 10-bit panel's frames are not 8-bit levels: the build says so before anything is computed."""
    cfg = load_config(rig)
    deep = cfg.model_copy(update={"slm": cfg.slm.model_copy(update={"bits": 10, "two_pi_gray": 1000})})
    spec = load_spec(write_spec(rig.parent, "deep.yaml"))
    with pytest.raises(LibrarySpecError, match="10-bit frames.*output: phases"):
        plan_library(spec, deep)
