"""Files a session names (calibration, flatness) are checked when it is validated; a calibration is never
written over a file that is not one (issue #12). The refusals themselves are in test_fuzz_config.py;
these are the other halves: what is still accepted, and the save side."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from holostim.calibration import Calibration, CalibrationError, check_save_path
from holostim.config import ConfigError, SessionConfig, load_config
from holostim.hardware.slm.corrections import load_flatness
from holostim.hardware.slm.errors import SLMError, SLMFileError
from tests.test_fuzz_config import CAL_SESSION, _calibration, _gray_png, _png


def _cal(matrix=((0.5, 0.01, 120.0), (-0.01, 0.5, 130.0))) -> Calibration:
    return Calibration(np.array(matrix), (512, 512), (512, 512), slm_id="slm", camera_id="cam",
                       residual_px=0.2, n_spots=24)


def test_save_refuses_to_overwrite_a_file_that_is_not_a_calibration(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("my thesis, chapter 3\n")
    with pytest.raises(CalibrationError, match="refusing to overwrite .*not a holostim calibration"):
        _cal().save(victim)
    assert victim.read_text() == "my thesis, chapter 3\n"
    with pytest.raises(CalibrationError, match="directory"):
        _cal().save(tmp_path)
    with pytest.raises(CalibrationError, match="under /proc"):  # the save rules, also asked before measuring
        _cal().save("/proc/holostim-calibration.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [")
    with pytest.raises(CalibrationError, match="not valid YAML"):  # says why the file is not a calibration
        check_save_path(broken)
    # An old (even outdated or damaged) calibration is replaced: that is what recalibrating is for.
    old = tmp_path / "cal.yaml"
    old.write_text(yaml.safe_dump({"format": "holostim-calibration", "version": 0}))
    _cal().save(old)
    assert Calibration.load(old).n_spots == 24


def test_a_mirrored_matrix_is_physical_unless_the_file_says_otherwise(tmp_path):
    mirrored = _cal(((-0.5, 0.01, 380.0), (0.01, 0.5, 130.0)))
    path = mirrored.save(tmp_path / "cal.yaml")
    assert yaml.safe_load(path.read_text())["mirrored"] is True
    assert Calibration.load(path).mirrored  # an odd number of mirrors in the path is a real rig
    data = yaml.safe_load(path.read_text())
    data["mirrored"] = False  # ... but a file contradicting itself was edited or damaged
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match="mirrored.*edited or damaged"):
        Calibration.load(path)


def test_a_calibration_that_fits_the_session_is_valid(tmp_path):
    (tmp_path / "cal.yaml").write_bytes(_calibration())
    (tmp_path / "s.yaml").write_text(CAL_SESSION)
    cfg = load_config(tmp_path / "s.yaml")
    assert cfg.calibration.file == tmp_path / "cal.yaml"
    # Another camera's calibration is fine where the simulated rig recalibrates on open (as at open).
    (tmp_path / "cal.yaml").write_bytes(_calibration(**{"camera.id": "simulated-0000000000"}))
    (tmp_path / "auto.yaml").write_text("calibration:\n  file: cal.yaml\n")
    load_config(tmp_path / "auto.yaml")
    with pytest.raises(ConfigError, match="calibration.file: calibration .* belongs to camera"):
        load_config(tmp_path / "s.yaml")
    # ... but a file that is not a calibration is refused either way: open could not read it.
    (tmp_path / "cal.yaml").write_text("hello\n")
    with pytest.raises(ConfigError, match="not a holostim calibration"):
        load_config(tmp_path / "auto.yaml")


def test_binary_calibration_is_one_clear_error(tmp_path):
    path = tmp_path / "cal.yaml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(CalibrationError, match="not UTF-8"):
        Calibration.load(path)


def test_flatness_header_is_checked_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png(30000, 30000))
    with pytest.raises(SLMFileError, match="far more pixels"):
        load_flatness(bomb)
    big = tmp_path / "big.png"
    big.write_bytes(_png(9000, 9000))  # under PIL's bomb limit; the header alone says it is not 512²
    with pytest.raises(SLMError, match="is 9000x9000 .* but the SLM is 512x512"):
        load_flatness(big, (512, 512))
    good = tmp_path / "good.png"
    good.write_bytes(_gray_png(64, 32))
    assert load_flatness(good, (64, 32)).shape == (64, 32)
    (tmp_path / "s.yaml").write_text("slm:\n  shape: [64, 32]\n  flatness: good.png\n")
    assert load_config(tmp_path / "s.yaml").slm.flatness == good


def test_strict_numbers_keep_real_bools_and_numbers():
    cfg = SessionConfig.model_validate({"slm": {"fullscreen": False, "shape": [64, 64]},
                                        "simulation": {"noise": True, "ground_truth": {"mirror": True}},
                                        "safety": {"interlock_frames": 60, "interlock_ms": 5000}})
    assert cfg.slm.fullscreen is False and cfg.simulation.noise is True
    with pytest.raises(ValueError, match="true/false is not a number"):
        SessionConfig.model_validate({"camera": {"backend": "simulated", "exposure_ms": True}})


def test_save_refuses_what_load_would_refuse(tmp_path):
    unmeasured = Calibration(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (64, 64), (64, 64))  # residual NaN
    with pytest.raises(CalibrationError, match="residual_px=nan"):
        unmeasured.save(tmp_path / "cal.yaml")
    assert not (tmp_path / "cal.yaml").exists()
