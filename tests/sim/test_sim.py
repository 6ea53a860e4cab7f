"""The simulated world on its own: parameters, the light cache and settling, the clock, its floor."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from holostim.errors import HolostimError
from holostim.hardware.slm import SimulatedSLM
from holostim.sim import (
    Activity,
    GroundTruth,
    LightPath,
    Scene,
    Sensor,
    SimulatedClock,
    SimulatedWorld,
    SimulationConfigError,
)

N = 256
SIM = Path(__file__).resolve().parents[2] / "src" / "holostim" / "sim"


def _ramp(dx: int, dy: int, n: int = N) -> np.ndarray:
    """Blazed grating: one spot at Fourier pixel (n//2 + dx, n//2 + dy), analytically."""
    y, x = np.mgrid[:n, :n]
    return np.mod(2 * np.pi * (dx * x + dy * y) / n, 2 * np.pi).astype(np.float32)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Scene(sample="brain"), "sample='brain'"),
        (lambda: Scene(n_neurons=-2), "n_neurons=-2"),
        (lambda: Scene(n_neurons=2.5), "n_neurons=2.5"),
        (lambda: Scene(neuron_radius_px=0), "neuron_radius_px=0"),
        (lambda: Scene(background=-1), "background=-1"),
        (lambda: Activity(threshold=0), "threshold=0"),
        (lambda: Activity(tau_s=-1), "tau_s=-1"),
        (lambda: Activity(stim_hz=float("nan")), "stim_hz=nan"),
        (lambda: Sensor(bit_depth=20), "bit_depth=20"),
        (lambda: Sensor(noise_threads=0), "noise_threads=0"),
        (lambda: Sensor(gain_e_per_adu=0), "gain_e_per_adu=0"),
        (lambda: LightPath(focal_length_um=-5), "focal_length_um=-5"),
        (lambda: LightPath(ground_truth={"rotation": 3}), "unknown ground_truth keys \\['rotation'\\]"),
        (lambda: SimulatedWorld(None, (64, 64), scene=Scene(n_neurons=500, neuron_radius_px=10)),
         "cannot place 500 neurons"),
        (lambda: SimulatedWorld(None, (8, 8)), "at least 16"),
    ],
)
def test_bad_parameters_name_the_value(make, match):
    with pytest.raises(SimulationConfigError, match=match) as info:
        make()
    assert isinstance(info.value, HolostimError) and isinstance(info.value, ValueError)


def test_parameters_are_frozen_and_converted():
    scene = Scene(baseline="12")  # a number as a session file may spell it
    assert scene.baseline == 12.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        scene.baseline = 3.0  # type: ignore[misc]
    assert LightPath(ground_truth={"offset_px": [1, 2]}).ground_truth == GroundTruth(offset_px=(1.0, 2.0))
    assert Sensor(bit_depth=8).dtype == np.uint8 and Sensor(bit_depth=9).dtype == np.uint16


def test_far_field_is_cached_and_recomputed_while_settling(monkeypatch):
    slm = SimulatedSLM((N, N), 9.2, 1.04, tau_ms=10.0, two_pi_gray=256)
    world = SimulatedWorld(slm, (128, 128))
    calls = []
    real = world.light._set
    monkeypatch.setattr(world.light, "_set", lambda phase: (calls.append(1), real(phase)))
    slm.show_phase(_ramp(20, 0))
    swapped = slm.frames[-1].t_swapped  # the panel's own stamp: time is measured from it, not from now
    settling = world.light_image(swapped + 0.002)  # 2 ms after the swap: still settling
    world.light_image(swapped + 0.005)
    assert len(calls) == 2  # settling: every frame recomputes
    settled = world.light_image(swapped + 0.505)  # settled
    n = len(calls)
    for k in range(5):
        world.expected_rate(swapped + 0.535 + 0.03 * k)
    assert len(calls) == n  # unchanged SLM: no new far field
    ex, ey = np.round(world.light.slm_to_camera @ np.array([N // 2 + 20, N // 2, 1.0])).astype(int)
    box = np.s_[ey - 3 : ey + 4, ex - 3 : ex + 4]
    # 2 ms into a 10 ms settle the crystal has not reached the grating: little light in the spot yet.
    assert settled[box].sum() > 0.9
    assert settling[box].sum() < 0.5 * settled[box].sum()


def test_clock_moves_only_when_told():
    clock = SimulatedClock(start=5.0)
    assert clock() == 5.0 and clock() == 5.0
    assert clock.advance(0.25) == 5.25 and clock.sleep(0.75) == 6.0
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1e-3)


def test_every_simulation_key_reaches_the_rig():
    """Each key of the session's ``simulation`` section is a field of exactly one rig part (or the rig's)."""
    from holostim.config import SimulationConfig
    from holostim.sim import NetworkParams

    parts = [Scene, Activity, LightPath, Sensor, NetworkParams]
    owners = {k: [p for p in parts if k in {f.name for f in dataclasses.fields(p)}]
              for k in SimulationConfig.model_fields}
    rig = {"seed", "shape", "activity_model"}  # the camera's own keywords, and which activity model
    shared = {"spontaneous_hz", "spike_dff"}  # the rate model and the network both read these
    assert {k for k, v in owners.items() if len(v) != 1} == rig | shared
    assert all(set(owners[k]) == {Activity, NetworkParams} for k in shared)
    assert not any(owners[k] for k in rig)


def test_a_changed_simulation_key_changes_the_rig():
    from holostim.config import parse_config

    cfg = parse_config("simulation:\n  tau_s: 0.8\n  bit_depth: 10\n  psf_sigma_px: 2.0\n"
                       "  ground_truth: {rotation_deg: -5.0}\n  visible_spots: false\n")
    kw = cfg.simulated_camera_kwargs()
    assert kw["activity"].tau_s == 0.8 and kw["sensor"].bit_depth == 10
    assert kw["light_path"].psf_sigma_px == 2.0 and kw["light_path"].ground_truth.rotation_deg == -5.0
    assert kw["light_path"].focal_length_um == cfg.optics.focal_length_um
    assert kw["scene"].visible_spots is False


def test_the_simulated_world_imports_no_device():
    """The world sits below the devices: no module of holostim.sim imports holostim.hardware (or Qt)."""
    for path in sorted(SIM.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("holostim.hardware", "holostim.config", "holostim.session",
                                            "PyQt6")), f"{path.name} imports {name}"
