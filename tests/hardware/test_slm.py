"""The SLM base: fused phase -> gray kernels against the reference, load/display, config, no Qt."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from slm_helpers import ASSETS

from holostim.hardware.slm import SLM, SimulatedSLM, SLMError, SLMProtocol, phase_to_gray_reference


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


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
        "qt = {'opengl'}\n"
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
    code = "import sys, holostim.hardware.slm.opengl.window\nprint('PyQt6' in sys.modules)\n"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "True"
