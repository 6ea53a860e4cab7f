"""Power per spot in the simulated rig: compensation, `calibrate --power`, the per-spot limit, the log.

The simulated camera weights its far field by the panel's *true* pixel envelope (its hidden
``simulation.ground_truth.fill_factor``), so the spot fluxes it sees are the powers the sample gets.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml
from test_session import write_session

from holostim.calibration import Calibration
from holostim.calibration.power_map import normalised_coordinates, pixel_envelope
from holostim.calibration.power_procedure import _flux
from holostim.eventlog import read
from holostim.session import SafetyError, Session, Target

N = 128
ENGINE = {"tolerance": None, "iterations": 60, "warm_start": False,  # converged, even patterns
          "spot_algorithm": "fft"}
SLIDE = {"n_neurons": 0, "sample": "slide"}  # a fluorescent slide: the camera sees only the light


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def spots_across_the_field(s: Session) -> np.ndarray:
    """A 4×4 grid of SLM Fourier pixels from near the edge to near the zero order (x_n up to ±0.34)."""
    g = np.linspace(20, 108, 4)
    gx, gy = np.meshgrid(g, g)
    return np.column_stack([gx.ravel(), gy.ravel()])


def lit_fluxes(s: Session, slm_xy: np.ndarray, compensate: bool) -> tuple[np.ndarray, object]:
    """Show spots through the session, wait until the gate is open and the panel settled, measure fluxes."""
    s.power.compensate = compensate
    cam = s.calibration.slm_to_camera(slm_xy)
    result = s.apply([Target(float(x), float(y)) for x, y in cam])
    deadline = time.monotonic() + 30  # a generous wait for the gate, never a bound on how long it takes
    while not s.laser_gate.is_open and time.monotonic() < deadline:
        time.sleep(0.01)
    assert s.laser_gate.is_open, s.permit_reason
    time.sleep(20 * s.config.slm.settle_tau_ms / 1e3)  # fully settled, not the gate's 95 %
    img = np.mean([np.asarray(s.camera.snap(), np.float64) for _ in range(4)], axis=0)
    return _flux(img, cam, 8), result


def spread(f: np.ndarray) -> float:
    """Largest relative deviation from the mean."""
    return float(np.max(np.abs(f / f.mean() - 1)))


@pytest.fixture(scope="module")
def mismatched(tmp_path_factory):
    """A rig whose panel's true fill factor (0.8) is not the stated one (slm.fill_factor 0.95)."""
    folder = tmp_path_factory.mktemp("power")
    path = write_session(folder, n=N, engine=ENGINE,
                         simulation={**SLIDE, "ground_truth": {"fill_factor": 0.8}})
    with Session.open(path) as s:
        yield s


def test_compensation_evens_the_spots_across_the_field(tmp_path):
    path = write_session(tmp_path, n=N, engine=ENGINE, simulation=SLIDE)  # truth = stated: 0.95
    with Session.open(path) as s:
        xy = spots_across_the_field(s)
        plain, _ = lit_fluxes(s, xy, compensate=False)
        even, res = lit_fluxes(s, xy, compensate=True)
        assert spread(plain) > 0.2  # the envelope: far spots get much less than near ones
        assert spread(even) < 0.05
        # the prediction is the delivered power: even too, and the log carries it with the efficiency
        assert spread(res.predicted_power_mw) < 0.02
        rec = res.record
        assert rec["predicted_power_mw"] == pytest.approx(list(res.predicted_power_mw))
        xn, yn = normalised_coordinates(xy, (N, N))
        assert rec["spot_efficiency"] == pytest.approx(pixel_envelope(xn, yn, 0.95), abs=1e-4)


def test_calibrate_power_recovers_the_hidden_fill_factor(mismatched, tmp_path):
    s = mismatched
    cal = s.calibrate_power()
    pm = cal.power_map
    assert s.calibration.power_map is pm
    # the measurements alone give the panel's true fill factor within 0.04 (0.80 hidden, 0.95 stated)
    assert pm.fitted_fill_factor == pytest.approx((0.8, 0.8), abs=0.04)
    # the session's model (stated envelope × the map) matches the true envelope within 4 % over the field
    m = s.last_power_measurement
    xn, yn = normalised_coordinates(m.spots_slm, (N, N))
    model = pixel_envelope(xn, yn, 0.95) * pm(xn, yn)
    truth = pixel_envelope(xn, yn, 0.8)
    ratio = model / truth
    assert np.max(np.abs(ratio / ratio.mean() - 1)) < 0.04
    assert np.max(np.abs(pixel_envelope(xn, yn, 0.95) / truth / np.mean(pixel_envelope(xn, yn, 0.95) / truth)
                         - 1)) > 0.06  # without the map the model would be off by more
    assert pm.residual < 0.03
    # saved and loaded: the map comes back; every frame went through the gate and into the log
    path = s.save_calibration(cal, tmp_path / "cal.yaml")
    again = Calibration.load(path)
    assert again.power_map == pm
    names = [r["name"] for r in read(s.log.path).records
             if r["type"] == "frame" and r["kind"] == "calibration" and r["name"].startswith("power:")]
    assert names == ["power: background"] + [f"power: spots {k}/4" for k in range(1, 5)]
    # with the map, compensation evens the spots the panel really delivers
    even, _ = lit_fluxes(s, spots_across_the_field(s), compensate=True)
    assert spread(even) < 0.05


def test_old_calibration_files_still_load(tmp_path):
    cal = Calibration(matrix=np.eye(2, 3), slm_shape=(8, 8), camera_shape=(8, 8), residual_px=0.1, n_spots=9)
    data = cal.to_dict()
    assert "power_map" not in data
    data["version"] = 1
    (tmp_path / "v1.yaml").write_text("# old\n" + yaml.safe_dump(data))
    assert Calibration.load(tmp_path / "v1.yaml").power_map is None


def test_the_limit_sees_the_light_compensation_adds_to_a_far_spot(mismatched):
    s = mismatched
    near, far = (78.0, 64.0), (10.0, 12.0)
    cam = s.calibration.slm_to_camera(np.array([near, far]))
    targets = [Target(*cam[0], weight=0.2), Target(*cam[1], weight=1.0)]
    s.power.compensate = False
    plain = s.compute(targets).predicted_power_mw
    s.power.compensate = True
    compensated = s.compute(targets).predicted_power_mw
    assert compensated[1] > plain.max() * 1.02  # compensation sends more to the far spot than any before
    limit = 0.5 * (compensated[1] + plain.max())
    limits = s.safety.limits
    s.safety.limits = limits.model_copy(update={"max_power_per_spot_mw": limit})
    try:
        with pytest.raises(SafetyError, match="on spot 2 exceeds safety.max_power_per_spot_mw"):
            s.apply(targets)
        s.power.compensate = False
        shown = s.apply(targets)  # the same pattern uncompensated is within the limit
        assert shown.predicted_power_mw.max() < limit
    finally:
        s.safety.limits = limits
        s.power.compensate = True
