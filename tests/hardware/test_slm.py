"""The phase -> gray pipeline, LUT files, corrections, SimulatedSLM settle model and interlock (no Qt)."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from holostim.errors import HolostimError
from holostim.hardware.slm import (
    LUT,
    SLM,
    LUTError,
    SimulatedSLM,
    SLMError,
    SLMFileError,
    SLMProtocol,
    load_flatness,
    load_lut,
    phase_to_gray_reference,
)

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "slm"
TWO_PI = 2 * math.pi


def ref_gray(total_phase: np.ndarray, levels: float, table: np.ndarray | None = None):
    """Independent float64 computation: nearest of ``levels`` steps per 2π, 2π ≡ 0, optional LUT.

    Returns (gray, ambiguous) where ambiguous marks pixels within 1e-3 level of a rounding boundary
    (float32 arithmetic in the kernel may round those either way).
    """
    t = np.mod(np.asarray(total_phase, np.float64), TWO_PI) / TWO_PI * levels
    k = np.floor(t + 0.5)
    frac = t + 0.5 - k
    ambiguous = (frac < 1e-3) | (frac > 1 - 1e-3)
    k = k.astype(np.int64)
    k[k >= levels] = 0
    gray = k if table is None else np.asarray(table)[k]
    return gray.astype(np.uint8), ambiguous


def assert_frame(frame, expected, ambiguous):
    assert frame.dtype == np.uint8 and frame.shape == expected.shape
    bad = (frame != expected) & ~ambiguous
    assert not bad.any(), f"{bad.sum()} pixels differ, e.g. at {np.argwhere(bad)[:3].tolist()}"
    assert ambiguous.mean() < 0.01


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_two_pi_gray_linear_matches_reference(rng):
    slm = SimulatedSLM((64, 96), 8.0, 1.064, two_pi_gray=200)
    phase = rng.uniform(-20, 20, (64, 96)).astype(np.float32)
    frame = slm.phase_to_gray(phase)
    exp, amb = ref_gray(phase, 200)
    assert_frame(frame, exp, amb)
    assert frame.max() <= 199


def test_exact_levels_and_wrap():
    slm = SimulatedSLM((2, 4), 8.0, 1.064, two_pi_gray=256)
    phase = np.array(
        [
            [0.0, math.pi, TWO_PI, -math.pi / 2],
            [TWO_PI * 10 / 256, TWO_PI * 255.6 / 256, 4 * math.pi, TWO_PI * 255.4 / 256],
        ],
        np.float32,
    )
    assert slm.phase_to_gray(phase).tolist() == [[0, 128, 0, 192], [10, 0, 0, 255]]


def test_wavelength_scaling_of_two_pi_gray(rng):
    # 2π at gray 120 at 532 nm -> 240 at 1064 nm (retardance ∝ 1/λ)
    slm = SimulatedSLM((32, 32), 8.0, 1.064, two_pi_gray=120, two_pi_gray_wavelength_um=0.532)
    assert slm.two_pi_gray == pytest.approx(240.0)
    phase = rng.uniform(0, TWO_PI, (32, 32)).astype(np.float32)
    exp, amb = ref_gray(phase, 240)
    assert_frame(slm.phase_to_gray(phase), exp, amb)
    with pytest.raises(SLMError, match="cannot reach 2π"):
        SimulatedSLM((8, 8), 8.0, 1.064, two_pi_gray=200, two_pi_gray_wavelength_um=0.532)


def test_non_integer_two_pi_gray(rng):
    slm = SimulatedSLM((40, 40), 8.0, 1.064, two_pi_gray=212.6)
    phase = rng.uniform(0, TWO_PI, (40, 40)).astype(np.float32)
    t = phase.astype(np.float64) / TWO_PI * 212.6
    k = np.floor(t + 0.5)
    k[k >= 212.6] = 0  # 213 steps would be 2π+: that is 0
    amb = np.abs(t + 0.5 - np.round(t + 0.5)) < 1e-3
    assert_frame(slm.phase_to_gray(phase), k.astype(np.uint8), amb)


def test_per_wavelength_two_pi_gray_and_missing_wavelength():
    slm = SimulatedSLM((8, 8), 8.0, 0.920, two_pi_gray={1.064: 230, 0.920: 205})
    assert slm.two_pi_gray == 205
    with pytest.raises(SLMError, match=r"working wavelength 0.8 µm.*1.064, 0.92"):
        SimulatedSLM((8, 8), 8.0, 0.8, two_pi_gray={1.064: 230, 0.920: 205})


def test_vendor_lut_file_maps_levels(rng):
    lut = load_lut(ASSETS / "example-1064nm.lut")
    raw = np.loadtxt(ASSETS / "example-1064nm.lut", comments="#")
    assert np.array_equal(lut.gray, raw[:, 1].astype(np.uint8))
    slm = SimulatedSLM((48, 48), 8.0, 1.064, lut=ASSETS / "example-1064nm.lut")
    phase = rng.uniform(-10, 10, (48, 48)).astype(np.float32)
    exp, amb = ref_gray(phase, 256, raw[:, 1])
    assert_frame(slm.phase_to_gray(phase), exp, amb)


def test_csv_lut_and_per_wavelength_lut(rng):
    lut = load_lut(ASSETS / "example-1040nm.csv")
    raw = np.loadtxt(ASSETS / "example-1040nm.csv", delimiter=",", skiprows=1)
    assert np.array_equal(lut.gray, raw[:, 1])
    slm = SimulatedSLM(
        (16, 16), 8.0, 1.040, lut={1.064: ASSETS / "example-1064nm.lut", 1.040: ASSETS / "example-1040nm.csv"}
    )
    phase = rng.uniform(0, TWO_PI, (16, 16)).astype(np.float32)
    exp, amb = ref_gray(phase, 256, raw[:, 1])
    assert_frame(slm.phase_to_gray(phase), exp, amb)
    with pytest.raises(SLMError, match="not rescaled"):
        SimulatedSLM((16, 16), 8.0, 1.040, lut=LUT(raw[:, 1], wavelength_um=1.064))


def test_single_column_lut(tmp_path):
    p = tmp_path / "one.txt"
    p.write_text("\n".join(str(i // 2) for i in range(256)))
    assert load_lut(p).gray.tolist() == [i // 2 for i in range(256)]


@pytest.mark.parametrize(
    ("text", "exc", "match"),
    [
        ("\n".join(f"{i} {i}" for i in range(255)), LUTError, "has 255 entries.*exactly 256"),
        (
            "\n".join(f"{i} {i if i != 100 else 90}" for i in range(256)),
            LUTError,
            "not monotonic: level 99 -> gray 99 but level 100 -> gray 90",
        ),
        ("\n".join(f"{i} {4 * i}" for i in range(256)), LUTError, "span 0..1020"),
        ("\n".join(f"{(i + 1) % 256} {i}" for i in range(256)), LUTError, "levels 0..255 in order"),
        ("0 1\n1 2\nx y\n", LUTError, "line 3"),
        ("0 1 2\n1 2 3\n", LUTError, "rows of"),
        ("", LUTError, "holds no numbers"),
    ],
)
def test_lut_errors(tmp_path, text, exc, match):
    p = tmp_path / "bad.lut"
    p.write_text(text)
    with pytest.raises(exc, match=match) as info:
        load_lut(p)
    assert isinstance(info.value, HolostimError) and isinstance(info.value, ValueError)
    assert str(p) in str(info.value)


def test_lut_unreadable_and_missing(tmp_path):
    with pytest.raises(SLMFileError, match="does not exist"):
        load_lut(tmp_path / "nope.lut")
    p = tmp_path / "bin.lut"
    p.write_bytes(b"\xff\xfe\x00\x81" * 100)
    with pytest.raises(SLMFileError, match="cannot be read"):
        load_lut(p)
    with pytest.raises(SLMError, match="not both"):
        SimulatedSLM((8, 8), 8.0, 1.064, two_pi_gray=255, lut=ASSETS / "example-1064nm.lut")


def test_flatness_correction_rescaled_from_design_wavelength(tmp_path, rng):
    flat = rng.integers(0, 256, (24, 40), dtype=np.uint8)
    path = tmp_path / "flat.bmp"
    Image.fromarray(flat, mode="L").save(path)
    assert np.array_equal(load_flatness(path), flat)
    slm = SimulatedSLM((24, 40), 8.0, 1.064, two_pi_gray=220, flatness=path, flatness_wavelength_um=0.8)
    phase = rng.uniform(0, TWO_PI, (24, 40)).astype(np.float32)
    total = phase.astype(np.float64) + TWO_PI * flat / 256.0 * (0.8 / 1.064)
    exp, amb = ref_gray(total, 220)
    assert_frame(slm.phase_to_gray(phase), exp, amb)


def test_flatness_errors(tmp_path):
    with pytest.raises(SLMError, match="is 256x256.*SLM is 128x128"):
        SimulatedSLM((128, 128), 8.0, 1.064, flatness=ASSETS / "example-flatness-256x256-1064nm.bmp")
    with pytest.raises(SLMFileError, match="does not exist"):
        SimulatedSLM((8, 8), 8.0, 1.064, flatness=tmp_path / "missing.bmp")
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 5
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "c.png")
    with pytest.raises(SLMError, match="colour image"):
        load_flatness(tmp_path / "c.png")
    assert load_flatness(ASSETS / "example-flatness-256x256-1064nm.bmp").shape == (256, 256)


def test_blaze_moves_far_field_by_expected_pixels():
    n = 64
    slm = SimulatedSLM((n, n), 8.0, 1.064, two_pi_gray=256, blaze=(8 / n, -5 / n))
    frame = slm.phase_to_gray(np.zeros((n, n), np.float32))
    field = np.exp(1j * TWO_PI * frame / 256.0)
    far = np.abs(np.fft.fftshift(np.fft.fft2(field))) ** 2
    iy, ix = np.unravel_index(np.argmax(far), far.shape)
    assert (ix - n // 2, iy - n // 2) == (8, -5)
    assert far.max() / far.sum() > 0.95  # 256 levels: nearly all power in the first order
    # and the gray values themselves: 2π (gx x + gy y) on centred pixel coordinates
    y, x = np.indices((n, n))
    exp, amb = ref_gray(TWO_PI * (8 / n * (x - n // 2) - 5 / n * (y - n // 2)), 256)
    assert_frame(frame, exp, amb)


def test_fresnel_lens_offset():
    slm = SimulatedSLM((32, 48), 9.2, 1.064, two_pi_gray=256, fresnel_focal_um=5e5)
    y, x = np.indices((32, 48))
    r2 = ((x - 24) * 9.2) ** 2 + ((y - 16) * 9.2) ** 2
    expected = np.mod(-math.pi * r2 / (1.064 * 5e5), TWO_PI)
    corr = slm.correction_phase.astype(np.float64)
    d = np.angle(np.exp(1j * (corr - expected)))
    assert np.abs(d).max() < 1e-5


def test_zernike_correction_defocus():
    n = 64
    slm = SimulatedSLM((n, n), 10.0, 1.064, zernike={4: 1.5})
    y, x = np.indices((n, n))
    rho2 = ((x - n // 2) ** 2 + (y - n // 2) ** 2) / (n / 2) ** 2
    expected = np.where(rho2 <= 1, 1.5 * math.sqrt(3) * (2 * rho2 - 1), 0.0)  # ANSI j=4: √3 (2ρ² - 1)
    d = np.angle(np.exp(1j * (slm.correction_phase - expected)))
    assert np.abs(d).max() < 1e-5
    slm.set_corrections(zernike=None)
    assert np.all(slm.correction_phase == 0)


def test_fast_kernel_equals_reference_on_random_input(rng):
    slm = SimulatedSLM((33, 70), 8.0, 1.064, two_pi_gray=237.3, blaze=(0.013, 0.2), fresnel_focal_um=-3e5)
    phase = rng.normal(0, 30, (33, 70))  # float64 input, large and negative values
    got = slm.phase_to_gray(phase)
    want = phase_to_gray_reference(
        phase.astype(np.float32) + slm.correction_phase, slm._scale, slm._period, slm._table
    )
    assert np.count_nonzero(got != want) <= 2  # float32 vs float64 rounding exactly at a boundary
    for threads in (1, 2):  # serial and parallel runs of the kernel give the same bytes
        slm.kernel_threads = threads
        assert np.array_equal(slm.phase_to_gray(phase), got)


def test_bad_phase_input():
    slm = SimulatedSLM((8, 8), 8.0, 1.064)
    with pytest.raises(SLMError, match=r"shape \(8, 9\).*\(8, 8\)"):
        slm.show_phase(np.zeros((8, 9)))
    bad = np.zeros((8, 8), np.float32)
    bad[2, 3] = np.nan
    bad[0, 0] = np.inf
    with pytest.raises(SLMError, match="2 non-finite"):
        slm.show_phase(bad)
    assert slm.last_record is None
    with pytest.raises(SLMError):
        SimulatedSLM((8, 8), -1.0, 1.064)
    with pytest.raises(SLMError, match="pair"):
        SimulatedSLM((8, 8), 8.0, 1.064, blaze=3)


def test_load_then_display_and_timestamps():
    slm = SimulatedSLM((16, 16), 8.0, 1.064)
    rec = slm.load(np.full((16, 16), math.pi, np.float32))
    assert slm.last_record is None and len(slm.frames) == 0  # loaded, not shown
    assert rec.t_uploaded is None and rec.t_swapped is None
    shown = slm.display()
    assert shown is rec and slm.last_frame is rec.frame
    assert rec.t_request <= rec.t_loaded <= rec.t_uploaded <= rec.t_swapped
    assert abs(rec.wall_request - time.time()) < 5
    assert rec.wait_swapped(0) and set(rec.timings_ms()) == {"load_ms", "upload_ms", "swap_ms"}
    assert np.all(rec.frame == 128)
    with pytest.raises(SLMError, match="nothing loaded"):
        slm.display()
    seen = []
    slm.add_frame_listener(seen.append)
    r2 = slm.show_gray(np.zeros((16, 16), np.uint8))
    assert seen == [r2] and r2.index == rec.index + 1


def test_simulated_settle_model():
    tau_ms = 20.0
    slm = SimulatedSLM((8, 8), 8.0, 1.064, two_pi_gray=200, tau_ms=tau_ms)
    a = slm.show_gray(np.full((8, 8), 100, np.uint8))
    phase_a = TWO_PI * 100 / 200
    t = a.t_swapped
    # from gray 0 towards gray 100
    for dt in (0.0, 0.005, 0.02, 0.1):
        want = phase_a * (1 - math.exp(-dt / (tau_ms / 1e3)))
        assert slm.displayed_phase(t + dt) == pytest.approx(np.full((8, 8), want), abs=1e-5)
    # a second frame 10 ms later, from the partly settled state towards gray 40
    b = slm.show_gray(np.full((8, 8), 40, np.uint8))
    b.t_swapped = t + 0.010  # pin the time for an exact check
    s_b = phase_a * (1 - math.exp(-0.5))
    phase_b = TWO_PI * 40 / 200
    for dt in (0.0, 0.01, 0.05):
        want = phase_b + (s_b - phase_b) * math.exp(-dt / 0.02)
        assert slm.displayed_phase(b.t_swapped + dt)[3, 3] == pytest.approx(want, abs=1e-5)
    assert slm.displayed_phase(t - 1.0)[0, 0] == 0.0  # before the first frame: gray 0
    assert slm.displayed_phase().dtype == np.float32


def test_simulated_round_trip_through_lut_and_flatness(rng):
    """With tau 0, the displayed phase is the asked phase (mod 2π) to within LUT quantisation."""
    flat = ASSETS / "example-flatness-256x256-1064nm.bmp"
    slm = SimulatedSLM((256, 256), 9.2, 1.064, lut=ASSETS / "example-1064nm.lut", flatness=flat, tau_ms=0)
    phase = rng.uniform(0, TWO_PI, (256, 256)).astype(np.float32)
    slm.show_phase(phase)
    shown = slm.displayed_phase()
    err = np.angle(np.exp(1j * (shown.astype(np.float64) - phase)))
    # one LUT step (2π/256) plus the flatness file's own 8-bit steps; the correction is exactly undone
    assert np.abs(err).max() < 1.5 * TWO_PI / 256 + 1e-3
    assert np.sqrt(np.mean(err**2)) < TWO_PI / 256
    # a panel whose error is not corrected shows it
    bare = SimulatedSLM(
        (256, 256), 9.2, 1.064, lut=ASSETS / "example-1064nm.lut", tau_ms=0, panel_error=slm.panel_error
    )
    bare.show_phase(phase)
    err2 = np.angle(np.exp(1j * (bare.displayed_phase().astype(np.float64) - phase)))
    assert np.sqrt(np.mean(err2**2)) > 0.5


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_simulated_interlock_listeners():
    clock = FakeClock()
    slm = SimulatedSLM((8, 8), 8.0, 1.064, stale_ms=60, clock=clock)
    events = []
    cond = threading.Condition()

    def listener(ok, reason):
        with cond:
            events.append((clock(), ok, reason))
            cond.notify_all()

    def wait_for(ok):
        with cond:  # the watchdog thread reports; the timeout only bounds a broken test
            assert cond.wait_for(lambda: events and events[-1][1] == ok, 10.0), events
        return events[-1]

    slm.add_interlock_listener(listener)
    assert events[0][1] is False and "no frame" in events[0][2]
    slm.show_phase(np.zeros((8, 8), np.float32))
    wait_for(True)
    assert slm.laser_permitted and slm.interlock_reason == ""
    slm.set_visible(False)
    assert "hidden" in wait_for(False)[2]
    slm.set_visible(True)
    wait_for(True)
    t_stall = clock()
    slm.set_stalled(True)
    # the stale deadline is exact: on up to 60 ms after the last swap, off after it
    assert slm.interlock_state(now=t_stall + 0.060) == (True, "")
    ok, reason = slm.interlock_state(now=t_stall + 0.0601)
    assert not ok and "stalled" in reason and "limit 60 ms" in reason
    clock.t = t_stall + 0.059
    assert slm.laser_permitted
    with cond:
        n = len(events)
    clock.t = t_stall + 0.061  # nothing else happens: the watchdog must notice the deadline by itself
    t_off, _, reason = wait_for(False)
    assert "stalled" in reason and t_off == t_stall + 0.061
    assert [e[1] for e in events[n - 1 :]] == [True, False]  # no spurious flip on the way
    slm.set_stalled(False)
    wait_for(True)
    slm.close()
    assert "closed" in wait_for(False)[2]
    assert not slm.laser_permitted


def test_stale_frames_in_frame_periods():
    slm = SimulatedSLM((8, 8), 8.0, 1.064, refresh_hz=100, stale_frames=4)
    assert slm.stale_s == pytest.approx(0.04)


def test_kwargs_from_the_session_config():
    """The session's slm section (``SLMConfig.slm_kwargs``) builds the SLM; a LUT replaces two_pi_gray."""
    from holostim.config import parse_config

    text = (
        "version: 1\n"
        "slm: {shape: [16, 32], pitch_um: 8.0, wavelength_um: 1.064, lut: example-1064nm.lut,\n"
        "      zernike: {4: 0.1}, blaze: [0.1, 0.0]}\n"
        "safety: {interlock_frames: 2}\n"
    )
    cfg = parse_config(text, base_dir=ASSETS)
    kw = cfg.slm.slm_kwargs(cfg.safety)
    assert Path(kw["lut"]) == ASSETS / "example-1064nm.lut" and "two_pi_gray" not in kw
    slm = SimulatedSLM(**kw)
    assert slm.shape == (16, 32) and slm.lut is not None and slm.stale_frames == 2
    assert slm.zernike == {4: 0.1} and slm.blaze == (0.1, 0.0)
    assert isinstance(slm, SLM) and isinstance(slm, SLMProtocol)


