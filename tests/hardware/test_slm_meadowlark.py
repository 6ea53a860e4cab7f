"""The Meadowlark Blink binding against a C stand-in of ``Blink_C_wrapper`` (the SDK is not installable).

The stand-in (``slm/standins/blink_pcie.c``, ``blink_hdmi.c``) has the SDK's documented signatures and
records every call and argument: these tests prove what holostim calls, with which arguments and
types, the bytes it writes, and that every SDK failure is one clear line and a latched display fault.
"""

from __future__ import annotations

import numpy as np
import pytest
from slm_standins import Recorder, build

from holostim.hardware.registry import backend_class
from holostim.hardware.slm import LUT
from holostim.hardware.slm.errors import SLMError
from holostim.hardware.slm.meadowlark import MeadowlarkSLM
from holostim.hardware.slm.vendor import SDKError


@pytest.fixture
def pcie(tmp_path):
    path = build(tmp_path, "blink_pcie.c", "libBlink_C_wrapper.so")
    return path, Recorder(path)


@pytest.fixture
def hdmi(tmp_path):
    path = build(tmp_path, "blink_hdmi.c", "libBlink_C_wrapper.so")
    return path, Recorder(path)


def test_pcie_open_write_and_close_make_the_documented_calls(pcie, tmp_path):
    path, rec = pcie
    lut = tmp_path / "slm6164_at1064.lut"
    lut.write_text("0 0\n")
    slm = MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path.parent, board=1, lut_file=lut, wait_for_trigger=True,
                        output_pulse=True, trigger_timeout_ms=1234, two_pi_gray=256)
    assert slm.shape == (48, 64) and slm.depth == 8
    assert rec.calls()[:5] == ["Create_SDK", f"Load_LUT_file board=1 file={lut}", "Get_image_height board=1",
                               "Get_image_width board=1", "Get_image_depth board=1"]
    rec.clear()
    frame = (np.arange(48 * 64) % 256).astype(np.uint8).reshape(48, 64)
    r = slm.show_gray(frame)
    assert rec.calls() == [
        "Write_image board=1 wait_for_trigger=1 flip_immediate=0 output_pulse=1 timeout_ms=1234",
        "ImageWriteComplete board=1 timeout_ms=1234",
    ]
    assert np.array_equal(rec.image(), frame.ravel())  # row 0 first, C order, exactly the frame
    assert r.t_swapped is not None and slm.laser_permitted
    assert slm.temperature_c() == 35.5
    slm.close()
    assert rec.names()[-2:] == ["Read_SLM_temperature", "Delete_SDK"] and not slm.laser_permitted


def test_pcie_phase_goes_through_the_base_pipeline(pcie):
    path, rec = pcie
    slm = MeadowlarkSLM((48, 64), 9.2, 1.064, sdk_path=path, two_pi_gray=200)
    phase = np.full((48, 64), np.pi, np.float32)
    slm.show_phase(phase)
    assert np.all(rec.image() == 100)
    slm.close()


@pytest.mark.parametrize("depth", [10, 12, 16])
def test_pcie_deeper_images_are_16_bit_words(pcie, depth):
    path, rec = pcie
    rec.lib.standin_geometry(8, 4, depth, 1, 1)
    slm = MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path)
    frame = np.arange(32, dtype=np.uint8).reshape(4, 8) * 7
    slm.show_gray(frame)
    words = rec.image().view("<u2").reshape(4, 8)
    assert np.array_equal(words, frame.astype(np.uint16) << (depth - 8))
    slm.close()


def test_pcie_twelve_bit_frames_keep_every_level(pcie):
    path, rec = pcie
    rec.lib.standin_geometry(8, 4, 16, 1, 1)
    slm = MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path, bits=12, two_pi_gray=4096)
    frame = (np.arange(32, dtype=np.uint16).reshape(4, 8) * 127) % 4096
    slm.show_gray(frame)
    assert np.array_equal(rec.image().view("<u2").reshape(4, 8), frame << 4)
    slm.close()
    rec.lib.standin_geometry(8, 4, 8, 1, 1)
    shallow = MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path, bits=10, two_pi_gray=1024)
    with pytest.raises(SDKError, match="10-bit frames need an image depth of at least 10"):
        shallow.show_gray(np.zeros((4, 8), np.uint16))
    shallow.close()


