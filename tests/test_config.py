"""Session files: round trips, every class of bad file gives file + line + key + what to do."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from holostim.config import ConfigError, SessionConfig, load_config, parse_config
from holostim.errors import HolostimError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "config").glob("*.yaml")
                  if not p.name.startswith(("protocol-", "library-", "design-")))  # sessions only


def test_examples_are_found():
    assert {p.name for p in EXAMPLES} >= {"simulation.yaml", "rig-example.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_round_trip(path, tmp_path):
    cfg = load_config(path)
    # Same folder: identical file content after a second save, identical values.
    again_path = cfg.save(tmp_path / "same" / path.name)
    again = load_config(again_path)
    assert again == cfg
    assert again.to_yaml(relative_to=again_path.parent) == cfg.to_yaml(relative_to=again_path.parent)
    # Every value written is plain YAML (safe_load reads it back without tags).
    data = yaml.safe_load(again_path.read_text())
    assert data["version"] == 1
    # What the file says is what was loaded (spot checks against the raw YAML).
    raw = yaml.safe_load(path.read_text())
    assert list(cfg.slm.shape) == raw["slm"]["shape"]
    assert cfg.engine.method == raw["engine"]["method"]
    assert cfg.camera.backend == raw["camera"]["backend"]


def test_paths_resolve_relative_to_the_session_file_and_save_relative(tmp_path):
    rig = tmp_path / "rig"
    (rig / "luts").mkdir(parents=True)
    lut = rig / "luts" / "slm.lut"
    lut.write_text("\n".join(f"{i} {min(255, round(i * 0.9))}" for i in range(256)))
    (rig / "session.yaml").write_text(
        "slm: {lut: luts/slm.lut}\ncalibration: {file: cal/cal.yaml}\nlog: {directory: ../logs}\n"
    )
    cfg = load_config(rig / "session.yaml")
    assert cfg.slm.lut == lut
    assert cfg.calibration.file == rig / "cal" / "cal.yaml"
    assert cfg.log.directory == tmp_path / "logs"
    # Saved in the same folder: paths below it stay relative, so the folder can move as a whole.
    cfg.save(rig / "copy.yaml")
    saved = yaml.safe_load((rig / "copy.yaml").read_text())
    assert saved["slm"]["lut"] == "luts/slm.lut"
    assert saved["calibration"]["file"] == "cal/cal.yaml"
    assert saved["log"]["directory"] == str(tmp_path / "logs")
    moved = tmp_path / "moved"
    (rig).rename(moved)
    assert load_config(moved / "copy.yaml").slm.lut == moved / "luts" / "slm.lut"


def test_empty_file_gives_the_defaults(tmp_path):
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    cfg = load_config(tmp_path / "empty.yaml")
    assert cfg == SessionConfig.model_validate({}, context={"base_dir": tmp_path})
    assert cfg.simulated and cfg.slm.backend == "simulated"


def problems_of(text: str, tmp_path: Path, name: str = "bad.yaml") -> ConfigError:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert isinstance(err, HolostimError) and isinstance(err, ValueError)
    assert "\n" not in str(err)  # one line for the CLI
    return err


def only(err: ConfigError) -> tuple[str, int | None, str, str]:
    assert len(err.problems) == 1, err.problems
    return err.problems[0]


def test_unknown_key_names_line_and_suggests(tmp_path):
    err = problems_of(
        """\
        slm:
          shape: [512, 512]
          pixel_pitch_um: 9.2
        """,
        tmp_path,
    )
    file, line, key, msg = only(err)
    assert file.endswith("bad.yaml") and line == 3 and key == "slm.pixel_pitch_um"
    assert "unknown key" in msg and "did you mean 'pitch_um'" in msg
    assert str(err).startswith(f"{tmp_path / 'bad.yaml'}:3: slm.pixel_pitch_um: unknown key")


def test_unknown_section_and_camera_option(tmp_path):
    err = problems_of("engin:\n  method: wgs\ncamera:\n  backend: opencv\n  idx: 1\n", tmp_path)
    assert [(p[1], p[2]) for p in err.problems] == [(1, "engin"), (5, "camera.idx")]
    assert "did you mean 'engine'" in err.problems[0][3]
    assert "did you mean 'index'" in err.problems[1][3]


def test_wrong_type(tmp_path):
    _, line, key, msg = only(problems_of("engine:\n  method: wgs\n  iterations: twenty\n", tmp_path))
    assert (line, key) == (3, "engine.iterations")
    assert "integer" in msg and "'twenty'" in msg


def test_bad_choice_suggests(tmp_path):
    _, line, key, msg = only(problems_of("engine:\n  method: wsg\n", tmp_path))
    assert (line, key) == (2, "engine.method")
    assert "gs, wgs, wgs-kim, raar" in msg and "did you mean 'wgs'" in msg
    _, line, key, msg = only(problems_of("\ncamera:\n  backend: opencvv\n", tmp_path))
    assert (line, key) == (3, "camera.backend") and "did you mean 'opencv'" in msg


def test_negative_pitch(tmp_path):
    _, line, key, msg = only(problems_of("slm:\n  shape: [64, 64]\n  pitch_um: -9.2\n", tmp_path))
    assert (line, key) == (3, "slm.pitch_um")
    assert "greater than 0" in msg and "-9.2" in msg


def test_missing_file(tmp_path):
    _, line, key, msg = only(problems_of("slm:\n  flatness: corr/flat.bmp\n", tmp_path))
    assert (line, key) == (2, "slm.flatness")
    assert str(tmp_path / "corr" / "flat.bmp") in msg and "does not exist" in msg
    _, line, key, msg = only(problems_of("camera:\n  backend: replay\n  path: movie.tif\n", tmp_path))
    assert (line, key) == (3, "camera.path") and "does not exist" in msg
    _, line, key, msg = only(problems_of("camera:\n  backend: replay\n", tmp_path))
    assert (line, key) == (1, "camera.path") and "required key is missing" in msg


def test_lut_of_the_wrong_length(tmp_path):
    (tmp_path / "short.lut").write_text("\n".join(f"{i} {i}" for i in range(255)))
    _, line, key, msg = only(problems_of("# rig\nslm:\n  lut: short.lut\n", tmp_path))
    assert (line, key) == (3, "slm.lut")
    assert "255 entries" in msg and "256" in msg
    (tmp_path / "good.lut").write_text("\n".join(str(i) for i in range(256)))
    _, line, key, msg = only(problems_of("slm:\n  lut: {1.04: good.lut, 0.92: short.lut}\n", tmp_path))
    assert line == 2 and key.startswith("slm.lut") and "255 entries" in msg


def test_several_problems_are_all_reported_in_line_order(tmp_path):
    err = problems_of("safety:\n  max_spots: 0\nslm:\n  fill_factor: 1.5\n  shape: [1]\n", tmp_path)
    assert [p[1] for p in err.problems] == sorted(p[1] for p in err.problems)
    by_key = {p[2]: p for p in err.problems}
    assert {"safety.max_spots", "slm.fill_factor", "slm.shape.1"} <= set(by_key)
    assert by_key["slm.shape.1"][1] == 5 and "too few values" in by_key["slm.shape.1"][3]
    assert str(err).count(str(tmp_path / "bad.yaml")) == len(err.problems)


def test_syntax_error_and_non_mapping_and_version(tmp_path):
    _, line, key, msg = only(problems_of("slm:\n  shape: [512, 512\nengine: {}\n", tmp_path))
    assert line == 3 and "YAML syntax error" in msg
    _, line, _, msg = only(problems_of("- slm\n- engine\n", tmp_path))
    assert line == 1 and "mapping" in msg
    _, line, key, msg = only(problems_of("version: 2\n", tmp_path))
    assert (line, key) == (1, "version") and "version 2 is not supported" in msg


def test_missing_session_file(tmp_path):
    with pytest.raises(ConfigError, match="session file does not exist") as info:
        load_config(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)


def test_models_are_frozen():
    cfg = parse_config("")
    with pytest.raises(Exception, match="frozen"):
        cfg.engine.iterations = 3  # type: ignore[misc]
    changed = cfg.model_copy(update={"engine": cfg.engine.model_copy(update={"iterations": 3})})
    assert changed.engine.iterations == 3 and cfg.engine.iterations == 20


def test_sections_map_onto_the_device_and_engine_constructors():
    from holostim.hardware.slm import SimulatedSLM
    from holostim.holography import HologramEngine

    cfg = load_config(ROOT / "config" / "rig-example.yaml")
    kwargs = cfg.slm.slm_kwargs(cfg.safety)
    small = {**kwargs, "shape": (64, 96)}
    slm = SimulatedSLM(**small)
    try:
        # every setting of the section arrives in the SLM (slm_kwargs is the one reader of it)
        assert (slm.pitch_um, slm.wavelength_um) == (cfg.slm.pitch_um, cfg.slm.wavelength_um)
        assert slm.blaze == tuple(cfg.slm.blaze) and slm.zernike == {
            j: c for j, c in cfg.slm.zernike.items() if c
        }
        assert slm.fresnel_focal_um == cfg.slm.fresnel_focal_um
        assert slm.two_pi_gray == pytest.approx(218)
        assert slm.stale_frames == cfg.safety.interlock_frames
        frame = slm.show_phase(np.full((64, 96), np.pi, np.float32)).frame
        assert frame.dtype == np.uint8 and frame.shape == (64, 96)
    finally:
        slm.close()
    engine_kw = {**cfg.engine_kwargs(), "shape": (64, 96), "backend": "numpy"}
    assert engine_kw["source"] == ("gaussian", cfg.optics.beam_waist_um / cfg.slm.pitch_um)
    assert HologramEngine(**engine_kw).shape == (64, 96)
    assert cfg.camera.options() == {"index": 0, "exposure_ms": 20.0, "fps": 30.0}


def test_simulated_camera_kwargs_identify_the_rig():
    from holostim.hardware.camera import SimulatedCamera

    cfg = load_config(ROOT / "config" / "simulation.yaml")
    kw = cfg.simulated_camera_kwargs()
    cam = SimulatedCamera(None, **kw)
    try:
        assert cam.shape == tuple(cfg.simulation.shape)
        assert cam.n_neurons == cfg.simulation.n_neurons
    finally:
        cam.close()
    other = cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"seed": 99})})
    assert other.simulated_camera_kwargs()["name"] != kw["name"]
    assert cfg.simulated_camera_kwargs()["name"] == kw["name"]


def test_rig_example_documents_every_key():
    """Every key of the schema appears in rig-example.yaml, each with a comment on its line."""
    path = ROOT / "config" / "rig-example.yaml"
    text = path.read_text()
    cfg = load_config(path)

    def keys(d, prefix=""):
        for k, v in d.items():
            yield prefix + str(k)
            if isinstance(v, dict) and k not in ("zernike",):
                yield from keys(v, prefix + str(k) + ".")

    assert set(keys(cfg.to_dict())) <= set(keys(yaml.safe_load(text)))
    lines = {line.split(":")[0].strip(): line for line in text.splitlines() if ":" in line}
    for key in keys(cfg.to_dict()):
        leaf = key.split(".")[-1]
        assert "#" in lines[leaf], f"{key} has no comment in rig-example.yaml"
    # The other camera backends' keys are documented in comments.
    for backend_key in ("path:", "loop:", "config:", "device:", "mm_path:"):
        assert backend_key in text


def test_engine_cuda_graph_key(tmp_path):
    cfg = parse_config("engine:\n  cuda_graph: true\n", base_dir=tmp_path)
    assert cfg.engine.cuda_graph is True and cfg.engine_kwargs()["cuda_graph"] is True
    assert parse_config("", base_dir=tmp_path).engine_kwargs()["cuda_graph"] is False  # off by default
    _, line, key, msg = only(problems_of("engine:\n  method: wgs\n  cuda_graph: maybe\n", tmp_path))
    assert (line, key) == (3, "engine.cuda_graph") and "'maybe'" in msg
