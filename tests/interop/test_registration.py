"""Imaging ↔ camera registration: the fit, its residual, the YAML file and its errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from holostim.interop import InteropError, Registration, fit_registration

TRUE = np.array([[1.9, -0.3, 120.0], [0.25, 2.1, -40.0]])  # scale, rotation, shear, offset


def _landmarks(n=6, noise=0.0, seed=1):
    rng = np.random.default_rng(seed)
    imaging = rng.uniform(0, 512, size=(n, 2))
    camera = imaging @ TRUE[:, :2].T + TRUE[:, 2] + rng.normal(0, noise, size=(n, 2)) if noise else \
        imaging @ TRUE[:, :2].T + TRUE[:, 2]
    return imaging, camera


def test_exact_landmarks_recover_the_affine_with_zero_residual():
    imaging, camera = _landmarks()
    reg = fit_registration(imaging, camera)
    assert np.allclose(reg.matrix, TRUE, atol=1e-9)
    assert reg.residual_px < 1e-9
    assert np.allclose(reg.apply(imaging), camera)
    assert np.allclose(reg.inverse() @ np.r_[camera[0], 1.0], imaging[0])


def test_the_residual_is_the_rms_camera_distance_of_the_least_squares_fit():
    imaging, camera = _landmarks(n=12, noise=0.8)
    reg = fit_registration(imaging, camera)
    design = np.hstack([imaging, np.ones((12, 1))])
    coef, *_ = np.linalg.lstsq(design, camera, rcond=None)
    expected = math.sqrt(np.mean(np.sum((design @ coef - camera) ** 2, axis=1)))
    assert reg.residual_px == pytest.approx(expected, rel=1e-9)
    assert 0.3 < reg.residual_px < 2.0  # of the order of the noise put in


def test_too_few_or_collinear_landmarks_are_refused():
    with pytest.raises(InteropError, match="at least 3"):
        fit_registration([[0, 0], [1, 1]], [[0, 0], [1, 1]])
    with pytest.raises(InteropError, match="on a line"):
        fit_registration([[0, 0], [1, 1], [2, 2]], [[0, 0], [1, 1], [2, 2]])


def test_save_and_load_round_trip(tmp_path):
    imaging, camera = _landmarks(n=5, noise=0.5)
    reg = fit_registration(imaging, camera)
    path = reg.save(tmp_path / "imaging_to_camera.yaml")
    back = Registration.load(path)
    assert np.allclose(back.matrix, reg.matrix)
    assert back.residual_px == pytest.approx(reg.residual_px)
    assert np.allclose(back.imaging_xy, imaging)


def test_a_landmarks_only_file_is_fitted_when_loaded(tmp_path):
    imaging, camera = _landmarks(n=4)
    path = tmp_path / "lm.yaml"
    path.write_text(f"landmarks:\n  imaging: {imaging.tolist()}\n  camera: {camera.tolist()}\n")
    reg = Registration.load(path)
    assert np.allclose(reg.matrix, TRUE, atol=1e-7)


def test_a_matrix_without_landmarks_has_no_residual(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("imaging_to_camera: [[2, 0, 1], [0, 2, 3]]\n")
    reg = Registration.load(path)
    assert math.isnan(reg.residual_px)
    assert reg.apply([[1, 1]]).tolist() == [[3.0, 5.0]]


@pytest.mark.parametrize("text, expected", [
    ("format: holostim-registration\nimaging_to_camra: [[1, 0, 0], [0, 1, 0]]\n",
     ":2: imaging_to_camra: unknown key"),
    ("imaging_to_camera: [[1, 0], [0, 1]]\n", ":1: imaging_to_camera: must be a 2×3 matrix"),
    ("imaging_to_camera: [[1, 2, 0], [2, 4, 0]]\n", "is singular"),
    ("\n\nlandmarks:\n  imaging: [[0, 0], [1, 0]]\n  camera: [[0, 0], [1, 0]]\n", ":3: landmarks:"),
    ("landmarks: [1, 2]\n", "landmarks: must be"),
    ("imaging_to_camera: [[1, 0, 0], [0, 1, 0]]\nresidual_px: 3.0\n"
     "landmarks: {imaging: [[0, 0], [1, 0], [0, 1]], camera: [[0, 0], [1, 0], [0, 1]]}\n",
     "edited or damaged"),
    ("format: something-else\n", "is not 'holostim-registration'"),
    ("version: 7\n", "version 7"),
    ("a: &x [1]\nb: *x\n", "aliases are not allowed"),
    ("[1, 2]\n", "must be a mapping"),
    ("{}\n", "neither imaging_to_camera nor landmarks"),
])
def test_bad_registration_files_are_one_line_naming_file_and_line(tmp_path, text, expected):
    path = tmp_path / "reg.yaml"
    path.write_text(text)
    with pytest.raises(InteropError) as exc:
        Registration.load(path)
    msg = str(exc.value)
    assert "\n" not in msg and expected in msg and str(path) in msg


def test_save_never_replaces_a_file_that_is_not_a_registration(tmp_path):
    notes = tmp_path / "notes.yaml"
    notes.write_text("my notes: keep\n")
    reg = fit_registration(*_landmarks())
    with pytest.raises(InteropError, match="refusing to overwrite"):
        reg.save(notes)
    assert notes.read_text() == "my notes: keep\n"
    reg.save(tmp_path / "r.yaml")
    reg.save(tmp_path / "r.yaml")  # its own kind is replaced
