"""The simulated rig in a volume: spots focus at their true depth, neurons lie in planes, the camera
images one plane (``focus_um``) and each neuron's opsin sees the light at its own depth.

Rig: a 128² SLM (9.2 µm pitch, 1.04 µm) behind a 200 mm Fourier lens and a 200× demagnification, so the
SLM fills NA ≈ 0.59 of the water objective: a focus ≈ 7.6 µm long (the axial resolution
``λ / (n − sqrt(n² − NA²))``), a camera pixel ≈ 0.98 µm in the sample.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from holostim.hardware.camera import CameraConfigError
from holostim.hardware.camera.simulated import SimulatedCamera
from holostim.hardware.slm import SimulatedSLM
from holostim.holography import HologramEngine, SpotTarget
from holostim.optics.defocus import DefocusModel
from holostim.sim import Activity, LightPath, Scene, SimulatedWorld, SimulationConfigError

N = 128
OPTICS = dict(focal_length_um=2e5, magnification=200.0, objective_na=0.8, medium_index=1.33)
NOMINAL = DefocusModel("high_na", 1.04, 2e5, 200.0, 9.2, 0.8, 1.33)  # what the engine assumes


def _slm() -> SimulatedSLM:
    return SimulatedSLM((N, N), 9.2, 1.04, tau_ms=0.0, two_pi_gray=256)


def _show_spot(slm: SimulatedSLM, xy: tuple[float, float], z: float) -> float:
    """One engine spot at Fourier pixel ``xy`` and nominal depth ``z``; returns the swap time."""
    eng = HologramEngine(shape=(N, N), defocus=NOMINAL, backend="numpy")
    res = eng.compute(SpotTarget.from_pixels(np.array([xy]), shape=(N, N), z=np.array([z])), iterations=5)
    slm.show_phase(np.asarray(res.phase))
    return slm.frames[-1].t_swapped


def _second_moment(img: np.ndarray, cx: float, cy: float, r: int = 20) -> float:
    """RMS radius (px) of the light within ``r`` of a point."""
    y0, x0 = int(cy) - r, int(cx) - r
    box = img[y0:y0 + 2 * r + 1, x0:x0 + 2 * r + 1].astype(np.float64)
    yy, xx = np.mgrid[y0:y0 + 2 * r + 1, x0:x0 + 2 * r + 1]
    w = box / box.sum()
    mx, my = (w * xx).sum(), (w * yy).sum()
    return float(np.sqrt((w * ((xx - mx) ** 2 + (yy - my) ** 2)).sum()))


def test_a_spot_is_sharp_in_its_true_plane_and_blurred_elsewhere():
    slm = _slm()
    path = LightPath(**OPTICS)  # ground truth defaults: 1.04 µm per nominal µm, +2 µm offset
    world = SimulatedWorld(slm, (N, N), scene=Scene(sample="slide", n_neurons=0), light_path=path)
    t = _show_spot(slm, (N // 2 + 20, N // 2 + 10), 30.0) + 1.0
    true_z = path.ground_truth.true_depth_um(30.0)
    assert true_z == pytest.approx(33.2)
    cx, cy = world.light.slm_to_camera @ np.array([N // 2 + 20, N // 2 + 10, 1.0])
    peaks, moments = {}, {}
    for focus in (0.0, 30.0, true_z, 40.0):
        world.focus_um = focus
        img = world.light_image(t)
        peaks[focus], moments[focus] = float(img.max()), _second_moment(img, cx, cy)
        assert img.sum() == pytest.approx(0.9, abs=0.05)  # defocus spreads the light, never loses it
    # measured: peak 0.096 in the true plane, 0.070 at the nominal 30 µm, 0.001 at 0; RMS radius
    # 1.5 px in focus, 17 px at focus 0
    assert peaks[true_z] > 1.2 * peaks[30.0] > 1.2 * peaks[40.0]
    assert peaks[true_z] > 30 * peaks[0.0]
    assert moments[true_z] < 2.5 and moments[0.0] > 5 * moments[true_z]
    # the peak is where the hidden truth puts it, within half a micron: scan around it
    zs = np.linspace(true_z - 3, true_z + 3, 13)
    scan = []
    for z in zs:
        world.focus_um = float(z)
        scan.append(float(world.light_image(t).max()))
    assert abs(zs[int(np.argmax(scan))] - true_z) <= 0.5


def test_neurons_lie_in_planes_and_blur_out_of_focus():
    world = SimulatedWorld(_slm(), (N, N), scene=Scene(n_neurons=12, planes_um=(0.0, 30.0)),
                           light_path=LightPath(**OPTICS), seed=3)
    depths = world.depths_um
    assert set(depths) == {0.0, 30.0} and len(depths) == 12
    flat = SimulatedWorld(_slm(), (N, N), scene=Scene(n_neurons=12), light_path=LightPath(**OPTICS), seed=3)
    np.testing.assert_array_equal(flat.sample.positions, world.sample.positions)  # depth leaves the layout
    at0 = world.expected_rate(0.0)
    world.focus_um = 30.0
    at30 = world.expected_rate(0.0)
    for (x, y), z in zip(world.sample.positions, depths, strict=True):
        box = np.s_[int(y) - 6:int(y) + 7, int(x) - 6:int(x) + 7]
        sharp, blurred = (at0, at30) if z == 0 else (at30, at0)
        assert sharp[box].max() > 1.8 * blurred[box].max()  # measured: 2.3 to 3.3 times
    # the blur keeps a plane's photons: the whole frame's light is the same at either focus
    assert at30.sum() == pytest.approx(at0.sum(), rel=0.02)


def test_a_neuron_is_driven_by_a_spot_at_its_own_depth():
    """The rate model's drive (light on each soma) is the light at the neuron's own plane."""
    slm = _slm()
    world = SimulatedWorld(slm, (N, N), scene=Scene(n_neurons=12, planes_um=(0.0, 30.0)),
                           activity=Activity(spontaneous_hz=0.0, threshold=0.2),
                           light_path=LightPath(**OPTICS), seed=3)
    deep = int(np.flatnonzero(world.depths_um == 30.0)[0])
    xy_slm = world.light.camera_to_slm @ np.array([*world.sample.positions[deep], 1.0])
    gt = world.light_path.ground_truth
    drives, dff = {}, {}
    now = 0.0  # the world's time only moves forward: each case starts after the last one relaxed
    for name, z_nominal in (("at its depth", gt.nominal_depth_um(30.0)), ("at 0", gt.nominal_depth_um(0.0))):
        now = max(now, _show_spot(slm, tuple(xy_slm), z_nominal)) + 0.5
        world.expected_rate(now)
        world.expected_rate(now + 1.0)  # one second lit
        drives[name], dff[name] = world.calcium.drive[deep], world.calcium.dff[deep]
        slm.show_phase(np.zeros((N, N), np.float32))  # the light off the soma (to the zero order)
        now += 20.0
        world.expected_rate(now)  # let it relax (10 τ)
    assert dff["at its depth"] > 1.0 and dff["at 0"] == 0.0  # ~25 spikes of 0.3 ΔF/F, or none
    # measured: 0.69 of the laser on the soma from a spot in its own plane, 0.084 from the same spot
    # focused 30 µm above it (the cone then covers a disc of ~15 µm radius; one-photon drive is linear,
    # so the soma still catches the share of the disc it covers)
    assert drives["at its depth"] > 0.5
    assert drives["at 0"] < 0.2 * drives["at its depth"]


def test_the_network_opsin_sees_the_light_at_its_depth():
    from holostim.sim import NetworkParams

    slm = _slm()
    world = SimulatedWorld(slm, (N, N), scene=Scene(n_neurons=12, planes_um=(0.0, 30.0)),
                           light_path=LightPath(**OPTICS), seed=3, network=NetworkParams(spontaneous_hz=0.0))
    deep = int(np.flatnonzero(world.depths_um == 30.0)[0])
    xy_slm = world.light.camera_to_slm @ np.array([*world.sample.positions[deep], 1.0])
    t = _show_spot(slm, tuple(xy_slm), world.light_path.ground_truth.nominal_depth_um(30.0))
    lit = world._drive(t + 0.1)
    t0 = _show_spot(slm, tuple(xy_slm), world.light_path.ground_truth.nominal_depth_um(0.0))
    above = world._drive(t0 + 0.1)
    assert lit[deep] > 0.5 and above[deep] < 0.2 * lit[deep]  # measured 0.69 and 0.084, as the rate model


def test_a_flat_sample_keeps_one_plane_and_one_light():
    slm = _slm()
    world = SimulatedWorld(slm, (N, N), light_path=LightPath(**OPTICS))
    assert world.sample.planes == (0.0,) and not world.depths_um.any()
    t = _show_spot(slm, (N // 2 + 20, N // 2), 0.0)
    world.expected_rate(t + 0.1)
    world.expected_rate(t + 0.2)
    assert list(world.light._state) == [0.0]  # the imaged plane only: one FFT per frame, as in 2-D


def test_the_camera_focus_is_a_thread_safe_property():
    cam = SimulatedCamera(_slm(), (N, N), scene=Scene(n_neurons=4, depth_range_um=(-20, 20), n_planes=3),
                          light_path=LightPath(**OPTICS))
    assert getattr(cam, "focus_um", None) == 0.0
    assert set(cam.neuron_depths_um) <= {-20.0, 0.0, 20.0}
    errors = []

    def sweep():
        try:
            for z in np.linspace(-20, 20, 15):
                cam.focus_um = float(z)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    th = threading.Thread(target=sweep)
    th.start()
    for _ in range(5):
        assert cam.render().shape == (N, N)
    th.join()
    assert not errors and cam.focus_um == 20.0
    with pytest.raises(CameraConfigError, match="focus_um='deep'"):
        cam.focus_um = "deep"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Scene(planes_um=(0, 10), depth_range_um=(0, 10)), "not both"),
        (lambda: Scene(depth_range_um=(10, -10)), "shallowest end comes first"),
        (lambda: Scene(planes_um=()), "names no plane"),
        (lambda: Scene(planes_um=tuple(range(20))), "at most 16"),
        (lambda: Scene(planes_um=(0, float("nan"))), "planes_um=nan"),
        (lambda: Scene(n_planes=0, depth_range_um=(0, 5)), "n_planes=0"),
        (lambda: LightPath(ground_truth={"defocus_scale": 0}), "defocus_scale=0"),
    ],
)
def test_bad_depths_name_the_key(make, match):
    with pytest.raises(SimulationConfigError, match=match):
        make()


def test_the_session_keys_reach_the_rig():
    from holostim.config import ConfigError, parse_config

    cfg = parse_config("optics: {magnification: 200}\nsimulation:\n  planes_um: [0, 25]\n  focus_um: 25\n"
                       "  ground_truth: {defocus_scale: 0.97, defocus_offset_um: -3}\n")
    kw = cfg.simulated_camera_kwargs()
    assert kw["scene"].planes == (0.0, 25.0)
    lp = kw["light_path"]
    assert lp.focus_um == 25.0 and lp.magnification == 200.0 and lp.medium_index == 1.33
    assert lp.ground_truth.defocus_scale == 0.97 and lp.ground_truth.defocus_offset_um == -3.0
    with pytest.raises(ConfigError, match="planes_um") as info:
        parse_config("simulation:\n  planes_um: [0, 10]\n  depth_range_um: [0, 10]\n")
    assert "not both" in str(info.value) and len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize("sigma", [0.5, 3.0, 7.3])
def test_blurred_footprints_are_the_full_frame_blur(sigma):
    """The cached per-neuron blur (the fast path) against a full-frame Gaussian of the plane's image."""
    from scipy import ndimage

    from holostim.sim.sample import Sample

    s = Sample(Scene(n_neurons=30, planes_um=(0.0, 20.0)), (128, 160), 2)
    f = np.random.default_rng(0).uniform(1, 2, 30).astype(np.float32)
    idx = s._in_plane[1]
    plain = ndimage.gaussian_filter((s._plane_footprints[1] @ f[idx]).reshape(128, 160), sigma,
                                    mode="constant", truncate=3.5)
    fast = (s._seen_footprints(1, sigma) @ f[idx]).reshape(128, 160)
    np.testing.assert_allclose(fast, plain, atol=2e-5 * plain.max())
    assert s._seen_footprints(1, sigma) is s._seen_footprints(1, sigma)  # cached per (plane, σ)
    assert s._seen_footprints(1, 0.05) is s._plane_footprints[1]  # under 0.1 px: not blurred at all
