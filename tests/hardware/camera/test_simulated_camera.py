"""The simulated camera on the simulated rig: light through the ground-truth map, neurons, dynamics, noise,
streaming and bad input, seen through the camera interface."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from scipy import ndimage

from holostim.hardware.camera import CameraConfigError, SimulatedCamera, open_camera
from holostim.hardware.slm import SimulatedSLM
from holostim.sim import Activity, GroundTruth, LightPath, Scene, Sensor, SimulatedClock

N = 256


def _slm(tau_ms: float = 0.0, n: int = N) -> SimulatedSLM:
    return SimulatedSLM((n, n), 9.2, 1.04, tau_ms=tau_ms, two_pi_gray=256)


def _ramp(dx: int, dy: int, n: int = N) -> np.ndarray:
    """Blazed grating: one spot at Fourier pixel (n//2 + dx, n//2 + dy), analytically."""
    y, x = np.mgrid[:n, :n]
    return np.mod(2 * np.pi * (dx * x + dy * y) / n, 2 * np.pi).astype(np.float32)


def _centroid(img: np.ndarray, radius: int = 6) -> np.ndarray:
    iy, ix = np.unravel_index(np.argmax(img), img.shape)
    box = img[iy - radius : iy + radius + 1, ix - radius : ix + radius + 1]
    cy, cx = ndimage.center_of_mass(box)
    return np.array([ix - radius + cx, iy - radius + cy])


@pytest.mark.parametrize(
    "truth",
    [
        GroundTruth(rotation_deg=30.0, scale=1.6, shear=0.03, offset_px=(5.5, -9.0)),
        GroundTruth(rotation_deg=-8.0, scale=1.3, shear=-0.02, mirror=True, offset_px=(-12.0, 4.0)),
    ],
)
def test_spot_lands_where_the_ground_truth_says(truth):
    slm = _slm()
    cam = SimulatedCamera(slm, (256, 256), light_path=LightPath(ground_truth=truth), clock=SimulatedClock())
    # The ground-truth matrix itself: independent construction from the documented formula.
    th = np.radians(truth.rotation_deg)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    a = rot @ (truth.scale * np.array([[1, truth.shear], [0, 1]])) @ np.diag([-1 if truth.mirror else 1, 1])
    np.testing.assert_allclose(cam.true_slm_to_camera[:, :2], a, atol=1e-12)
    zero_cam = cam.true_slm_to_camera @ np.array([N // 2, N // 2, 1])
    np.testing.assert_allclose(zero_cam, np.array([128, 128]) + truth.offset_px, atol=1e-12)
    for dx, dy in [(30, 10), (-25, 35), (5, -40)]:
        slm.show_phase(_ramp(dx, dy))
        light = cam.light_image()
        expected = cam.true_slm_to_camera @ np.array([N // 2 + dx, N // 2 + dy, 1.0])
        np.testing.assert_allclose(_centroid(light), expected, atol=0.15)
        # power preserving: a single spot well inside the frame carries (almost) all the light its
        # Fourier pixel gets, which the panel's pixel envelope (the hidden truth's) lowers off axis
        kept = truth.efficiency((N, N))[N // 2 + dy, N // 2 + dx]
        assert kept < 0.99 and light.sum() == pytest.approx(kept, abs=0.02)
    np.testing.assert_allclose(cam.true_camera_to_slm[:, :2] @ cam.true_slm_to_camera[:, :2], np.eye(2),
                               atol=1e-12)


def test_scale_from_focal_length_and_camera_pixel():
    slm = _slm()
    cam = SimulatedCamera(slm, (128, 128), light_path=LightPath(focal_length_um=9000.0, camera_pixel_um=2.0))
    fourier_pitch = 1.04 * 9000.0 / (N * 9.2)
    assert cam.world.light.fourier_pitch_um == pytest.approx(fourier_pitch)
    assert np.sqrt(abs(np.linalg.det(cam.true_slm_to_camera[:, :2]))) == pytest.approx(fourier_pitch / 2.0)


def test_neurons_are_seeded_inside_the_frame_and_visible():
    scene = Scene(n_neurons=25, neuron_radius_px=5)
    a = SimulatedCamera(None, (200, 300), scene=scene, seed=3, sensor=Sensor(noise=False))
    b = SimulatedCamera(None, (200, 300), scene=scene, seed=3, sensor=Sensor(noise=False))
    c = SimulatedCamera(None, (200, 300), scene=scene, seed=4, sensor=Sensor(noise=False))
    assert a.neuron_positions.shape == (25, 2)
    np.testing.assert_array_equal(a.neuron_positions, b.neuron_positions)
    assert not np.allclose(a.neuron_positions, c.neuron_positions)
    x, y = a.neuron_positions.T
    assert (x > 0).all() and (x < 300).all() and (y > 0).all() and (y < 200).all()
    d = np.hypot(*(a.neuron_positions[:, None] - a.neuron_positions[None]).transpose(2, 0, 1))
    assert d[np.triu_indices(25, 1)].min() >= 2 * 5  # somata do not overlap
    raw = a.render(0.0)
    assert raw.shape == (200, 300) and raw.dtype == np.uint16
    frame = raw.astype(float)
    # A soma (ring around the nucleus) is clearly brighter than the background between cells.
    on = frame[np.round(y).astype(int), np.round(x + 3).astype(int)]
    mask = np.ones(frame.shape, bool)
    mask[np.round(y).astype(int), np.round(x).astype(int)] = False
    far = ndimage.distance_transform_edt(mask) > 12
    assert np.median(on) > np.median(frame[far]) + 20
    assert 0 < a.dtype.itemsize <= 2


def test_density_sets_the_count():
    cam = SimulatedCamera(None, (200, 200), scene=Scene(neuron_density=5.0))
    assert cam.n_neurons == 20


def test_stimulated_neurons_brighten_and_others_do_not():
    n = 256
    slm = _slm(n=n)
    clock = SimulatedClock()
    cam = SimulatedCamera(slm, (256, 256), seed=7, clock=clock, scene=Scene(n_neurons=30),
                          activity=Activity(spontaneous_hz=0.0),
                          light_path=LightPath(ground_truth=GroundTruth(rotation_deg=12.0, scale=1.0)),
                          sensor=Sensor(noise=False))
    targets = [0, 5, 11]
    slm_xy = np.column_stack([cam.neuron_positions[targets], np.ones(3)]) @ cam.true_camera_to_slm.T
    # Superposition of three gratings: spots on the three neurons (analytic, no engine needed here).
    y, x = np.mgrid[:n, :n]
    field = sum(np.exp(2j * np.pi * ((sx - n // 2) * x + (sy - n // 2) * y) / n) for sx, sy in slm_xy.round())
    slm.show_phase(np.mod(np.angle(field), 2 * np.pi).astype(np.float32))

    def soma_means(img):
        c = np.round(cam.neuron_positions).astype(int)
        return np.array([img[py - 2 : py + 3, px - 2 : px + 3].mean() for px, py in c])

    base = soma_means(cam.render().astype(float))
    for _ in range(20):  # one second of stimulation at 20 fps
        clock.advance(0.05)
        frame = cam.render()
    lit = soma_means(frame.astype(float))
    offset = cam.sensor.dark_offset_adu
    gain = (lit - offset) / (base - offset)
    calcium = cam.world.calcium
    assert calcium.stimulated[targets].all() and calcium.stimulated.sum() == 3
    assert (gain[targets] > 2.5).all()
    others = np.setdiff1d(np.arange(cam.n_neurons), targets)
    np.testing.assert_allclose(gain[others], 1.0, atol=0.02)
    # The light moves off: the transients decay with tau ≈ 0.5 s.
    slm.set_visible(False)  # the interlock blocks the laser: no light anywhere
    dff0 = calcium.dff[targets].copy()
    clock.advance(0.5)
    cam.render()
    assert not calcium.stimulated.any()
    np.testing.assert_allclose(calcium.dff[targets], dff0 * np.exp(-1), rtol=1e-9)


def test_spontaneous_activity_and_noise_are_seeded():
    def run(seed):
        cam = SimulatedCamera(None, (64, 64), scene=Scene(n_neurons=4, neuron_radius_px=4), seed=seed,
                              activity=Activity(spontaneous_hz=5.0), clock=SimulatedClock(start=0.0))
        frames = []
        for _ in range(5):
            cam.clock.advance(0.2)
            frames.append(cam.snap())
        return np.array(frames), cam.world.calcium.dff.copy()

    f1, c1 = run(1)
    f2, c2 = run(1)
    f3, c3 = run(2)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(c1, c2)
    assert not np.array_equal(f1, f3)
    assert c1.sum() > 0  # 5 Hz for 1 s: the neurons did fire


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_shot_noise_statistics(threads):
    kw = dict(scene=Scene(sample="slide", background=5.0), exposure_ms=100.0,
              sensor=Sensor(read_noise_e=0.0, gain_e_per_adu=1.0, dark_offset_adu=0.0, noise_threads=threads))
    cam = SimulatedCamera(None, (128, 128), clock=SimulatedClock(), **kw)
    frame = cam.render().astype(float)
    again = SimulatedCamera(None, (128, 128), clock=SimulatedClock(), **kw).render()
    np.testing.assert_array_equal(frame, again)  # seeded, whatever the thread timing
    # Bands are independent streams: neighbouring rows across a band edge are uncorrelated.
    assert abs(np.corrcoef(frame[63], frame[64])[0, 1]) < 0.2
    cam.close()
    mean_e = 0.3 * 5.0 * 100.0  # the slide's dim fluorescence: 0.3 × background, per ms × exposure
    assert frame.mean() == pytest.approx(mean_e, rel=0.01)
    assert frame.var() == pytest.approx(mean_e, rel=0.05)  # Poisson: variance = mean


def test_slide_shows_spots_and_no_neurons():
    slm = _slm()
    cam = SimulatedCamera(slm, (256, 256), scene=Scene(sample="slide"), clock=SimulatedClock(),
                          light_path=LightPath(ground_truth={"scale": 1.2}))
    slm.show_phase(_ramp(20, -30))
    frame = cam.render().astype(float)
    expected = cam.true_slm_to_camera @ np.array([N // 2 + 20, N // 2 - 30, 1.0])
    np.testing.assert_allclose(_centroid(frame - np.median(frame), radius=4), expected, atol=0.3)


def test_no_light_before_a_frame_or_when_the_laser_is_blocked():
    slm = _slm()
    cam = SimulatedCamera(slm, (128, 128), clock=SimulatedClock())
    assert cam.light_image().sum() == 0.0
    slm.show_phase(_ramp(10, 10))
    assert cam.light_image().sum() > 0.9
    slm.set_visible(False)  # interlock: the SLM window is hidden → laser blocked
    assert not slm.laser_permitted
    assert cam.light_image().sum() == 0.0


def test_open_camera_simulated_and_streaming():
    slm = _slm()
    scene = Scene(n_neurons=5, neuron_radius_px=4)
    with open_camera("simulated", slm=slm, shape=(96, 128), fps=200, scene=scene) as cam:
        assert cam.shape == (96, 128)
        assert cam.snap().shape == (96, 128)
        cam.start()
        f = cam.wait_frame(0, timeout=5)
        assert f is not None and f.image.shape == (96, 128) and f.counter >= 1
        cam.stop()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (8, 8)}, "at least 16"),
        ({"shape": "big"}, "must be two positive integers \\(height, width\\)"),
        ({"exposure_ms": 0}, "exposure_ms"),
        ({"scene": Scene(n_neurons=500, neuron_radius_px=10)}, "cannot place 500 neurons"),
        ({"light_path": LightPath(ground_truth={"scale": -1.0})}, "ground_truth.scale=-1.0"),
    ],
)
def test_bad_options(kwargs, match):
    """What only the rig as a whole can refuse is the camera's configuration error (as a session shows it)."""
    shape = kwargs.pop("shape", (64, 64))
    with pytest.raises(CameraConfigError, match=match):
        SimulatedCamera(None, shape, **kwargs)


def test_unknown_simulated_option_via_factory():
    with pytest.raises(CameraConfigError, match="does not take that option"):
        open_camera("simulated", shape=(64, 64), neurons=3)


def test_gaussian_beam_widens_the_spot_but_keeps_its_place():
    def spot(waist):
        slm = _slm()
        path = LightPath(beam_waist_um=waist, ground_truth={"scale": 1.5, "rotation_deg": 0.0, "shear": 0.0})
        cam = SimulatedCamera(slm, (256, 256), clock=SimulatedClock(), light_path=path)
        slm.show_phase(_ramp(15, -10))
        light = cam.light_image()
        c = _centroid(light, radius=10)
        iy, ix = np.unravel_index(np.argmax(light), light.shape)
        box = light[iy - 10 : iy + 11, ix - 10 : ix + 11]
        yy, xx = np.mgrid[iy - 10 : iy + 11, ix - 10 : ix + 11]
        var = (box * ((xx - c[0]) ** 2 + (yy - c[1]) ** 2)).sum() / box.sum()
        return c, var, cam

    c_flat, var_flat, cam = spot(None)
    # A 1/e² waist of N·pitch/8 on the SLM makes a far-field waist of 8/π Fourier px (λf/(πw)).
    c_gauss, var_gauss, _ = spot(N * 9.2 / 8)
    np.testing.assert_allclose(c_gauss, c_flat, atol=0.05)
    w_fourier = 8 / np.pi
    sigma_cam = 1.5 * w_fourier / 2  # intensity 1/e² radius = 2σ
    assert var_gauss - var_flat == pytest.approx(2 * sigma_cam**2, rel=0.15)


def test_concurrent_readers_while_streaming():
    slm = _slm()
    cam = SimulatedCamera(slm, (128, 128), fps=500, scene=Scene(n_neurons=5, neuron_radius_px=4))
    slm.show_phase(_ramp(10, 5))
    cam.start()
    try:
        for _ in range(20):
            assert cam.light_image().sum() == pytest.approx(1.0, abs=0.05)
            cam.snap()
        assert cam.wait_frame(0, timeout=5) is not None
    finally:
        cam.close()


@pytest.mark.parametrize("camera_px", [96, 128, 150])
def test_block_reduced_mapping_matches_direct(camera_px):
    """Coarse camera pixels (k Fourier px each): linear binning keeps power and spot positions."""
    slm = _slm()
    cam = SimulatedCamera(slm, (camera_px, camera_px), clock=SimulatedClock(), scene=Scene(n_neurons=0),
                          light_path=LightPath(ground_truth={"rotation_deg": 20.0, "mirror": True}))
    image = np.zeros((N, N), np.float32)
    pts = np.array([[70, 72], [131, 80], [181, 151], [92, 170], [150, 117], [113, 121]])
    image[pts[:, 1], pts[:, 0]] = np.linspace(0.5, 1.0, 6)
    fast = cam.world.light.map_slm_image(image)
    direct = cam.world.light.map_slm_image(image, reduce=False)
    assert fast.sum() == pytest.approx(direct.sum(), rel=0.02)
    expected = np.column_stack([pts, np.ones(6)]) @ cam.true_slm_to_camera.T
    for x, y in expected:
        box = np.s_[round(y) - 5 : round(y) + 6, round(x) - 5 : round(x) + 6]
        yy, xx = np.mgrid[box]
        for img in (fast, direct):
            w = img[box]
            centroid = [(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()]
            np.testing.assert_allclose(centroid, [x, y], atol=0.02)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_simulated_rendering_yields_the_cpu_to_hologram_computation():
    # the simulated camera's thread renders on the CPU: it must not take cores from the engine
    cam = SimulatedCamera(_slm(), (64, 64), scene=Scene(n_neurons=4), fps=100, clock=SimulatedClock())
    with cam:
        cam.start()
        assert cam.wait_frame(timeout=5.0) is not None
        base = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, cam._thread.native_id) == min(base + 10, 19)
