"""A library built with B sets per FFT stack: the same bytes as B = 1 and as each set computed alone.

The rig's session is switched to ``spot_algorithm: fft`` so that its few-spot sets run on the FFT loop
(under ``auto`` they would all go to the direct sum, one by one, and no stack would ever be made).
"""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from lib_rig import make_rig, write_spec

from holostim.cli.main import main
from holostim.config import load_config
from holostim.library.batch import CPU_RULE, resolve_batch
from holostim.library.build import build_library, plan_library
from holostim.library.spec import LibrarySpecFileError, load_spec
from holostim.library.store import RECORDS, open_manifest
from holostim.library.worker import compute_set, engine_for, gray_for


@pytest.fixture(scope="module")
def rig(calibrated, tmp_path_factory):  # noqa: F811
    return make_rig(calibrated, tmp_path_factory.mktemp("batch"))


def _fft_config(rig):
    cfg = load_config(rig)
    return cfg.model_copy(update={"engine": cfg.engine.model_copy(update={"spot_algorithm": "fft"})})


def _plan(rig, name, batch, cfg=None, **over):
    compute = {"method": "wgs", "iterations": 5, "seed": 11, "batch": batch}
    spec = load_spec(write_spec(rig.parent, name, compute=compute, **over))
    return plan_library(spec, cfg if cfg is not None else _fft_config(rig))


def _frames(path):
    return np.asarray(zarr.open_array(store=str(path), path="frames", mode="r")[:])


def test_a_batched_build_equals_one_set_at_a_time_and_each_set_alone(rig, client, tmp_path, capsys):
    sets = {"random": {"count": 14, "k": 4, "seed": 3}}
    four = _plan(rig, "b4.yaml", 4, sets=sets, chunk_sets=6)  # chunks of 6: stacks of 4 and 2
    one = _plan(rig, "b1.yaml", 1, sets=sets, chunk_sets=6)
    assert four.manifest["fingerprint"] == one.manifest["fingerprint"]  # B is not part of the library
    build_library(four, tmp_path / "b4.zarr", client=client)
    build_library(one, tmp_path / "b1.zarr", client=client)
    f4, f1 = _frames(tmp_path / "b4.zarr"), _frames(tmp_path / "b1.zarr")
    assert f4.tobytes() == f1.tobytes()
    assert len({f.tobytes() for f in f4}) == 14
    m4, m1 = open_manifest(tmp_path / "b4.zarr"), open_manifest(tmp_path / "b1.zarr")
    assert m4["batch"] == {"size": 4, "reason": "spec", "measured": []} and m1["batch"]["size"] == 1
    assert [r["batch"] for r in m4["results"]] == [4] * 14
    assert [r["sha256"] for r in m4["results"]] == [r["sha256"] for r in m1["results"]]
    assert [r["efficiency"] for r in m4["results"]] == [r["efficiency"] for r in m1["results"]]
    assert main(["library", "info", str(tmp_path / "b4.zarr")]) == 0
    assert "batch        4 sets per FFT stack (spec)" in capsys.readouterr().out
    # and each frame is the set computed alone, as `holostim compute` would, then made a frame
    engine, gray = engine_for(four.engine), gray_for(four.slm)
    for i in (0, 5, 13):
        res = compute_set(engine, "wgs", 5, four.spots_slm[i], four.sets[i].weights, four.seeds[i])
        assert gray.phase_to_gray(res.phase).tobytes() == f4[i].tobytes()


def test_a_library_built_with_another_batch_is_the_same_library(rig, client, tmp_path):
    """A rebuild with a new B finds every chunk done: B changes no mask, so it is no reason to recompute."""
    out = tmp_path / "lib.zarr"
    sets = {"random": {"count": 8, "k": 3, "seed": 4}}
    assert build_library(_plan(rig, "r1.yaml", 1, sets=sets), out, client=client).computed_chunks == 1
    again = build_library(_plan(rig, "r2.yaml", 4, sets=sets), out, client=client)
    assert (again.computed_chunks, again.skipped_chunks) == (0, 1)
    assert (out / RECORDS / "000000.json").is_file()


def test_auto_is_one_on_the_cpu_and_recorded_with_its_reason(rig):
    plan = _plan(rig, "auto.yaml", "auto")
    engine = engine_for(plan.engine)
    choice = resolve_batch("auto", engine, "wgs", 5, plan.spots_slm[:4], [s.weights for s in plan.sets[:4]],
                           plan.seeds[:4])
    assert (choice.size, choice.reason) == (1, CPU_RULE)
    assert resolve_batch(3, engine, "wgs", 5, [], [], []).size == 3
    capped = resolve_batch(16, engine, "wgs", 5, [], [], [], chunk_sets=8)
    assert capped.size == 8 and "at most one chunk (chunk_sets 8)" in capped.reason
    assert plan.manifest["compute"]["batch"] == "auto"


@pytest.mark.parametrize(("value", "message"), [("0", "greater than or equal to 1"),
                                                ("65", "less than or equal to 64"),
                                                ("true", "true/false is not a number"),
                                                ("fast", "auto")])
def test_a_bad_batch_is_one_line_naming_the_file_line_and_key(rig, value, message):
    path = rig.parent / "bad-batch.yaml"
    path.write_text("version: 1\nname: x\ntargets_file: cells.csv\nsets:\n  random: {count: 5, k: 2}\n"
                    f"compute:\n  method: wgs\n  batch: {value}\n")
    with pytest.raises(LibrarySpecFileError) as err:
        load_spec(path)
    text = str(err.value)
    assert f"{path}:8: compute.batch" in text and message in text, text


@pytest.mark.gpu
def test_auto_on_the_gpu_measures_and_keeps_only_identical_sizes(rig):
    cfg = _fft_config(rig)
    cfg = cfg.model_copy(update={"engine": cfg.engine.model_copy(update={"backend": "cupy"})})
    plan = _plan(rig, "gpu.yaml", "auto", cfg=cfg)
    engine = engine_for(plan.engine)
    choice = resolve_batch("auto", engine, "wgs", 5, plan.spots_slm, [s.weights for s in plan.sets],
                           plan.seeds)
    assert choice.reason.startswith("measured") and choice.table
    assert all(ident for size, _, ident in choice.table if size <= choice.size)
