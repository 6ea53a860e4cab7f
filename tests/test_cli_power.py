"""``holostim calibrate --power``: measures and saves the efficiency map; bad input is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from holostim import cli
from holostim.calibration import Calibration

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def session(tmp_path: Path, **calibration) -> Path:
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [128, 128]
    data["simulation"].update(shape=[128, 128], n_neurons=0, sample="slide",
                              ground_truth={"fill_factor": 0.85})
    data["calibration"].update(file="cal.yaml", **calibration)
    data["log"]["directory"] = "logs"
    path = tmp_path / "session.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_calibrate_power_measures_and_saves_the_map(tmp_path, capsys):
    path = session(tmp_path)
    code, out, err = run(["calibrate", "--config", str(path), "--power", "--grid", "5"], capsys)
    assert code == 0, err
    assert "fit residual" in out and "fill factor" in out and str(tmp_path / "cal.yaml") in out
    cal = Calibration.load(tmp_path / "cal.yaml")
    assert cal.power_map is not None and cal.power_map.n_spots >= 12
    assert cal.residual_px < 0.5  # the geometric part is kept
    assert "measuring power (5x5 spots)" in err
    # a new geometric calibration says that it does not keep the map
    code, _, err = run(["calibrate", "--config", str(path), "--grid", "3"], capsys)
    assert code == 0 and "power map was not kept" in err
    assert Calibration.load(tmp_path / "cal.yaml").power_map is None


def one_line_error(err: str, *words: str) -> None:
    """The error is the last line of stderr, alone (the rest is progress), and no traceback."""
    assert err.count("holostim: error: ") == 1 and "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("holostim: error: "), err
    for w in words:
        assert w in err, err


def test_without_a_calibration_it_says_to_calibrate_first(tmp_path, capsys):
    path = session(tmp_path, auto_in_simulation=False)
    code, _, err = run(["calibrate", "--config", str(path), "--power"], capsys)
    assert code != 0
    one_line_error(err, "no camera↔SLM calibration", "holostim calibrate --config", "first")
    assert not (tmp_path / "cal.yaml").exists()


def test_a_bad_grid_is_one_line(tmp_path, capsys):
    code, _, err = run(["calibrate", "--config", str(session(tmp_path)), "--power", "--grid", "9"], capsys)
    assert code != 0
    one_line_error(err, "--grid 9", "3 to 7")
    assert err.count("\n") == 1  # refused before the session opened


def test_a_damaged_power_map_names_the_file_and_key(tmp_path, capsys):
    path = session(tmp_path)
    cal = Calibration.load(_measured(tmp_path, path, capsys))
    assert cal.power_map.degree < 4  # 4×4 spots: a smoother map than the default
    data = cal.to_dict()
    data["power_map"]["coefficients"] = data["power_map"]["coefficients"][:3]
    (tmp_path / "cal.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(Exception, match=r"cal.yaml.*power_map.*finite coefficients"):
        Calibration.load(tmp_path / "cal.yaml")
    code, _, err = run(["calibrate", "--config", str(path), "--power"], capsys)
    assert code != 0
    one_line_error(err, "cal.yaml", "power_map", "coefficients")


def _measured(tmp_path: Path, path: Path, capsys) -> Path:
    code, _, err = run(["calibrate", "--config", str(path), "--power", "--grid", "4"], capsys)
    assert code == 0, err
    return tmp_path / "cal.yaml"
