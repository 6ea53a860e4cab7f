"""Camera ↔ SLM calibration: the affine algebra, spot finding, files, target checks, and end to end in
simulation against the simulated rig's ground truth (rotated ~30°, and mirrored), noise on."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from holostim.calibration import (
    Calibration,
    CalibrationError,
    CalibrationFileError,
    apply_affine,
    detect_spots,
    fit_affine,
    grid_points,
    invert_affine,
    match_points,
    reject_outliers,
    run_calibration,
)
from holostim.errors import HolostimError
from holostim.hardware.camera import SimulatedCamera
from holostim.hardware.slm import SimulatedSLM
from holostim.holography import HologramEngine, SpotTarget
from holostim.sim import GroundTruth, LightPath, Scene, SimulatedClock

N = 256
CAM = (320, 320)
TRUTHS = {
    "rotated30": GroundTruth(rotation_deg=30.0, scale=1.1, shear=0.03, offset_px=(6.3, -8.1)),
    "mirrored": GroundTruth(rotation_deg=-4.0, scale=1.05, shear=-0.02, mirror=True, offset_px=(-10.2, 4.6)),
}


# ----------------------------------------------------------------------------- algebra
def test_fit_affine_recovers_exact_map_and_least_squares():
    rng = np.random.default_rng(0)
    m = np.array([[0.8, -0.5, 12.0], [0.45, 0.9, -3.0]])
    src = rng.uniform(0, 100, (12, 2))
    np.testing.assert_allclose(fit_affine(src, apply_affine(m, src)), m, atol=1e-10)
    dst = apply_affine(m, src) + rng.normal(0, 0.5, (12, 2))
    design = np.hstack([src, np.ones((12, 1))])
    ref = np.linalg.lstsq(design, dst, rcond=None)[0].T  # independent solve of the normal equations
    np.testing.assert_allclose(fit_affine(src, dst), ref, atol=1e-10)
    inv = invert_affine(m)
    np.testing.assert_allclose(apply_affine(inv, apply_affine(m, src)), src, atol=1e-10)


@pytest.mark.parametrize(
    ("src", "dst", "match"),
    [
        ([[0, 0], [1, 1]], [[0, 0], [1, 1]], "at least 3"),
        ([[0, 0], [1, 1], [2, 2], [3, 3]], [[0, 0], [1, 0], [2, 1], [3, 0]], "lie on a line"),
        ([[0, 0], [1, 0], [0, 1]], [[0, 0], [1, 0]], "matching point lists"),
        ([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 0], [1, 0], [0, 1]], r"\(N, 2\)"),
        ([[0, np.nan], [1, 0], [0, 1]], [[0, 0], [1, 0], [0, 1]], "NaN"),
    ],
)
def test_fit_affine_bad_input(src, dst, match):
    with pytest.raises(CalibrationError, match=match):
        fit_affine(src, dst)


def test_singular_matrix_is_refused():
    with pytest.raises(CalibrationError, match="singular"):
        Calibration(np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]]), (64, 64), (64, 64))


def test_detect_spots_subpixel_centroids():
    rng = np.random.default_rng(4)
    truth = np.array([[20.3, 30.7], [60.55, 18.2], [41.9, 70.45], [75.1, 64.8]])
    yy, xx = np.mgrid[:96, :96]
    img = sum(800 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.3**2)) for x, y in truth)
    img = rng.poisson(img + 20).astype(float) - 20
    xy, flux = detect_spots(img)
    assert len(xy) == 4 and (np.diff(flux) <= 0).all()
    i, j = match_points(xy, truth, 2.0)
    assert len(i) == 4
    np.testing.assert_allclose(xy[i], truth[j], atol=0.08)
    assert len(detect_spots(np.zeros((32, 32)))[0]) == 0


def test_match_points_one_to_one_with_missing_and_extra():
    pred = np.array([[0, 0], [10, 0], [0, 10], [10, 10.0]])
    det = np.array([[10.3, 9.8], [0.2, -0.1], [50, 50], [9.7, 0.4]])  # one missing, one stray
    i, j = match_points(det, pred, max_distance=2.0)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 3), (1, 0), (3, 1)]


def test_reject_outliers_removes_bad_matches():
    rng = np.random.default_rng(2)
    m = np.array([[1.2, 0.3, 5.0], [-0.3, 1.2, 7.0]])
    src = rng.uniform(0, 200, (25, 2))
    dst = apply_affine(m, src) + rng.normal(0, 0.05, (25, 2))
    dst[3] += (6.0, -2.0)
    dst[17] += (0.0, 3.5)
    fit, keep = reject_outliers(src, dst)
    assert not keep[3] and not keep[17] and keep.sum() == 23
    good = np.setdiff1d(np.arange(25), [3, 17])
    np.testing.assert_allclose(fit, fit_affine(src[good], dst[good]), atol=1e-12)
    np.testing.assert_allclose(fit[:, :2], m[:, :2], atol=0.01)
    np.testing.assert_allclose(fit[:, 2], m[:, 2], atol=0.1)


def test_grid_points_centred_and_skip_zero_order():
    pts = grid_points((256, 256), 5, 0.5, zero_order_radius_px=3)
    assert len(pts) == 24  # the centre spot sits on the zero order and is left out
    assert not np.any(np.all(pts == 128, axis=1))
    np.testing.assert_allclose(pts.mean(axis=0), [128, 128], atol=1e-9)
    assert len(grid_points((256, 256), 4, 0.5, zero_order_radius_px=3)) == 16
    for bad, match in [(2, "grid=2"), (8, "grid=8"), (5.0, "grid=5.0")]:
        with pytest.raises(CalibrationError, match=match):
            grid_points((256, 256), bad, 0.5)
    with pytest.raises(CalibrationError, match="extent=0"):
        grid_points((256, 256), 5, 0)
    with pytest.raises(CalibrationError, match="too small"):
        grid_points((256, 256), 7, 0.01)


# ----------------------------------------------------------------------------- the record
def _cal() -> Calibration:
    m = np.array([[0.9, 0.2, -10.0], [-0.25, 0.95, 40.0]])
    return Calibration(m, (256, 256), (300, 400), slm_id="sim-slm", camera_id="sim-cam", residual_px=0.07,
                       n_spots=24)


def test_mapping_is_consistent_both_ways():
    cal = _cal()
    xy = np.array([[10.0, 20.0], [150.5, 99.25]])
    np.testing.assert_allclose(cal.slm_to_camera(cal.camera_to_slm(xy)), xy, atol=1e-9)
    np.testing.assert_allclose(cal.camera_to_slm(cal.zero_order_camera()), [[128, 128]], atol=1e-9)
    corners = cal.camera_to_slm(cal.field_outline_camera())
    np.testing.assert_allclose(corners, [[0, 0], [255, 0], [255, 255], [0, 255]], atol=1e-9)


def test_save_load_round_trip(tmp_path):
    cal = _cal()
    path = cal.save(tmp_path / "sub" / "cal.yaml")
    text = path.read_text()
    assert "camera_to_slm" in text and "residual_px" in text and "sim-slm" in text
    back = Calibration.load(path)
    np.testing.assert_array_equal(back.matrix, cal.matrix)
    assert (back.slm_shape, back.camera_shape, back.date) == (cal.slm_shape, cal.camera_shape, cal.date)
    assert (back.slm_id, back.camera_id, back.n_spots, back.residual_px) == ("sim-slm", "sim-cam", 24, 0.07)


def test_load_errors(tmp_path):
    with pytest.raises(CalibrationFileError, match="does not exist.*holostim calibrate") as err:
        Calibration.load(tmp_path / "missing.yaml")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, HolostimError)
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera_to_slm: [1, 2\n")
    with pytest.raises(CalibrationError, match="not valid YAML"):
        Calibration.load(bad)
    bad.write_text("just a string\n")
    with pytest.raises(CalibrationError, match="expected a mapping"):
        Calibration.load(bad)
    data = _cal().to_dict()
    del data["camera"]["shape"]
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match="missing key 'camera.shape'"):
        Calibration.load(bad)
    data = _cal().to_dict()
    data["format"] = "something-else"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match="not a holostim calibration"):
        Calibration.load(bad)
    data = _cal().to_dict()
    data["camera_to_slm"] = [[1, 0], [0, 1]]
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match="2×3"):
        Calibration.load(bad)


def test_check_targets_flags_and_never_moves():
    cal = _cal()
    ok_cam = cal.slm_to_camera([[60.0, 60.0]])[0]
    zero_cam = cal.slm_to_camera([[129.0, 127.0]])[0]
    out_cam = cal.slm_to_camera([[-5.0, 100.0]])[0]
    edge_cam = cal.slm_to_camera([[253.0, 100.0]])[0]
    targets = np.array([ok_cam, zero_cam, out_cam, edge_cam])
    before = targets.copy()
    reasons = cal.check_targets(targets, zero_order_radius_px=5.0)
    assert reasons[0] is None
    assert "zero-order" in reasons[1] and "1.4 SLM px" in reasons[1]
    assert "outside the SLM's addressable field" in reasons[2]
    assert reasons[3] is None
    with_margin = cal.check_targets(targets, zero_order_radius_px=5.0, margin_px=4)
    assert "outside" in with_margin[3]
    np.testing.assert_array_equal(targets, before)
    assert cal.check_targets(np.empty((0, 2)), 5.0) == []
    with pytest.raises(CalibrationError, match="zero_order_radius_px"):
        cal.check_targets(targets, -1.0)


# ----------------------------------------------------------------------------- end to end in simulation
def _rig(truth: GroundTruth, seed: int = 3):
    slm = SimulatedSLM((N, N), 9.2, 1.04, tau_ms=10.0, two_pi_gray=256, name="sim-slm")
    clock = SimulatedClock()
    cam = SimulatedCamera(slm, CAM, clock=clock, scene=Scene(sample="slide"),
                          light_path=LightPath(ground_truth=truth), seed=seed)
    engine = HologramEngine((N, N), backend="numpy", precision="single")
    return slm, cam, clock, engine


@pytest.fixture(scope="module", params=sorted(TRUTHS))
def calibrated(request):
    slm, cam, clock, engine = _rig(TRUTHS[request.param])
    calls = []
    cal = run_calibration(engine, slm, cam, grid=5, extent=0.6, sleep=clock.advance,
                          progress=lambda done, total, what: calls.append((done, total, what)))
    return cal, slm, cam, clock, engine, calls


def test_calibration_recovers_ground_truth(calibrated):
    cal, slm, cam, *_, calls = calibrated
    assert cam.sensor.noise  # shot and read noise on
    assert cal.n_spots >= 22 and cal.residual_px < 0.3
    assert (cal.slm_shape, cal.camera_shape, cal.slm_id) == ((N, N), CAM, "sim-slm")
    # Error over the field: every camera pixel (16 px lattice) that the SLM can address.
    yy, xx = np.mgrid[0 : CAM[0] : 16, 0 : CAM[1] : 16]
    cam_xy = np.column_stack([xx.ravel(), yy.ravel()]).astype(float)
    slm_true = apply_affine(cam.true_camera_to_slm, cam_xy)
    inside = (slm_true >= 0).all(axis=1) & (slm_true <= N - 1).all(axis=1)
    assert inside.sum() > 200
    err = np.hypot(*(cal.slm_to_camera(slm_true[inside]) - cam_xy[inside]).T)
    assert np.sqrt(np.mean(err**2)) < 0.3
    assert err.max() < 0.6
    # Progress: monotonic, ends at total.
    done = [c[0] for c in calls]
    assert done == sorted(done) and calls[-1][0] == calls[-1][1]


def test_click_to_brightest_spot_within_one_pixel(calibrated):
    cal, slm, cam, clock, engine, _ = calibrated
    clicks = np.array([[110.4, 140.7], [200.2, 95.6], [150.0, 210.3]])  # camera px
    assert cal.check_targets(clicks, zero_order_radius_px=5) == [None, None, None]
    slm_xy = np.round(cal.camera_to_slm(clicks))  # the engine's spots are whole Fourier pixels
    result = engine.compute(SpotTarget.from_pixels(slm_xy, (N, N)), method="wgs", iterations=15)
    slm.show_phase(result.phase)
    clock.advance(0.2)
    frame = cam.render().astype(float)  # noise on
    frame -= np.median(frame)  # the slide's own fluorescence is uniform
    xy, _ = detect_spots(frame, max_spots=3)
    assert len(xy) == 3
    # Each click lands within 1 px (the click is rounded to a whole SLM pixel: ≤ 0.5√2 SLM px).
    dist = np.hypot(*(xy[:, None, :] - clicks[None, :, :]).transpose(2, 0, 1))
    assert (dist.min(axis=0) < 1.0).all()
    # The brightest spot (detect_spots sorts by flux) is one of them, within 1 px of its click.
    assert dist[0].min() < 1.0


def test_calibration_errors_say_what_to_do():
    slm, cam, clock, engine = _rig(TRUTHS["rotated30"])
    with pytest.raises(CalibrationError, match="grid=9"):
        run_calibration(engine, slm, cam, grid=9, sleep=clock.advance)
    with pytest.raises(CalibrationError, match="build the engine with shape=slm.shape"):
        run_calibration(HologramEngine((128, 128), backend="numpy"), slm, cam, sleep=clock.advance)
    slm.show_phase(np.zeros((N, N), np.float32))
    slm.set_visible(False)  # the interlock blocks the laser: the camera sees no spots
    with pytest.raises(CalibrationError, match="reference spot 1 .* was not seen"):
        run_calibration(engine, slm, cam, sleep=clock.advance)


def test_saturated_spot_is_found_once_at_its_centre():
    yy, xx = np.mgrid[:64, :64]
    img = np.minimum(5000 * np.exp(-((xx - 30.4) ** 2 + (yy - 25.6) ** 2) / (2 * 2.5**2)), 1000.0)
    xy, _ = detect_spots(img, min_separation=4, window=8)
    assert len(xy) == 1  # the flat top is one spot, not many
    np.testing.assert_allclose(xy[0], [30.4, 25.6], atol=0.05)


def test_calibration_puts_back_the_previous_pattern():
    slm, cam, clock, engine = _rig(TRUTHS["mirrored"])
    before = engine.compute(SpotTarget.from_pixels([[100, 90]], (N, N)), iterations=3).phase
    slm.show_phase(before)
    shown = slm.last_record.frame.copy()
    run_calibration(engine, slm, cam, grid=3, extent=0.5, sleep=clock.advance)
    np.testing.assert_array_equal(slm.last_record.frame, shown)


def test_calibration_shows_every_frame_through_the_given_show():
    """A session passes its own ``show`` (the safety gate and the log): every frame goes through it,
    with the spots it puts light on, and nothing is restored behind its back."""
    slm, cam, clock, engine = _rig(TRUTHS["mirrored"])
    shown = []

    def show(phase, spots, what):
        shown.append((what, spots.copy()))
        slm.show_phase(phase)

    n_before = len(slm.frames)
    run_calibration(engine, slm, cam, grid=3, extent=0.5, sleep=clock.advance, show=show, restore=False)
    assert [w for w, _ in shown] == ["background", "reference spot 1", "reference spot 2",
                                     "reference spot 3", "3x3 grid"]
    assert [len(s) for _, s in shown] == [0, 1, 1, 1, 8]  # the grid leaves out the zero order
    assert len(slm.frames) - n_before == 5  # the procedure showed nothing of its own
