"""How deep a target may be: the SLM's defocus range, ``safety.max_depth_um``, and z in every file.

The range is checked against its closed form (the paraxial lens steps ``a p² (N − 1)`` between the two
outermost pixels), the refusals through the session's one check and its gate, and the depth through the
target files, the session file, the protocol's target files and the log's reader.
"""

from __future__ import annotations

import dataclasses
import math
import shutil

import numpy as np
import pytest
from test_session import calibrated, in_field, write_session  # noqa: F401 (a fixture)

from holostim.config import parse_config
from holostim.errors import HolostimError
from holostim.holography.defocus import DefocusModel
from holostim.safety import TargetRefused
from holostim.session import Session, Target
from holostim.session.target_files import TargetFileError, load_targets, save_targets

OPTICS = dict(wavelength_um=1.04, focal_length_um=200_000.0, magnification=50.0, pitch_um=9.2,
              objective_na=0.8, medium_index=1.33)


@pytest.mark.parametrize("shape", [(512, 512), (256, 384), (128, 200)])
def test_paraxial_range_is_the_closed_form(shape):
    m = DefocusModel("paraxial", **OPTICS)
    assert max(shape) // 2 * OPTICS["pitch_um"] < m.pupil_radius_um  # the pupil holds the outermost step
    n = max(shape)  # the outermost step: between pixels -N//2 and -N//2 + 1 of the longer side
    o = OPTICS
    closed = o["medium_index"] * o["wavelength_um"] * o["focal_length_um"] ** 2 / (
        o["magnification"] ** 2 * o["pitch_um"] ** 2 * (2 * (n // 2) - 1))
    assert m.max_depth_um(shape) == pytest.approx(closed, rel=1e-9)


@pytest.mark.parametrize("model", ["paraxial", "high_na"])
def test_only_pixels_inside_the_back_pupil_limit_the_range(model):
    # A 1152 × 1920 panel is wider than the pupil (NA f / M = 3.2 mm): its outer pixels send no light
    # into the objective, so the steepest step that counts is at the pupil's edge, r = NA f / M.
    m = DefocusModel(model, **OPTICS)
    o, rp = OPTICS, m.pupil_radius_um
    assert 960 * o["pitch_um"] > rp
    # the continuous slope there, one pixel long: paraxial 2 a r p; high-NA (2π n / λ) r s² p / √(1 − r² s²)
    if model == "paraxial":
        slope = 2 * math.pi * o["magnification"] ** 2 * rp * o["pitch_um"] / (
            o["medium_index"] * o["wavelength_um"] * o["focal_length_um"] ** 2)
    else:
        s2 = (o["magnification"] / (o["medium_index"] * o["focal_length_um"])) ** 2
        slope = (2 * math.pi * o["medium_index"] / o["wavelength_um"]) * rp * s2 * o["pitch_um"] / math.sqrt(
            1 - rp**2 * s2)
    assert m.max_depth_um((1152, 1920)) == pytest.approx(math.pi / slope, rel=0.01)


def test_high_na_range_is_shorter_and_meets_the_paraxial_one_at_low_angles():
    hi, lo = DefocusModel("high_na", **OPTICS), DefocusModel("paraxial", **OPTICS)
    assert hi.max_depth_um((512, 512)) < lo.max_depth_um((512, 512))  # steeper at the SLM's edge
    far = {**OPTICS, "focal_length_um": 2_000_000.0}  # ten times smaller angles
    ratio = DefocusModel("high_na", **far).max_depth_um((512, 512)) / DefocusModel(
        "paraxial", **far).max_depth_um((512, 512))
    assert ratio == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("model", ["paraxial", "high_na"])
def test_past_the_range_the_lens_phase_steps_more_than_pi(model):
    m = DefocusModel(model, **OPTICS)
    zmax = m.max_depth_um((256, 256))

    def steepest(z):
        ph = m.phase(z, (256, 256))
        return max(np.abs(np.diff(ph, axis=0)).max(), np.abs(np.diff(ph, axis=1)).max())

    assert steepest(0.99 * zmax) < math.pi < steepest(1.01 * zmax)


def test_the_depth_keys_have_defaults_and_refuse_bad_values():
    cfg = parse_config("name: s\ntargets:\n  - {x: 1, y: 2}\n  - {x: 3, y: 4, z_um: -25}\n")
    assert cfg.safety.max_depth_um == 300.0
    assert [t.z_um for t in cfg.targets] == [0.0, -25.0]
    for text, key in [("safety:\n  max_depth_um: 0\n", "safety.max_depth_um"),
                      ("targets:\n  - {x: 1, y: 2, z_um: .nan}\n", "targets.0.z_um"),
                      ("targets:\n  - {x: 1, y: 2, z_um: deep}\n", "targets.0.z_um")]:
        with pytest.raises(HolostimError, match=key.replace(".", r"\.")) as err:
            parse_config(text, file="s.yaml")
        assert "s.yaml" in str(err.value)


@pytest.fixture
def rig(calibrated, tmp_path):  # noqa: F811
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    return tmp_path


def test_a_target_past_the_depth_limit_is_refused_with_its_reason(rig):
    with Session.open(write_session(rig, safety={"max_depth_um": 50})) as s:
        t = in_field(s, (40, 40))
        assert s.check_target(t.x, t.y, 50.0) is None and s.check_target(t.x, t.y, -50.0) is None
        reason = s.check_target(t.x, t.y, 60.0)
        assert "safety.max_depth_um = 50" in reason and "+60" in reason
        with pytest.raises(TargetRefused, match=r"target 2 refused: depth z = -75 µm is beyond safety"):
            s.apply([t, dataclasses.replace(in_field(s, (90, 60)), z_um=-75.0)])
        assert s.last_result is None  # nothing was shown


def test_a_target_past_the_slms_defocus_range_is_refused_with_its_reason(rig):
    with Session.open(write_session(rig, safety={"max_depth_um": 1e6})) as s:
        reach = s.depth_range_um
        assert reach == pytest.approx(s.config.defocus_model().max_depth_um(s.slm.shape))
        t = in_field(s, (40, 40))
        assert s.check_target(t.x, t.y, 0.9 * reach) is None
        assert "defocus range" in s.check_target(t.x, t.y, -1.1 * reach)
        with pytest.raises(TargetRefused, match="past this SLM's defocus range"):
            s.apply([dataclasses.replace(t, z_um=1.1 * reach)])


def test_without_a_defocus_model_only_the_focal_plane_is_allowed(rig):
    with Session.open(write_session(rig, optics={"objective_na": 1.4})) as s:
        t = in_field(s, (40, 40))
        assert s.depth_range_um is None and s.check_target(t.x, t.y) is None
        assert "optics.medium_index" in s.check_target(t.x, t.y, 5.0)


def test_the_session_file_keeps_the_depths(rig):
    with Session.open(write_session(rig)) as s:
        s.targets = [dataclasses.replace(in_field(s, (40, 40)), id=3, z_um=12.5)]
        out = s.save(rig / "saved.yaml")
    with Session.open(out) as s:
        assert [(t.id, t.z_um) for t in s.targets] == [(3, 12.5)]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_target_files_keep_the_depth_and_old_files_load_at_the_focal_plane(tmp_path, suffix):
    targets = [Target(10.0, 20.0, 1.0, 0, 1, 15.0), Target(30.0, 40.0, 2.0, 1, 2, -7.5)]
    out = save_targets(tmp_path / f"t{suffix}", targets)
    assert [Target(**r) for r in load_targets(out)] == targets
    old = tmp_path / f"old{suffix}"
    old.write_text("x_camera_px,y_camera_px,weight,group,id\n10,20,1,0,1\n" if suffix == ".csv"
                   else '{"targets": [{"x": 10, "y": 20, "weight": 1, "group": 0, "id": 1}]}')
    assert [r["z_um"] for r in load_targets(old)] == [0.0]


def test_a_bad_depth_in_a_target_file_names_the_target_and_the_file(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("x_camera_px,y_camera_px,z_um\n1,2,0\n3,4,deep\n")
    with pytest.raises(TargetFileError, match=r"t\.csv: target 2 z_um"):
        load_targets(p)


def test_the_protocols_target_files_carry_the_depth(tmp_path):
    from holostim.protocol.patterns import _read_file

    save_targets(tmp_path / "p.csv", [Target(1.0, 2.0, 1.0, 0, 4, 20.0), Target(3.0, 4.0, z_um=-5.0)])
    got = _read_file("deep", tmp_path / "p.csv")
    assert [(t.id, t.z_um) for t in got] == [(4, 20.0), (5, -5.0)]


def test_the_logs_reader_gives_the_depth_as_the_third_sample_coordinate():
    from holostim.interop.stimlog import _sample_um

    assert _sample_um({"sample_um": [1.0, 2.0], "z_um": 30.0}) == (1.0, 2.0, 30.0)
    assert _sample_um({"sample_um": [1.0, 2.0]}) == (1.0, 2.0, 0.0)  # a log from before depths
    assert _sample_um({"camera_px": [5.0, 6.0]}) is None


def test_a_mask_library_refuses_a_target_file_with_depths_instead_of_dropping_them(tmp_path):
    from holostim.library.sets import _read
    from holostim.library.spec import LibrarySpecError

    flat = save_targets(tmp_path / "flat.csv", [Target(1.0, 2.0), Target(3.0, 4.0)])
    assert [r["z_um"] for r in _read(flat)] == [0.0, 0.0]
    deep = save_targets(tmp_path / "deep.csv", [Target(1.0, 2.0), Target(3.0, 4.0, z_um=10.0)])
    with pytest.raises(LibrarySpecError, match="target 2 has z_um = 10 µm; mask libraries hold focal-plane"):
        _read(deep)
