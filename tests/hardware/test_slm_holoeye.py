"""The Holoeye SLM Display SDK binding against a C stand-in of its C API (the SDK is not installable).

The stand-in (``slm/standins/heds.c``) has the SDK's documented signatures and records every call and
argument: what holostim calls, with which arguments, the bytes it shows, and every error path.
"""

from __future__ import annotations

import numpy as np
import pytest
from slm_standins import Recorder, build

from holostim.hardware.registry import backend_class
from holostim.hardware.slm.errors import SLMError
from holostim.hardware.slm.holoeye import HoloeyeSLM
from holostim.hardware.slm.vendor import SDKError


@pytest.fixture
def heds(tmp_path):
    path = build(tmp_path, "heds.c", "holoeye_slmdisplaysdk.so")
    return path, Recorder(path)


def test_open_show_and_close_make_the_documented_calls(heds, tmp_path):
    path, rec = heds
    wf = tmp_path / "wavefront.h5"
    wf.write_bytes(b"h5")
    slm = HoloeyeSLM(None, None, 1.064, sdk_path=path.parent, wavefront_file=wf, two_pi_gray=256)
    assert slm.shape == (48, 64) and slm.pitch_um == 8.0 and slm.refresh_hz == 60.0
    assert rec.calls() == [
        "heds_requires_version api=3 messagebox=0", "heds_slm_init api=1 apiname=holostim",
        "heds_slm_height_px", "heds_slm_width_px", "heds_slm_pixelsize_um", "heds_slm_refreshrate_hz",
        f"heds_slm_wavefrontcompensation_load_utf8 file={wf} wavelength_nm=1064.000 flags=0 shift=0,0",
    ]
    rec.clear()
    frame = np.random.default_rng(1).integers(0, 256, (48, 64)).astype(np.uint8)
    r = slm.show_gray(frame)
    assert rec.calls() == ["heds_show_data_grayscale_uchar width=64 height=48 pitch=0 flags=1"]
    assert np.array_equal(rec.image(), frame.ravel()) and r.t_swapped is not None and slm.laser_permitted
    assert slm.describe()["device_flatness"].startswith("Holoeye wavefront")
    slm.close()
    assert rec.names()[-1] == "heds_slm_close" and not slm.laser_permitted


def test_errors_are_one_line_with_the_sdks_text(heds, tmp_path):
    path, rec = heds
    slm = HoloeyeSLM((48, 64), 8.0, 1.064, sdk_path=path)
    rec.fail("heds_show_data_grayscale_uchar", 9)
    with pytest.raises(SDKError, match=r"heds_show_data_grayscale_uchar failed \(error 9: The renderer had"):
        slm.show_gray(np.zeros((48, 64), np.uint8))
    assert "display fault" in slm.interlock_state()[1]
    slm.close()
    rec.fail("heds_slm_init", 1)
    with pytest.raises(SDKError, match="heds_slm_init .*failed .error 1: The given SLM instance does not"):
        HoloeyeSLM(None, None, sdk_path=path)
    rec.fail("heds_slm_wavefrontcompensation_load_utf8", 3)
    wf = tmp_path / "w.h5"
    wf.write_bytes(b"")
    with pytest.raises(SDKError, match="loading the wavefront file .*error 3"):
        HoloeyeSLM(None, None, sdk_path=path, wavefront_file=wf)
    assert rec.names()[-1] == "heds_slm_close"  # a failed open closes the SDK again
    rec.fail("", 0)
    with pytest.raises(SLMError, match=r"pixel pitch is 8 µm but slm.pitch_um is 9.2; set slm.pitch_um to 8"):
        HoloeyeSLM(None, 9.2, sdk_path=path)
    with pytest.raises(SLMError, match=r"set slm.shape to \[48, 64\]"):
        HoloeyeSLM((1080, 1920), None, sdk_path=path)
    with pytest.raises(SLMError, match="already applies its own flatness .*remove slm.flatness"):
        HoloeyeSLM(None, None, sdk_path=path, wavefront_file=wf, flatness=np.zeros((48, 64), np.uint8))
    rec.lib.standin_geometry(64, 48, 2, 800, 0)
    with pytest.raises(SDKError, match="does not provide API version 3"):
        HoloeyeSLM(None, None, sdk_path=path)
    with pytest.raises(SDKError, match="HOLOEYE SLM Display SDK: no holoeye_slmdisplaysdk.dll"):
        HoloeyeSLM(None, None, sdk_path=tmp_path / "..")


def test_phase_through_the_base_pipeline(heds):
    path, rec = heds
    slm = HoloeyeSLM(None, None, 1.064, sdk_path=path, two_pi_gray=256)
    slm.show_phase(np.full((48, 64), np.pi / 2, np.float32))
    assert np.all(rec.image() == 64)
    slm.close()


def test_registry_names_the_backend():
    assert backend_class("slm", "holoeye") is HoloeyeSLM
