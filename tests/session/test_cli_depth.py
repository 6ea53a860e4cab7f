"""``holostim calibrate --depth``: measures and saves the axial map; bad input is one clear line."""

from __future__ import annotations

import pytest
from test_cli_power import one_line_error, run, session

from holostim.calibration import Calibration


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


@pytest.mark.slow  # opens, calibrates, measures depth, recalibrates (~12 s idle)
def test_calibrate_depth_measures_and_saves_the_map(tmp_path, capsys):
    import yaml

    path = session(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["optics"]["magnification"] = 200.0  # the 128² SLM fills NA 0.59: a 7.6 µm axial resolution
    path.write_text(yaml.safe_dump(data))
    code, out, err = run(["calibrate", "--config", str(path), "--depth", "--depths=-20,0,20"], capsys)
    assert code == 0, err
    assert "depth map: true depth = 1.0" in out and "over 3 focus positions" in out
    assert "measuring depth (3x3 spots, focus sweep)" in err
    cal = Calibration.load(tmp_path / "cal.yaml")
    assert cal.depth_map.scale == pytest.approx(1.04, rel=0.02)  # the rig's hidden default
    assert cal.depth_map.offset_um == pytest.approx(2.0, abs=0.76)  # a tenth of the axial resolution
    assert cal.residual_px < 0.5  # the geometric part is kept
    code, _, err = run(["calibrate", "--config", str(path), "--grid", "3"], capsys)
    assert code == 0 and "depth map was not kept" in err
    assert Calibration.load(tmp_path / "cal.yaml").depth_map is None


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--depth", "--depths", "0,x"], ["--depths '0,x'", "separated by commas"]),
        (["--depth", "--depths", "0,10,10"], ["at least three distinct"]),
        (["--depths=-5,0,5"], ["--depths goes with --depth"]),
        (["--depth", "--power"], ["two measurements"]),
    ],
)
def test_bad_depth_options_are_one_line(tmp_path, capsys, extra, words):
    code, _, err = run(["calibrate", "--config", str(session(tmp_path)), *extra], capsys)
    assert code == 2
    one_line_error(err, *words)
