"""The library spec: read like a session (file:line: key errors), sets listed or generated, seeds per set."""

from __future__ import annotations

import math

import pytest

from holostim.library.sets import resolve_sets
from holostim.library.spec import LibrarySpecError, LibrarySpecFileError, load_spec, parse_spec, set_seed
from holostim.protocol.errors import ProtocolFileError
from holostim.protocol.model import parse_protocol

POOL = "x_camera_px,y_camera_px,weight,group,id\n" + "".join(f"{10 + i},{20 + 2 * i},1,0,{i + 1}\n"
                                                              for i in range(6))


def _spec(tmp_path, text, pool=POOL):
    (tmp_path / "cells.csv").write_text(pool)
    path = tmp_path / "lib.yaml"
    path.write_text(text)
    return load_spec(path)


def test_subsets_are_every_k_subset_in_order(tmp_path):
    spec = _spec(tmp_path, "version: 1\nname: s\ntargets_file: cells.csv\nsets: {subsets: {k: 2}}\n")
    sets = resolve_sets(spec)
    assert len(sets) == math.comb(6, 2) == 15
    assert [s.target_ids for s in sets[:3]] == [(1, 2), (1, 3), (1, 4)] and sets[0].id == "s00"
    assert sets[0].xy_camera.tolist() == [[10, 20], [11, 22]]


def test_random_ensembles_are_distinct_and_seeded(tmp_path):
    text = "version: 1\nname: r\ntargets_file: cells.csv\nsets: {random: {count: 12, k: 3, seed: 9}}\n"
    a, b = resolve_sets(_spec(tmp_path, text)), resolve_sets(_spec(tmp_path, text))
    assert [s.target_ids for s in a] == [s.target_ids for s in b]
    assert len({s.target_ids for s in a}) == 12 and all(len(s.target_ids) == 3 for s in a)
    other = resolve_sets(_spec(tmp_path, text.replace("seed: 9", "seed: 10")))
    assert [s.target_ids for s in other] != [s.target_ids for s in a]
    with pytest.raises(LibrarySpecError, match="only 20 distinct ensembles of 3"):
        resolve_sets(_spec(tmp_path, text.replace("count: 12", "count: 21")))


def test_a_table_lists_sets_by_a_column_with_per_set_power(tmp_path):
    (tmp_path / "t.csv").write_text("x_camera_px,y_camera_px,weight,power_mw_per_spot,cell_set\n"
                                    "1,2,1,0.5,A\n3,4,2,0.5,A\n5,6,1,,B\n")
    spec = _spec(tmp_path, "version: 1\nname: t\nsets: {table: {file: t.csv, set_column: cell_set}}\n"
                 "power_mw_per_spot: 1.5\n")
    a, b = resolve_sets(spec)
    assert (a.id, a.weights.tolist(), a.power_mw_per_spot) == ("A", [1, 2], 0.5)
    assert (b.id, b.power_mw_per_spot, b.xy_camera.tolist()) == ("B", 1.5, [[5, 6]])
    (tmp_path / "t.csv").write_text("x_camera_px,y_camera_px,cell_set\n1,2,A\n3,x,A\n")
    with pytest.raises(LibrarySpecError, match=r"t.csv:3: not a number"):
        resolve_sets(spec)


def test_files_are_one_set_each_named_by_stem(tmp_path):
    (tmp_path / "a.csv").write_text(POOL)
    spec = _spec(tmp_path, "version: 1\nname: f\nsets: {files: [a.csv, cells.csv]}\n")
    assert [s.id for s in resolve_sets(spec)] == ["a", "cells"]
    (tmp_path / "lib.yaml").write_text("version: 1\nname: f\nsets: {files: [a.csv, gone.csv]}\n")
    with pytest.raises(LibrarySpecError, match="'.*gone.csv' does not exist"):
        resolve_sets(load_spec(tmp_path / "lib.yaml"))


@pytest.mark.parametrize(("text", "where"), [
    ("version: 1\nname: x\ntargets_file: cells.csv\nsets: {randm: {k: 2}}\n", ":4: sets.randm: "),
    ("version: 1\nname: x\ntargets_file: cells.csv\nsets:\n  subsets: {k: 2}\n  random: {count: 2, k: 1}\n",
     "sets: give exactly one of files, table, subsets, random (got subsets and random)"),
    ("version: 2\nname: x\nsets: {files: [a.csv]}\n", ":1: version: "),
    ("version: 1\nname: x\nsets: {subsets: {k: 2}}\n", "draws from targets_file"),
    ("version: 1\nname: x\ntargets_file: c.csv\nsets: {random: {count: 0, k: 2}}\n", "sets.random.count"),
    ("version: 1\nname: x\nsets: {files: [a.csv]}\ncompute: {iterations: true}\n", ":4: compute.iterations"),
])
def test_a_bad_spec_names_file_line_and_key(tmp_path, text, where):
    with pytest.raises(LibrarySpecFileError) as err:
        parse_spec(text, file="lib.yaml", base_dir=tmp_path)
    line = str(err.value)
    assert "\n" not in line and where in line


def test_the_seed_of_a_set_is_a_function_of_the_set():
    assert set_seed(0, "r1") == set_seed(0, "r1") != set_seed(0, "r2") != set_seed(1, "r1")
    assert 0 <= set_seed(2**63 - 1, "x" * 64) < 2**63


def test_a_protocol_pattern_names_a_library_and_a_set(tmp_path):
    head = "version: 1\nname: p\npatterns:\n"
    tail = "schedule: {steps: [{pattern: a, duration_ms: 10}]}\n"
    ok = parse_protocol(head + "  a: {library: lib.zarr, set: r1}\n" + tail, base_dir=tmp_path)
    assert ok.patterns["a"].library == tmp_path / "lib.zarr" and ok.patterns["a"].set == "r1"
    assert ok.to_dict(relative_to=tmp_path)["patterns"]["a"] == {"library": "lib.zarr", "set": "r1"}
    for bad, msg in [("{library: lib.zarr}", "both library"), ("{set: r1}", "both library"),
                     ("{library: l.zarr, set: r1, group: 2}", "leave out targets_file")]:
        with pytest.raises(ProtocolFileError, match=f":4: patterns.a: .*{msg}"):
            parse_protocol(head + f"  a: {bad}\n" + tail, base_dir=tmp_path)


def test_the_shipped_example_spec_reads_and_resolves():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "config" / "library-ensembles.yaml"
    spec = load_spec(path)
    sets = resolve_sets(spec)
    assert (spec.sets.kind, len(sets), spec.output) == ("random", 1000, "frames")
    assert sets[0].id == "r000" and len(sets[0].target_ids) == 5 and sets[0].power_mw_per_spot == 1.5