@pytest.mark.gpu
def test_cupy_path_equals_cpu(rng):
    import cupy

    slm = SimulatedSLM((128, 96), 8.0, 1.064, lut=ASSETS / "example-1064nm.lut", blaze=(0.05, 0.01))
    phase = rng.uniform(-7, 7, (128, 96)).astype(np.float32)
    gpu = slm.phase_to_gray(cupy.asarray(phase))
    assert isinstance(gpu, cupy.ndarray) and gpu.dtype == cupy.uint8
    cpu = slm.phase_to_gray(phase)
    assert np.count_nonzero(gpu.get() != cpu) <= 2
    rec = slm.show_phase(cupy.asarray(phase))
    assert isinstance(rec.frame, np.ndarray)
    bad = cupy.asarray(phase)
    bad[0, 0] = cupy.nan
    with pytest.raises(SLMError, match="non-finite"):
        slm.show_phase(bad)


def test_slm_package_imports_no_qt():
    """The Qt-free SLM modules load and run without importing Qt or OpenGL (only window, screens, check may).

    Qt is *not* blocked here, so an import of PyQt6 anywhere in these modules would show in ``sys.modules``.
    """
    import subprocess
    import sys

    code = (
        "import importlib, pkgutil, sys\n"
        "import numpy as np\n"
        "import holostim.hardware.slm as pkg\n"
        "qt = {'window', 'screens', 'check'}\n"
        "mods = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name not in qt]\n"
        "for m in mods:\n"
        "    importlib.import_module('holostim.hardware.slm.' + m)\n"
        "s = pkg.SimulatedSLM((8, 8), 8.0, 1.064)\n"
        "s.show_phase(np.zeros((8, 8), np.float32))\n"
        "assert s.laser_permitted\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'OpenGL'))\n"
        "print(len(mods), leaked)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    n, leaked = p.stdout.split(" ", 1)
    assert int(n) >= 8, p.stdout  # base, corrections, errors, gray, interlock, lut, patterns, simulated, ...
    assert leaked.strip() == "[]", leaked


def test_qt_modules_do_import_qt():
    """The counterpart: the window modules really use Qt, so the check above would see a leak."""
    import subprocess
    import sys

    pytest.importorskip("PyQt6.QtOpenGL")
    code = "import sys, holostim.hardware.slm.window\nprint('PyQt6' in sys.modules)\n"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "True"


@pytest.mark.parametrize("bad", [0, 0.0, float("inf"), float("nan"), "far", True])
def test_fresnel_focal_length_is_checked_once_for_slm_and_session(bad):
    from holostim.config import ConfigError, parse_config

    with pytest.raises(SLMError, match="must be a non-zero finite length in µm"):
        SimulatedSLM((8, 8), 8.0, 1.064, fresnel_focal_um=bad)
    slm = SimulatedSLM((8, 8), 8.0, 1.064, fresnel_focal_um=2e5)
    with pytest.raises(SLMError, match="must be a non-zero finite length in µm"):
        slm.set_corrections(fresnel_focal_um=bad)
    assert slm.fresnel_focal_um == 2e5  # a refused change leaves the lens as it was
    if isinstance(bad, float):  # YAML can spell these; the session refuses them with the same words
        text = f"version: 1\nslm: {{fresnel_focal_um: {'.nan' if bad != bad else '.inf' if bad else 0}}}\n"
        with pytest.raises(ConfigError, match="must be a non-zero finite length in µm"):
            parse_config(text)
