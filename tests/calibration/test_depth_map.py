"""The axial map and the calibration file's version 3: the line, its inverse, old files, bad files."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from holostim.calibration import Calibration, CalibrationError
from holostim.calibration.depth_map import DepthMap, fit_depth_map
from holostim.calibration.depth_procedure import _peak, sharpness
from holostim.calibration.power_map import fit_power_map


def _cal(**kw) -> Calibration:
    return Calibration(matrix=np.array([[1.1, 0.02, -3.0], [-0.01, 0.98, 4.0]]), slm_shape=(64, 64),
                       camera_shape=(80, 80), residual_px=0.12, n_spots=25, **kw)


def test_the_line_and_its_inverse():
    dm = DepthMap(scale=1.04, offset_um=2.0)
    z = np.array([-30.0, 0.0, 12.5])
    np.testing.assert_allclose(dm.true_um(z), 1.04 * z + 2.0)
    np.testing.assert_allclose(dm.nominal_um(dm.true_um(z)), z)


def test_fit_recovers_a_noisy_line():
    rng = np.random.default_rng(4)
    nominal = np.linspace(-30, 30, 7)
    true = 0.96 * nominal - 3.0 + rng.normal(0, 0.1, 7)
    dm = fit_depth_map(true, nominal, "paraxial")
    assert dm.scale == pytest.approx(0.96, abs=0.01) and dm.offset_um == pytest.approx(-3.0, abs=0.1)
    assert 0.03 < dm.residual_um < 0.2 and dm.n_points == 7 and dm.defocus_model == "paraxial"
    assert dm.range_um == (pytest.approx(true.min()), pytest.approx(true.max()))
    with pytest.raises(CalibrationError, match="at least 3"):
        fit_depth_map([0, 1], [0, 1])
    with pytest.raises(CalibrationError, match="span a depth range"):
        fit_depth_map([0, 1, 2], [5, 5, 5])


def test_the_peak_of_a_focus_curve_is_found_between_samples():
    z = np.linspace(-6, 6, 13)
    s = np.exp(-((z - 0.37) ** 2) / 8.0)
    assert _peak(z, s) == pytest.approx(0.37, abs=1e-6)  # a Gaussian: the log parabola is exact


def test_sharpness_is_one_for_a_point_and_falls_as_it_spreads():
    img = np.zeros((40, 40))
    img[20, 20] = 5.0
    assert sharpness(img, np.array([[20.0, 20.0]]), 5) == pytest.approx(1.0)
    yy, xx = np.mgrid[:40, :40]
    wide = np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2) / (2 * 3.0**2))
    assert sharpness(wide, np.array([[20.0, 20.0]]), 8) == pytest.approx(1 / (4 * np.pi * 9), rel=0.1)


def test_a_v3_file_with_a_depth_map_round_trips(tmp_path):
    xn = np.linspace(-0.4, 0.4, 16)
    pm = fit_power_map(xn, -xn, np.ones(16), 0.95, degree=1)
    cal = _cal(power_map=pm, depth_map=DepthMap(1.039, 2.03, 0.007, 5, (-30.3, 30.3), "high_na"))
    path = cal.save(tmp_path / "cal.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["version"] == 3 and data["depth_map"]["scale"] == 1.039
    again = Calibration.load(path)
    assert again.depth_map == cal.depth_map and again.power_map == pm
    np.testing.assert_allclose(again.matrix, cal.matrix)
    assert _cal().to_dict().get("depth_map") is None  # none measured: no key


@pytest.mark.parametrize("version", [1, 2])
def test_old_files_still_load(tmp_path, version):
    data = _cal().to_dict()
    data["version"] = version
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(data))
    cal = Calibration.load(tmp_path / "old.yaml")
    assert cal.depth_map is None and cal.power_map is None and cal.n_spots == 25


@pytest.mark.parametrize(
    ("depth_map", "match"),
    [
        ("deep", "depth_map must be a mapping"),
        ({"offset_um": 2.0}, "missing key 'scale'"),
        ({"scale": "steep", "offset_um": 2.0}, "depth_map.scale='steep'"),
        ({"scale": 40.0, "offset_um": 2.0}, "depth_map.scale=40.0 must be in"),
        ({"scale": 1.0, "offset_um": float("nan")}, "depth_map.offset_um=nan"),
        ({"scale": 1.0, "offset_um": 0.0, "range_um": [5, -5]}, "range_um"),
        ({"scale": 1.0, "offset_um": 0.0, "defocus_model": "fresnel"}, "defocus_model='fresnel'"),
    ],
)
def test_a_corrupt_depth_map_is_one_line(tmp_path, depth_map, match):
    data = _cal().to_dict()
    data["depth_map"] = depth_map
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match=match) as info:
        Calibration.load(path)
    msg = str(info.value)
    assert len(msg.splitlines()) == 1 and str(path) in msg