def test_sdk_failures_are_one_line_and_latch_a_fault(pcie, tmp_path):
    path, rec = pcie
    slm = MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path)
    slm.show_gray(np.zeros((48, 64), np.uint8))
    assert slm.laser_permitted
    rec.fail("Write_image", 7)
    with pytest.raises(SDKError, match=r"Meadowlark Blink SDK: Write_image failed \(code 7\): DMA transfer"):
        slm.show_gray(np.ones((48, 64), np.uint8))
    ok, why = slm.interlock_state()
    assert not ok and "Write_image failed" in why
    rec.fail("ImageWriteComplete", 3)
    with pytest.raises(SDKError, match="ImageWriteComplete failed.*code 3"):
        slm.show_gray(np.ones((48, 64), np.uint8))
    rec.fail("", 0)
    slm.show_gray(np.ones((48, 64), np.uint8))  # a good write clears the fault
    assert slm.laser_permitted
    slm.close()
    # construction failures
    rec.lib.standin_geometry(64, 48, 8, 1, 0)
    with pytest.raises(SDKError, match="Create_SDK failed.*no Meadowlark board found"):
        MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path)
    assert rec.names()[-1] == "Delete_SDK"  # always deleted
    rec.lib.standin_geometry(64, 48, 8, 1, 1)
    with pytest.raises(SDKError, match="board 2 asked for but 1 found"):
        MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path, board=2)
    lut = tmp_path / "x.lut"
    lut.write_text("0 0\n")
    rec.fail("Load_LUT_file")
    with pytest.raises(SDKError, match="loading the LUT file .*x.lut failed: LUT file format"):
        MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path, lut_file=lut)
    rec.fail("", 0)
    with pytest.raises(SDKError, match="does not exist; fix slm.meadowlark.lut_file"):
        MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path, lut_file=tmp_path / "missing.lut")
    with pytest.raises(SLMError, match=r"reports 48x64 .* set slm.shape to \[48, 64\]"):
        MeadowlarkSLM((512, 512), 9.2, 1.064, sdk_path=path)
    rec.lib.standin_geometry(64, 48, 7, 1, 1)
    with pytest.raises(SDKError, match="image depth 7 bits is not supported"):
        MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path)


def test_a_missing_sdk_is_one_line_naming_it_and_the_key(tmp_path):
    with pytest.raises(SDKError, match="Meadowlark Blink SDK: slm.meadowlark.sdk_path is not set"):
        MeadowlarkSLM(None, sdk_path=None)
    with pytest.raises(SDKError, match=r"Meadowlark Blink SDK: no Blink_C_wrapper.dll / .* in .*; install"):
        MeadowlarkSLM(None, sdk_path=tmp_path)
    with pytest.raises(SDKError, match="does not exist; install the SDK or fix slm.meadowlark.sdk_path"):
        MeadowlarkSLM(None, sdk_path=tmp_path / "Blink_C_wrapper.dll")
    bad = tmp_path / "Blink_C_wrapper.dll"
    bad.write_bytes(b"not a library")
    with pytest.raises(SDKError, match="cannot be loaded"):
        MeadowlarkSLM(None, sdk_path=bad)
    with pytest.raises(SLMError, match="model='usb'"):
        MeadowlarkSLM(None, sdk_path=bad, model="usb")


def test_the_sdks_lut_and_holostims_are_never_both_applied(pcie, tmp_path):
    path, _ = pcie
    lut = tmp_path / "slm.lut"
    lut.write_text("0 0\n")
    with pytest.raises(SLMError, match="already applies its own LUT .*remove slm.lut"):
        MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path, lut_file=lut, lut=LUT(np.arange(256)))
    slm = MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path, lut=LUT(np.arange(256)))  # no hardware LUT: fine
    assert slm.describe()["device_lut"] is None
    slm.close()


def test_hdmi_model_uses_the_hdmi_api(hdmi, tmp_path):
    path, rec = hdmi
    lut = tmp_path / "hdmi.blt"
    lut.write_text("x")
    slm = MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path, model="hdmi", lut_file=lut)
    assert rec.calls()[:5] == ["Create_SDK is_cpp_or_python=1", f"Load_lut file={lut}", "Get_Height",
                               "Get_Width", "Get_Depth"]
    frame = np.random.default_rng(0).integers(0, 256, (48, 64)).astype(np.uint8)
    slm.show_gray(frame)
    assert rec.calls()[-1] == "Write_image is_8_bit=1" and np.array_equal(rec.image(), frame.ravel())
    assert slm.temperature_c() == 29.25
    rec.fail("Write_image")
    with pytest.raises(SDKError, match="Meadowlark Blink SDK: Write_image failed"):
        slm.show_gray(frame)
    slm.close()
    assert rec.names()[-1] == "Delete_SDK"
    rec.fail("", 0)
    rec.lib.standin_geometry(8, 4, 24, 1, 1)
    rgb = MeadowlarkSLM(None, 9.2, 1.064, sdk_path=path, model="hdmi")
    f = np.arange(32, dtype=np.uint8).reshape(4, 8)
    rgb.show_gray(f)
    assert rec.calls()[-1] == "Write_image is_8_bit=0"
    assert np.array_equal(rec.image().reshape(4, 8, 3), np.repeat(f[..., None], 3, axis=2))
    rgb.close()


def test_registry_names_the_backend():
    assert backend_class("slm", "meadowlark") is MeadowlarkSLM
