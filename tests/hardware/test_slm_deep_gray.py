"""10- and 12-bit frames: LUTs of 1024/4096 entries, the RGB encoding, exact OpenGL read-back (Xvfb)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gate_rig import N, open_rig, records

from holostim.config import ConfigError, parse_config
from holostim.eventlog import frame_hash
from holostim.hardware.slm import LUT, SimulatedSLM, gray_ramp, load_lut
from holostim.hardware.slm.errors import LUTError, SLMError
from holostim.hardware.slm.gray import phase_to_gray_reference
from holostim.hardware.slm.opengl.encoding import decode_rgb, encode_rgb

TWO_PI = 2 * math.pi


@pytest.mark.parametrize("bits", [8, 10, 12])
def test_encoding_round_trips_every_value_and_refuses_foreign_images(bits):
    v = np.arange(2**bits, dtype=np.uint8 if bits == 8 else np.uint16).reshape(-1, 2**4)
    rgb = encode_rgb(v, bits)
    assert rgb.dtype == np.uint8 and rgb.shape == v.shape + (3,)
    assert np.array_equal(decode_rgb(rgb, bits), v)
    if bits > 8:
        assert np.array_equal(rgb[..., 0], (v >> (bits - 8)).astype(np.uint8))  # red: the top 8 bits
        bad = rgb.copy()
        bad[0, 0, 2] = 1
        with pytest.raises(ValueError, match="not a"):
            decode_rgb(bad, bits)
    else:
        bad = rgb.copy()
        bad[0, 0, 1] ^= 1
        with pytest.raises(ValueError, match="differ"):
            decode_rgb(bad, bits)


def test_ten_bit_gray_scale_and_lut(tmp_path):
    slm = SimulatedSLM((8, 8), 8.0, 1.064, two_pi_gray=1000, bits=10, tau_ms=0)
    phase = np.random.default_rng(0).uniform(-5, 5, (8, 8)).astype(np.float32)
    frame = slm.phase_to_gray(phase)
    assert frame.dtype == np.uint16 and frame.max() < 1000
    assert np.array_equal(frame, phase_to_gray_reference(phase, 1000 / TWO_PI, 1000.0, slm._table))
    slm.show_phase(phase)
    err = np.angle(np.exp(1j * (slm.displayed_phase().astype(np.float64) - phase)))
    assert np.abs(err).max() <= TWO_PI / 1000 / 2 + 1e-5  # half a 10-bit level
    path = tmp_path / "ten.lut"
    gray = np.round(np.linspace(0, 1023, 1024) ** 1.1 / 1023**0.1).astype(int)
    path.write_text("".join(f"{i} {g}\n" for i, g in enumerate(gray)))
    lut = load_lut(path)
    assert lut.bits == 10 and lut.gray.dtype == np.uint16 and np.array_equal(lut.gray, gray)
    s = SimulatedSLM((8, 8), 8.0, 1.064, lut=path, bits=10, tau_ms=0)
    assert s.phase_to_gray(np.zeros((8, 8), np.float32)).dtype == np.uint16
    with pytest.raises(LUTError, match="0..1023"):
        LUT(np.full(1024, 2000))
    with pytest.raises(LUTError, match="256 .8-bit., 1024 .10-bit. or 4096"):
        LUT(np.arange(512))
    with pytest.raises(SLMError, match="set slm.bits to 10"):
        SimulatedSLM((8, 8), 8.0, 1.064, lut=path)
    with pytest.raises(SLMError, match="a 8-bit panel needs 2..256"):
        SimulatedSLM((8, 8), 8.0, 1.064, two_pi_gray=1000)
    with pytest.raises(SLMError, match=r"frame must be uint16"):
        s.show_gray(np.zeros((8, 8), np.uint8))
    with pytest.raises(SLMError, match="beyond the 10-bit range"):
        s.show_gray(np.full((8, 8), 1024, np.uint16))


def test_session_keys_for_deep_frames():
    cfg = parse_config("slm:\n  bits: 12\n  two_pi_gray: 4000\n", file="s.yaml")
    assert cfg.slm.slm_kwargs()["bits"] == 12 and SimulatedSLM.from_config(cfg.slm).gray_dtype == np.uint16
    with pytest.raises(ConfigError, match="slm.bits"):
        parse_config("slm:\n  bits: 9\n", file="s.yaml")
    with pytest.raises(ConfigError, match="two_pi_gray.*8-bit panel needs 2..256"):
        parse_config("slm:\n  two_pi_gray: 1000\n", file="s.yaml")


@pytest.mark.gui
@pytest.mark.parametrize("bits", [10, 12])
def test_opengl_window_shows_deep_frames_exactly(qapp, bits):
    pytest.importorskip("PyQt6.QtOpenGL")
    from holostim.hardware.slm.opengl.window import OpenGLSLM

    g = qapp.primaryScreen().geometry()
    if qapp.primaryScreen().depth() < 24:
        pytest.skip("the screen is not 24-bit: 8 bits per channel are needed")
    screen = f"{g.width()}x{g.height()}+{g.x()}+{g.y()}"
    n = 2**bits
    slm = OpenGLSLM((64, 67), 8.0, 1.064, screen=screen, fullscreen=False, two_pi_gray=n, bits=bits)
    try:
        assert slm.wait_ready(10.0)
        ramp = (np.arange(64 * 67) % n).astype(np.uint16).reshape(64, 67)  # every value (12 bit: 4288 px)
        for frame in (ramp, ramp[::-1, ::-1].copy()):
            rec = slm.show_gray(frame)
            assert slm.wait_swapped(rec, 5.0)
            back = slm.read_back()
            assert back.dtype == np.uint16 and np.array_equal(back, frame)
        phase = np.random.default_rng(bits).uniform(0, TWO_PI, (64, 67)).astype(np.float32)
        rec = slm.show_phase(phase)
        assert slm.wait_swapped(rec, 5.0) and np.array_equal(slm.read_back(), rec.frame)
    finally:
        slm.close()


def test_a_session_on_a_ten_bit_panel_logs_its_exact_frames(tmp_path):
    with open_rig(tmp_path, slm={"bits": 10, "two_pi_gray": 1000}) as s:
        assert s.slm.bits == 10
        frame = np.full((N, N), 700, np.uint16)
        rec = s.show_test_pattern(frame, "ten-bit")
        assert rec.frame.dtype == np.uint16 and np.array_equal(rec.frame, frame)
        shown = [r for r in records(s) if r.get("frame_hash")]
        assert shown and shown[-1]["frame_hash"] == frame_hash(frame)
    assert frame_hash(frame) != frame_hash(frame.astype(np.uint8))  # the depth is part of the digest


@pytest.mark.gui
def test_slm_check_proves_a_ten_bit_panels_bytes(qapp, capsys):
    pytest.importorskip("PyQt6.QtOpenGL")
    from holostim.hardware.slm.opengl.check import run_slm_check
    from holostim.hardware.slm.opengl.window import OpenGLSLM

    g = qapp.primaryScreen().geometry()
    slm = OpenGLSLM((96, 128), 8.0, 1.064, screen=f"{g.width()}x{g.height()}+{g.x()}+{g.y()}",
                    fullscreen=False, two_pi_gray=1024, bits=10)
    try:
        shown = []

        def show(frame, name):
            shown.append(frame)
            return slm.show_gray(frame)

        assert run_slm_check(slm, show, seconds=0.3) == 0
        ramp8 = gray_ramp((96, 128))
        assert shown[0].dtype == np.uint16 and np.array_equal(shown[0], ramp8.astype(np.uint16) << 2)
        assert capsys.readouterr().out.count("exact") == 3
    finally:
        slm.close()
