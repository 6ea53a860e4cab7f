"""``holostim library build|info`` as a user runs them: killed half-way and resumed, bad input, listing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from lib_rig import make_rig, write_spec

from holostim.cli.main import main
from holostim.config import load_config
from holostim.library.build import build_library, plan_library
from holostim.library.spec import load_spec
from holostim.library.store import RECORDS, open_manifest, read_chunk_record

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def rig(calibrated, tmp_path_factory):  # noqa: F811
    return make_rig(calibrated, tmp_path_factory.mktemp("cli"))


def _cli(*args: str) -> list[str]:
    code = "import sys; from holostim.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


@pytest.mark.slow
def test_a_build_killed_half_way_is_finished_by_a_rerun_computing_only_the_rest(rig, client, tmp_path):
    spec = write_spec(rig.parent, "big.yaml", sets={"subsets": {"k": 3}}, chunk_sets=4,
                      compute={"method": "wgs", "iterations": 80, "seed": 2})
    out = tmp_path / "lib.zarr"
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOLOSTIM_THREADS": "1"}
    proc = subprocess.Popen(_cli("library", "build", str(spec), "--config", str(rig), "--out", str(out),
                                 "--workers", "1"), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stopped = threading.Event()
        while proc.poll() is None and not stopped.wait(0.05):  # poll the store, not the clock
            if (out / RECORDS).is_dir() and len(list((out / RECORDS).glob("*.json"))) >= 2:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the client and its cluster's processes
        proc.wait()
    plan = plan_library(load_spec(spec), load_config(rig))
    n = plan.n_chunks
    c = plan.spec.chunk_sets
    intact = sum(read_chunk_record(out, k, "frames", k * c, min(len(plan.sets), (k + 1) * c)) is not None
                 for k in range(n))
    assert n == 30 and 2 <= intact < n, "the build must be killed with some chunks done and some not"
    report = build_library(plan, out, client=client)
    assert (report.computed_chunks, report.skipped_chunks) == (n - intact, intact)
    assert build_library(plan, out, client=client).computed_chunks == 0


def test_a_bad_spec_is_one_line_with_file_line_and_key(rig, capsys):
    spec = rig.parent / "bad.yaml"
    spec.write_text("version: 1\nname: x\ntargets_file: cells.csv\nsets:\n  random: {count: 5, k: 2}\n"
                    "compute:\n  method: wgss\n")
    assert main(["library", "build", str(spec), "--config", str(rig), "--out", str(rig.parent / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{spec}:7: compute.method: " in err and "unknown method 'wgss'" in err
    assert not (rig.parent / "x").exists()


def test_a_target_the_session_refuses_is_named_before_anything_is_computed(rig, capsys):
    (rig.parent / "near.csv").write_text("x_camera_px,y_camera_px\n100000,5\n")
    spec = write_spec(rig.parent, "near.yaml", targets_file=None, sets={"files": ["cells.csv", "near.csv"]})
    assert main(["library", "build", str(spec), "--config", str(rig), "--out", str(rig.parent / "y")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "set 'near', target 1 at camera (100000, 5)" in err
    assert not (rig.parent / "y").exists()


def test_info_lists_every_set_with_its_metrics(rig, client, tmp_path, capsys):
    spec = write_spec(rig.parent, "info.yaml", sets={"random": {"count": 5, "k": 2, "seed": 1}})
    build_library(plan_library(load_spec(spec), load_config(rig)), tmp_path / "lib.zarr", client=client)
    assert main(["library", "info", str(tmp_path / "lib.zarr")]) == 0
    out = capsys.readouterr().out
    assert "test-ensembles (complete)" in out and "wgs x5, seed 11" in out
    rows = [line for line in out.splitlines() if line.startswith("r")]
    assert [r.split()[0] for r in rows] == ["r0", "r1", "r2", "r3", "r4"]
    assert all(0 < float(r.split()[2]) <= 1 for r in rows)
    assert main(["library", "info", str(tmp_path / "none.zarr")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_library_phase_is_byte_identical_to_holostim_compute_with_the_sets_seed(rig, client, tmp_path):
    import numpy as np
    import zarr

    spec = write_spec(rig.parent, "phases.yaml", sets={"random": {"count": 3, "k": 3, "seed": 8}},
                      output="phases", compute={"method": "wgs", "iterations": 7, "seed": 3})
    plan = plan_library(load_spec(spec), load_config(rig))
    build_library(plan, tmp_path / "ph.zarr", client=client)
    phases = zarr.open_array(store=str(tmp_path / "ph.zarr"), path="phases", mode="r")
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOLOSTIM_THREADS": "1"}
    for i, entry in enumerate(open_manifest(tmp_path / "ph.zarr")["sets"]):
        csv = tmp_path / f"{entry['id']}.csv"
        csv.write_text("x_fourier_px,y_fourier_px,weight\n" + "".join(
            f"{x!r},{y!r},{w!r}\n" for (x, y), w in zip(entry["slm_px"], entry["weights"], strict=True)))
        out = tmp_path / f"{entry['id']}.npy"
        done = subprocess.run(_cli("compute", "--spots", str(csv), "--shape", "128", "128", "--method", "wgs",
                                   "--iterations", "7", "--backend", "numpy", "--seed", str(entry["seed"]),
                                   "--out", str(out)), env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert np.load(out).tobytes() == np.asarray(phases[i]).tobytes(), entry["id"]
    # `library show` of a phases library: the frame the SLM would make of the phase, and its light
    from holostim.hardware.slm.base import SLM
    from holostim.library.view import describe_set, view_set

    manifest = open_manifest(tmp_path / "ph.zarr")
    entry = manifest["sets"][1]
    view = view_set(tmp_path / "ph.zarr", entry["id"])
    slm = SLM(**manifest["slm"])
    assert view.frame.tobytes() == slm.phase_to_gray(np.asarray(phases[1])).tobytes()
    lit = [view.intensity[int(round(y)), int(round(x))] for x, y in entry["slm_px"]]
    assert min(lit) > 100 * np.median(view.intensity) and view.intensity.sum() == pytest.approx(1)
    text = "\n".join(describe_set(view))
    assert f"set       {entry['id']}  (2 of 3)" in text and "stored    phases 128x128" in text
