"""Session: config → simulated rig → calibrated click → SLM → log, with the safety limits in front."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from holostim.config import ConfigError, load_config
from holostim.eventlog import frame_hash, read
from holostim.session import SafetyError, Session, SessionError, Target, TargetRefused

ROOT = Path(__file__).resolve().parent.parent
N = 128  # small SLM and camera: the loop is the same, the tests stay fast


@pytest.fixture(autouse=True)
def _one_fft_thread(monkeypatch):
    # Two FFTW threads on the 2-core CI machine shared with a rendering camera only add contention.
    monkeypatch.setenv("HOLOSTIM_THREADS", "1")


def write_session(folder: Path, *, n: int = N, daq: dict | None | str = "simulated", **sections) -> Path:
    """The shipped simulation session, shrunk to n×n, with logs and calibration inside ``folder``.

    ``sections`` update the shipped sections key by key; ``daq`` replaces the whole section (None: no DAQ;
    "simulated": the shipped one).
    """
    data = yaml.safe_load((ROOT / "config" / "simulation.yaml").read_text())
    data["slm"]["shape"] = [n, n]
    data["simulation"].update(shape=[n, n], n_neurons=8)
    data["calibration"]["file"] = "calibration.yaml"
    data["log"]["directory"] = "logs"
    if daq is None:
        data.pop("daq", None)
    elif daq != "simulated":
        data["daq"] = daq
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "session.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> Path:
    """A folder whose calibration.yaml was measured (automatically, on first open) for the test rig."""
    folder = tmp_path_factory.mktemp("rig")
    path = write_session(folder)
    with Session.open(path) as s:
        assert s.calibration is not None
        assert s.calibration.residual_px < 0.5
        # The session never reads the ground truth: compare only here, against the simulated camera.
        assert_matches_truth(s.calibration.matrix, s.camera.true_camera_to_slm, s.camera.shape)
    assert (folder / "calibration.yaml").is_file()
    return folder


def assert_matches_truth(matrix, truth, camera_shape) -> None:
    """The measured camera → SLM affine against the simulated rig's hidden one.

    The linear part (scale, rotation, shear; entries ~1) within 1 %; and over the whole camera frame the
    two maps agree to 0.35 SLM Fourier pixel, so a target lands within a third of a pixel of where the
    true optics put it. The fit reaches 0.02-0.08 px on an idle machine; under a load average of ~4.5 it
    reached 0.26-0.29 px. The cause is not pinned down; the simulated rig runs on the real clock (its
    neurons respond to the spots while the calibration waits), so how long each wait really lasts changes
    the frames. A 1 % scale error is ~2 px at the far corner and still fails.
    """
    from holostim.calibration import apply_affine

    np.testing.assert_allclose(matrix[:, :2], truth[:, :2], rtol=0, atol=1e-2)
    ny, nx = camera_shape
    ys, xs = np.mgrid[0:ny:8, 0:nx:8]
    cam = np.column_stack([xs.ravel(), ys.ravel()]).astype(float)
    err = np.hypot(*(apply_affine(matrix, cam) - apply_affine(truth, cam)).T)
    assert err.max() < 0.35, f"calibration is {err.max():.3f} SLM px off the ground truth"


@pytest.fixture
def session_file(calibrated, tmp_path) -> Path:
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    return write_session(tmp_path)


def log_lines(session: Session) -> bytes:
    return session.log.path.read_bytes()


def patterns_in(path: Path, kind: str = "pattern") -> list[dict]:
    """The log's records of one type (``pattern``, ``frame``, ``laser``, ...)."""
    return [r for r in read(path).records if r["type"] == kind]


def n_patterns(session: Session) -> int:
    return len(patterns_in(session.log.path))


def in_field(s: Session, slm_xy) -> Target:
    """A camera target that maps to the given SLM Fourier pixel."""
    x, y = s.calibration.slm_to_camera(np.array([slm_xy], dtype=float))[0]
    return Target(float(x), float(y))


PATTERNS = [
    [(40, 40), (90, 60), (60, 100)],
    [(42, 41), (90, 60), (60, 100)],  # one spot moved a little: warm start
    [(30, 90), (95, 70)],
]


def test_three_patterns_are_shown_and_logged_with_matching_frame_hashes(session_file):
    with Session.open(session_file) as s:
        assert s.path == session_file
        # The calibration came from the file (no new measurement on open).
        assert s.calibration.to_dict() == load_calibration_dict(session_file.parent / "calibration.yaml")
        results = [s.apply([in_field(s, p) for p in pts]) for pts in PATTERNS]
        log_path = s.log.path
        slm_frames = [r.frame for r in list(s.slm.frames)[-3:]]
    contents = read(log_path)
    assert contents.header["type"] == "header"
    assert contents.header["config"]["name"] == "simulation"
    assert contents.header["calibration"]["camera_to_slm"] == [list(r) for r in s.calibration.matrix.tolist()]
    records = [r for r in contents.records if r["type"] == "pattern"]
    assert len(records) == 3
    for rec, res, frame, pts in zip(records, results, slm_frames, PATTERNS, strict=True):
        assert rec["frame_hash"] == frame_hash(frame) == frame_hash(res.frame)
        assert rec["frame_shape"] == [N, N]
        np.testing.assert_array_equal(res.frame, frame)
        np.testing.assert_allclose([t["slm_px"] for t in rec["targets"]], pts, atol=1e-6)
        assert rec["method"] == "wgs" and rec["iterations"] == res.iterations > 0
        assert 0 < rec["metrics"]["efficiency"] <= 1
        t = rec["time"]
        assert t["request_mono"] <= t["computed_mono"] <= t["uploaded_mono"] <= t["swapped_mono"]
        assert rec["click_to_swap_ms"] == pytest.approx(1e3 * (t["swapped_mono"] - t["request_mono"]))
        assert rec["interlock"]["laser_permitted"] is True
    assert [r.warm_started for r in results] == [False, True, False]
    for res in results[:2]:  # three equal spots: WGS makes them equal
        assert res.metrics.uniformity > 0.95
    # Sample coordinates: Fourier pixel offset × λ f / (N dx) / magnification.
    cfg = load_config(session_file)
    lam_f = cfg.slm.wavelength_um * cfg.optics.focal_length_um
    pitch = lam_f / (N * cfg.slm.pitch_um) / cfg.optics.magnification
    first = records[0]["targets"][0]
    assert first["sample_um"] == pytest.approx([(40 - N // 2) * pitch, (40 - N // 2) * pitch], abs=1e-6)


def test_a_failed_warm_start_is_computed_again_from_scratch(session_file, monkeypatch):
    import dataclasses

    with Session.open(session_file) as s:
        real = s.engine.compute
        calls = []

        def degenerate_when_warm(target, warm_start=False, **kw):
            calls.append(warm_start)
            res = real(target, warm_start=warm_start, **kw)
            if warm_start:  # as if the start had no light where the spots now are
                res = dataclasses.replace(res, metrics=dataclasses.replace(res.metrics, efficiency=0.01))
            return res

        monkeypatch.setattr(s.engine, "compute", degenerate_when_warm)
        s.apply([in_field(s, p) for p in [(30, 30), (90, 40)]])
        res = s.apply([in_field(s, p) for p in [(31, 30), (90, 40)]])
    assert calls == [False, True, False]
    assert not res.warm_started and res.metrics.efficiency > 0.5
    assert res.record["warm_start"] is False


def load_calibration_dict(path: Path) -> dict:
    from holostim.calibration import Calibration

    return Calibration.load(path).to_dict()


def test_spot_lands_where_asked_in_the_predicted_intensity(session_file):
    with Session.open(session_file) as s:
        res = s.compute([in_field(s, (37, 88))])
        image = s.predicted_intensity(res.phase)
    assert image.shape == (N, N)
    assert image.sum() == pytest.approx(1.0)
    y, x = np.unravel_index(np.argmax(image), image.shape)
    assert (x, y) == (37, 88)
    assert image[y, x] > 0.3  # most of the light is in the one spot


def test_safety_limits_refuse_and_log_nothing(session_file, tmp_path):
    path = write_session(tmp_path, safety={"max_spots": 2, "laser_power_mw": 100, "max_power_per_spot_mw": 60,
                                           "max_total_power_mw": 1000})
    with Session.open(path) as s:
        before = log_lines(s)
        n_frames = len(s.slm.frames)
        permit = s.permit_state()
        cases = [
            (SafetyError, "max_spots = 2", [in_field(s, p) for p in [(30, 30), (90, 30), (30, 90)]]),
            # Two spots share 100 mW × efficiency: fine. One spot gets it all: over 60 mW.
            (SafetyError, "max_power_per_spot_mw", [in_field(s, (30, 30))]),
            (TargetRefused, "zero-order", [in_field(s, (N // 2 + 2, N // 2))]),
            (TargetRefused, "outside the SLM", [in_field(s, (N + 30, 10))]),
            (TargetRefused, "weight", [Target(50.0, 50.0, weight=0.0)]),
        ]
        for exc, match, targets in cases:
            with pytest.raises(exc, match=match):
                s.apply(targets)
            with pytest.raises(exc, match=match):
                s.compute(targets)
        assert log_lines(s) == before
        assert len(s.slm.frames) == n_frames
        assert s.permit_state() == permit
        centre = in_field(s, (N // 2, N // 2 + 1))
        assert "zero-order" in s.check_target(centre.x, centre.y)
        edge = in_field(s, (10, 12))
        assert s.check_target(edge.x, edge.y) is None
        ok = s.apply([in_field(s, p) for p in [(30, 30), (90, 40)]])
        # The gate's power is from the shown 8-bit frame (within ±1 px of each spot), the engine's
        # efficiency from its float phase (on the spot pixels): the same light, to a few per cent. The
        # sample gets each spot's share times its diffraction efficiency η, and compensation made the
        # shares ∝ 1/η: so each spot gets 100 mW × efficiency / Σ 1/η.
        want = 100 * ok.metrics.efficiency / np.sum(1 / ok.efficiency)
        np.testing.assert_allclose(ok.predicted_power_mw, want, rtol=0.05)
        assert n_patterns(s) == 1 and s.laser_permitted


def test_total_power_limit(session_file, tmp_path):
    path = write_session(tmp_path, safety={"laser_power_mw": 100, "max_power_per_spot_mw": 100,
                                           "max_total_power_mw": 50})
    with Session.open(path) as s:
        with pytest.raises(SafetyError, match="max_total_power_mw"):
            s.apply([in_field(s, (30, 30)), in_field(s, (90, 40))])
        assert n_patterns(s) == 0


def test_blaze_moves_the_zero_order_exclusion_and_the_sample_position(calibrated, tmp_path):
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    path = write_session(tmp_path, slm={"blaze": [0.125, 0.0]})  # the pattern moves 16 px in x
    with Session.open(path) as s:
        # The blaze changed the rig, so the simulated calibration was measured again; it maps camera
        # pixels to the engine's coordinates, which sit 16 px before the physical (blazed) pattern.
        expected = s.camera.true_camera_to_slm.copy()
        expected[0, 2] -= 16
        assert_matches_truth(s.calibration.matrix, expected, s.camera.shape)
        np.testing.assert_array_equal(s.zero_order_slm, [N // 2 - 16, N // 2])
        zero = in_field(s, (N // 2 - 16 + 3, N // 2))
        assert "zero-order" in s.check_target(zero.x, zero.y)
        centre = in_field(s, (N // 2, N // 2))
        assert s.check_target(centre.x, centre.y) is None
        rec = s.apply([centre]).record
    cfg = load_config(path)
    lam_f = cfg.slm.wavelength_um * cfg.optics.focal_length_um
    pitch = lam_f / (N * cfg.slm.pitch_um) / cfg.optics.magnification
    assert rec["targets"][0]["sample_um"] == pytest.approx([16 * pitch, 0.0], abs=1e-6)


def test_without_calibration_every_target_is_refused(tmp_path):
    path = write_session(tmp_path, calibration={"auto_in_simulation": False})
    with Session.open(path) as s:
        assert s.calibration is None
        assert "no calibration" in s.check_target(10, 10)
        with pytest.raises(TargetRefused, match="no calibration"):
            s.apply([Target(10, 10)])
        assert n_patterns(s) == 0
    assert not (tmp_path / "calibration.yaml").exists()


def test_compute_then_show_and_listeners(session_file):
    with Session.open(session_file) as s:
        seen, frames = [], []
        s.add_listener("result", seen.append)
        remove = s.add_listener("frame", frames.append)
        res = s.compute([in_field(s, (30, 30))])
        assert res.frame is None and res.record is None and n_patterns(s) == 0 and not seen and not frames
        shown = s.show(res)
        assert shown is res and seen == [res]
        assert frames == [res.frame_record] and frames[0].t_swapped == res.t_swapped
        remove()
        s.apply([in_field(s, (31, 30))])
        assert len(frames) == 1 and len(seen) == 2
        assert res.record["type"] == "pattern" and res.record["frame_hash"] == frame_hash(res.frame)
        with pytest.raises(SessionError, match="unknown session event"):
            s.add_listener("frames", print)


def test_interlock_listener_follows_the_slm(session_file):
    with Session.open(session_file) as s:
        states = []
        permitted, refused = threading.Event(), threading.Event()

        def on_interlock(ok, reason):
            states.append((ok, reason))
            (permitted if ok else refused).set()

        s.add_listener("interlock", on_interlock)
        s.apply([in_field(s, (30, 30))])
        # Events, not a time bound: the watchdog thread reports when it runs (timeouts only stop a hang).
        assert permitted.wait(30) and states[-1][0] is True
        refused.clear()
        s.slm.set_visible(False)
        assert refused.wait(30)
        assert states[-1][0] is False and "hidden" in states[-1][1]
        assert s.laser_permitted is False


def test_apply_is_thread_safe(session_file):
    with Session.open(session_file) as s:
        targets = [[in_field(s, (20 + 3 * i, 30 + 2 * i))] for i in range(8)]
        errors = []

        def worker(chunk):
            try:
                for t in chunk:
                    s.apply(t)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(targets[i::2],)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        path = s.log.path
    records = patterns_in(path)
    assert len(records) == 8 and all(a["seq"] < b["seq"] for a, b in zip(records, records[1:], strict=False))
    assert len({r["frame_hash"] for r in records}) == 8


def test_save_round_trips_with_the_current_targets(session_file, tmp_path):
    with Session.open(session_file) as s:
        s.apply([in_field(s, (30, 30)), in_field(s, (90, 40))])
        out = s.save(tmp_path / "saved" / "again.yaml")
        current = s.targets
    again = load_config(out)
    assert [(t.x, t.y, t.weight, t.group) for t in again.targets] == [
        (t.x, t.y, t.weight, t.group) for t in current
    ]
    original = load_config(session_file)
    assert again.model_copy(update={"targets": []}) == original
    with Session.open(out) as s2:
        assert s2.targets == current


def test_open_closes_everything_when_a_step_fails(session_file, monkeypatch):
    from holostim.hardware import slm as slm_module

    closed = []
    real_close = slm_module.SimulatedSLM.close
    monkeypatch.setattr(
        slm_module.SimulatedSLM, "close", lambda self: (closed.append(self), real_close(self))
    )

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("holostim.eventlog.EventLog.create", fail)
    with pytest.raises(OSError, match="disk full"):
        Session.open(session_file)
    assert len(closed) == 1 and closed[0].closed


def test_stale_simulated_calibration_is_measured_again(calibrated, tmp_path):
    shutil.copy(calibrated / "calibration.yaml", tmp_path / "calibration.yaml")
    path = write_session(tmp_path, simulation={"ground_truth": {"rotation_deg": -25.0, "mirror": True}})
    with Session.open(path) as s:
        assert_matches_truth(s.calibration.matrix, s.camera.true_camera_to_slm, s.camera.shape)
    # A real rig never recalibrates silently: a calibration for other devices is an error, found when the
    # session is validated (check-config says it too), before any device opens.
    path = write_session(tmp_path, slm={"shape": [N, 2 * N]}, calibration={"auto_in_simulation": False})
    with pytest.raises(ConfigError, match="calibration.file: .*SLM shape.*holostim calibrate"):
        Session.open(path)


def test_calibrate_installs_and_saves(session_file, tmp_path):
    with Session.open(session_file) as s:
        steps = []
        cal = s.calibrate(grid=3, progress=lambda done, total, what: steps.append((done, total)))
        assert s.calibration is cal
        assert steps and steps[-1][0] == steps[-1][1]
        out = s.save_calibration(cal, tmp_path / "new-cal.yaml")
        assert out.is_file()
        assert s.save_calibration(cal) == tmp_path / "calibration.yaml"
        log_path = s.log.path
    records = [r for r in read(log_path).records if r["type"] in ("pattern", "frame", "calibration")]
    # background, three reference spots, the grid: each frame logged; then the SLM shows again what it
    # showed before (nothing: a flat phase, laser blocked), then the new calibration
    assert [(r["type"], r.get("kind")) for r in records] == [("frame", "calibration")] * 5 + [
        ("pattern", "pattern"), ("calibration", None)]


def test_no_targets_shows_a_flat_phase_and_logs_it(session_file):
    with Session.open(session_file) as s:
        res = s.apply([])
        assert res.targets == [] and res.method == "none" and not res.phase.any()
        assert res.record["targets"] == [] and res.record["metrics"]["efficiency"] is None
        assert res.record["frame_hash"] == frame_hash(s.slm.frames[-1].frame)
        assert s.targets == []


def test_closed_session_refuses_work(session_file):
    s = Session.open(session_file)
    s.close()
    s.close()  # twice is fine
    assert s.closed and s.log.closed and s.slm.closed
    with pytest.raises(SessionError, match="closed"):
        s.apply([Target(10, 10)])


def opengl_rig(folder: Path, qapp) -> Path:
    """A real-rig session: the OpenGL SLM (windowed, on the Xvfb screen) and a replay camera."""
    import tifffile

    from holostim.calibration import Calibration

    folder.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / "camera.tif", np.full((2, 96, 128), 100, np.uint16))
    Calibration(matrix=np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 10.0]]), slm_shape=(N, N),
                camera_shape=(96, 128), residual_px=0.1).save(folder / "calibration.yaml")
    g = qapp.primaryScreen().geometry()
    data = {
        "slm": {"backend": "opengl", "screen": f"{g.width()}x{g.height()}+{g.x()}+{g.y()}",
                "fullscreen": False, "shape": [N, N]},
        "camera": {"backend": "replay", "path": "camera.tif", "fps": 20},
        "calibration": {"file": "calibration.yaml"},
        "log": {"directory": "logs"},
    }
    (folder / "rig.yaml").write_text(yaml.safe_dump(data))
    return folder / "rig.yaml"


@pytest.mark.gui
def test_opengl_session_logs_the_bytes_opengl_drew(qapp, tmp_path):
    pytest.importorskip("PyQt6.QtOpenGL")
    from holostim.hardware.slm.opengl.qt_loop import run_beside_qt_events

    with Session.open(opengl_rig(tmp_path, qapp)) as s:
        assert s.slm.wait_ready(10.0)
        # The GUI's way: apply on a worker thread while the GUI thread runs the event loop.
        res = run_beside_qt_events(lambda: s.apply([Target(40.0, 30.0), Target(90.0, 80.0)]))
        assert res.t_swapped is not None and res.click_to_swap_ms > 0
        drawn = s.slm.read_back()
        log_path = s.log.path
    rec = patterns_in(log_path)[0]
    assert rec["frame_hash"] == frame_hash(drawn) == frame_hash(res.frame)
    assert rec["time"]["swapped_mono"] == res.t_swapped
    np.testing.assert_allclose([t["slm_px"] for t in rec["targets"]], [[40, 40], [90, 90]])


def test_warm_start_rules_as_a_unit():
    from holostim.session.warm_start import WarmStart

    w = WarmStart(enabled=True, max_shift_px=2.0)
    xy = np.array([[10.0, 10.0], [20.0, 5.0]])
    assert not w.ok(xy)  # nothing computed yet
    w.remember(xy, 0.8)
    assert w.ok(xy + [[2.0, 0.0], [0.0, -1.0]])  # the largest move is exactly the limit
    assert not w.ok(xy + [[1.5, 1.5], [0.0, 0.0]])  # √4.5 px > 2 px
    assert not w.ok(xy[:1])  # another number of spots
    assert w.failed(0.39) and not w.failed(0.4) and not w.failed(float("nan")) and not w.failed(None)
    w.forget()
    assert not w.ok(xy) and not w.failed(0.0)
    assert not WarmStart(enabled=False, max_shift_px=2.0).ok(xy)


def test_a_broken_listener_does_not_stop_the_others():
    from holostim.session.listeners import Listeners

    bus = Listeners(("a",), error=SessionError)
    seen = []
    bus.add("a", lambda v: 1 / 0)
    remove = bus.add("a", seen.append)
    bus.emit("a", 1)
    remove()
    remove()  # twice is fine
    bus.emit("a", 2)
    assert seen == [1]
    with pytest.raises(SessionError, match="unknown session event 'b'; use one of a"):
        bus.add("b", print)


def test_saved_session_keeps_target_ids(tmp_path):
    from holostim.config import SessionConfig, load_config

    cfg = SessionConfig(calibration={"file": None, "auto_in_simulation": False},
                        log={"directory": str(tmp_path / "logs")})
    with Session(cfg) as s:
        s.targets = [Target(10.0, 20.0, 1.0, 0, id=7), Target(30.0, 40.0, 2.0, 1, id=None)]
        path = s.save(tmp_path / "s.yaml")
    again = load_config(path)
    assert [(t.x, t.id) for t in again.targets] == [(10.0, 7), (30.0, None)]
    with Session(again) as reopened:
        assert [t.id for t in reopened.targets] == [7, None]
