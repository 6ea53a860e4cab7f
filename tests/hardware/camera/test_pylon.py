"""The Basler backend against pylon's own camera emulator: real pypylon, real node map, no mock.

pylon reads ``PYLON_CAMEMU`` (how many emulated cameras) at each enumeration, so each test sets it with
``monkeypatch.setenv`` before it opens a camera; the subprocess tests pass it in their environment. The
emulated camera is "Basler Emulation", 1024 × 1040 Mono8 with test images (serials 0815-0000, 0815-0001,
...); it has a software trigger but its lines never fire, and it stamps no timestamps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("pypylon")

from holostim.errors import HolostimError  # noqa: E402 - after the skip: these tests need pypylon
from holostim.hardware.camera import CameraConfigError, CameraError, CameraNotFoundError, open_camera  # noqa: E402
from holostim.hardware.camera.pylon import Axis, PylonCamera, check_step, list_cameras  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
FIRST = "0815-0000"


@pytest.fixture
def one(monkeypatch):
    monkeypatch.setenv("PYLON_CAMEMU", "1")


@pytest.fixture
def two(monkeypatch):
    monkeypatch.setenv("PYLON_CAMEMU", "2")


def test_snap_from_the_only_camera(one):
    with open_camera("pylon") as cam:
        assert isinstance(cam, PylonCamera)
        assert cam.device.serial == FIRST and cam.name == f"basler:Emulation:{FIRST}"
        assert cam.shape == (1040, 1024) and cam.dtype == np.uint8 and cam.bit_depth == 8
        img = cam.snap()
        assert img.shape == (1040, 1024) and img.dtype == np.uint8
        assert img.min() < img.max()  # the emulator's test image, not an empty buffer
        assert cam.node_value("PixelFormat") == "Mono8" and cam.node_value("TriggerMode") == "Off"


def test_streaming_counts_frames_from_the_grab_engine(one):
    with open_camera("pylon", fps=200) as cam:
        assert cam.fps is None  # the camera paces itself: no thread-side pacing
        assert cam.node_value("AcquisitionFrameRate") == pytest.approx(200.0)
        cam.start()
        frames = [cam.wait_frame(0, timeout=10)]
        for _ in range(5):
            frames.append(cam.wait_frame(frames[-1].counter, timeout=10))
        assert all(f is not None for f in frames)
        counters = [f.counter for f in frames]
        stamps = [f.timestamp for f in frames]
        assert counters == sorted(set(counters)) and counters[0] >= 1
        assert stamps == sorted(stamps) and stamps[-1] > stamps[0]
        assert all(f.t_camera is None for f in frames)  # the emulator keeps no camera clock
        assert frames[-1].image.shape == (1040, 1024)
        # A snap while streaming is the next streamed frame (the grab engine is busy streaming).
        before = cam.latest().counter
        assert cam.snap().shape == (1040, 1024) and cam.latest().counter > before
        # Exposure can change while streaming, and the camera says so.
        cam.exposure_ms = 1.5
        assert cam.node_value("ExposureTime") == pytest.approx(1500.0)
        assert cam.wait_frame(cam.latest().counter, timeout=10) is not None
        cam.stop()
        assert not cam.is_streaming and cam.snap().shape == (1040, 1024)  # snapping on its own again


def test_settings_are_applied_and_read_back_from_the_node_map(one):
    with open_camera("pylon", exposure_ms=2.5, gain_db=6.0, roi=[16, 8, 640, 480], binning=2,
                     pixel_format="Mono12") as cam:
        assert cam.node_value("ExposureTime") == pytest.approx(2500.0) and cam.exposure_ms == 2.5
        assert cam.node_value("Gain") == pytest.approx(6.0, abs=1e-3)
        assert cam.roi == (16, 8, 640, 480)
        assert cam.node_value("BinningHorizontal") == cam.node_value("BinningVertical") == 2
        assert cam.node_value("PixelFormat") == "Mono12"
        assert cam.shape == (480, 640) and cam.dtype == np.uint16 and cam.bit_depth == 12
        img = cam.snap()
        assert img.shape == (480, 640) and img.dtype == np.uint16
        assert 255 < int(img.max()) <= 4095  # twelve bits, LSB-aligned


@pytest.mark.parametrize(("fmt", "bits"), [("Mono10", 10), ("Mono16", 16)])
def test_deeper_pixel_formats_keep_their_bits(one, fmt, bits):
    with open_camera("pylon", pixel_format=fmt) as cam:
        img = cam.snap()
        assert cam.bit_depth == bits and img.dtype == np.uint16
        assert 2 ** (bits - 2) < int(img.max()) < 2**bits


def test_several_cameras_need_a_choice_and_a_choice_picks_one(two):
    serials = {d.serial for d in list_cameras()}
    assert serials == {FIRST, "0815-0001"}
    with pytest.raises(CameraConfigError, match=r"^2 Basler cameras found \(.*0815-0000.*0815-0001.*\); "
                                                r"choose one with camera.serial$"):
        open_camera("pylon")
    with pytest.raises(CameraConfigError, match="2 Basler cameras with model 'emulation' found"):
        open_camera("pylon", model="emulation")
    with open_camera("pylon", serial="0815-0001", model="Emulation") as cam:
        assert cam.device.serial == "0815-0001"


def test_bad_choices_and_values_are_one_line_each(one):
    cases = [
        (dict(serial="21345678"), CameraNotFoundError, r"no Basler camera with serial '21345678'; found: "
                                                       r"Basler Emulation \(0815-0000\) \(serial 0815-0000"),
        (dict(model="acA1920-155um"), CameraNotFoundError, "no Basler camera with model 'acA1920-155um'"),
        (dict(roi=[0, 0, 5000, 100]), CameraConfigError, r"camera.roi: width 5000 is not .* 1..4096"),
        (dict(roi=[1000, 0, 100, 100], binning=1), None, None),
        (dict(roi=[4000, 0, 100, 100]), CameraConfigError, r"camera.roi: x 4000 .* takes 0..3996 in steps"),
        (dict(binning=8), CameraConfigError, r"camera.binning: BinningHorizontal 8 .* 1..4"),
        (dict(exposure_ms=20_000.0), CameraConfigError, r"camera.exposure_ms = 20000 ms is outside .* ms$"),
        (dict(gain_db=99.0), CameraConfigError, r"camera.gain_db = 99 dB is outside .* 0..48 dB$"),
        (dict(trigger="hardware", trigger_line="Line9"), CameraConfigError,
         r"camera.trigger_line: .* has no TriggerSource 'Line9'; it has Software, Line1"),
        (dict(pixel_format="Mono14"), CameraConfigError, r"camera.pixel_format: .*'Mono8', 'Mono10'"),
        (dict(roi=[0, 0, 64]), CameraConfigError, r"^camera.roi"),
    ]
    for kwargs, error, pattern in cases:
        if error is None:
            open_camera("pylon", **kwargs).close()
            continue
        with pytest.raises(error, match=pattern) as info:
            open_camera("pylon", **kwargs)
        assert isinstance(info.value, HolostimError) and "\n" not in str(info.value), kwargs
    # After all those refusals the camera opens again (each failed open freed it).
    with open_camera("pylon", serial=FIRST) as cam:
        assert cam.snap().shape == (1040, 1024)


def test_roi_increments_are_refused_not_rounded():
    """Real sensors step widths by 4..16 (the emulator by 1): the rule, on a typical ace's numbers."""
    width, offset = Axis(16, 1920, 4), Axis(0, 1280, 2)
    check_step("roi", "width", 640, width, "acA1920")
    check_step("roi", "x", 1280, offset, "acA1920")
    with pytest.raises(CameraConfigError, match=r"^camera.roi: width 641 is not possible on acA1920, "
                                                r"which takes 16..1920 in steps of 4 here "
                                                r"\(refused rather than rounded\)$"):
        check_step("roi", "width", 641, width, "acA1920")
    with pytest.raises(CameraConfigError, match=r"x 3 .* 0..1280 in steps of 2"):
        check_step("roi", "x", 3, offset, "acA1920")
    with pytest.raises(CameraConfigError, match=r"in steps of 4 from 2"):
        check_step("roi", "width", 4, Axis(2, 18, 4), "odd")  # the grid starts at the minimum
    check_step("roi", "width", 6, Axis(2, 18, 4), "odd")


def test_software_trigger_one_frame_per_trigger(one):
    with open_camera("pylon", trigger="software") as cam:
        assert [cam.node_value(n) for n in ("TriggerSelector", "TriggerMode", "TriggerSource")] == \
            ["FrameStart", "On", "Software"]
        with pytest.raises(CameraError, match="not streaming: start"):
            cam.trigger()
        assert cam.snap().shape == (1040, 1024)  # a snap fires its own trigger
        cam.start()
        assert cam.latest() is None  # no trigger yet, no frame
        for n in (1, 2, 3):
            cam.trigger()
            frame = cam.wait_frame(n - 1, timeout=10)
            assert frame is not None and frame.counter == n
        assert cam.wait_frame(3, timeout=0.3) is None  # nothing without a trigger
        assert cam.snap().shape == (1040, 1024) and cam.latest().counter == 4  # its own trigger again


def test_hardware_trigger_is_set_up_and_waits_for_the_line(one):
    with open_camera("pylon", trigger="hardware", trigger_line="Line2", trigger_edge="falling",
                     timeout_s=0.2) as cam:
        names = ("TriggerSelector", "TriggerMode", "TriggerSource", "TriggerActivation")
        got = [cam.node_value(n) for n in names]
        assert got == ["FrameStart", "On", "Line2", "FallingEdge"]
        with pytest.raises(CameraError, match=r"no trigger on Line2 within 0.2 s \(camera.timeout_s\)$"):
            cam.snap()
        with pytest.raises(CameraConfigError, match="trigger\\(\\) needs camera.trigger 'software'"):
            cam.trigger()
        cam.start()  # waiting for edges that never come is not an error, however long it lasts
        assert cam.wait_frame(0, timeout=0.5) is None and cam.latest() is None and cam.is_streaming


def test_failed_buffers_fail_a_snap_and_are_skipped_by_the_stream(one):
    with open_camera("pylon", fps=200) as cam:
        cam._cam.ForceFailedBufferCount.Value = 1  # the emulator's own fault injection
        cam._cam.ForceFailedBuffer.Execute()
        with pytest.raises(CameraError, match="grab failed: The buffer was incompletely grabbed"):
            cam.snap()
        cam._cam.ForceFailedBufferCount.Value = 3
        cam._cam.ForceFailedBuffer.Execute()
        cam.start()
        first = cam.wait_frame(0, timeout=10)
        assert first is not None and first.counter >= 4  # three lost frames still count
        cam._cam.ForceFailedBufferCount.Value = 12
        cam._cam.ForceFailedBuffer.Execute()
        with pytest.raises(CameraError, match="10 grabs failed in a row"):
            while cam.wait_frame(cam.latest().counter, timeout=10) is not None:
                pass


def test_without_pypylon_the_session_is_told_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pypylon", None)
    with pytest.raises(CameraConfigError, match=r"^camera.backend 'pylon' needs pypylon: "
                                                r"pip install 'holostim\[basler\]'$"):
        open_camera("pylon")


def test_a_session_opens_with_a_basler_camera(one, tmp_path):
    from holostim.config import load_config
    from holostim.session import Session

    data = {"camera": {"backend": "pylon", "serial": FIRST, "roi": [0, 0, 512, 256], "pixel_format": "Mono12",
                       "exposure_ms": 4},
            "log": {"directory": "logs"}}
    (tmp_path / "rig.yaml").write_text(yaml.safe_dump(data))
    cfg = load_config(tmp_path / "rig.yaml")
    assert cfg.camera.options() == {"serial": FIRST, "roi": (0, 0, 512, 256), "pixel_format": "Mono12",
                                    "exposure_ms": 4.0, "trigger": "free_run", "trigger_line": "Line1",
                                    "trigger_edge": "rising", "timeout_s": 5.0}
    with Session.open(tmp_path / "rig.yaml") as s:
        assert isinstance(s.camera, PylonCamera)
        assert s.camera.shape == (256, 512) and s.camera.bit_depth == 12
        assert s.camera.snap().dtype == np.uint16
    (tmp_path / "typo.yaml").write_text("camera:\n  backend: pylon\n  pixel_fromat: Mono12\n")
    with pytest.raises(HolostimError, match=r"typo.yaml:3: camera.pixel_fromat: unknown key; did you mean "
                                            r"'pixel_format'"):
        load_config(tmp_path / "typo.yaml")


HOLDER = textwrap.dedent(
    """
    import sys
    from holostim.hardware.camera import open_camera

    cam = open_camera("pylon")  # PYLON_CAMEMU=1: the only camera, chosen without a serial
    cam.start()
    assert cam.wait_frame(0, timeout=10) is not None
    print("streaming", cam.device.serial, flush=True)
    sys.stdin.readline()  # until the test has listed the camera from another process
    if sys.argv[1] == "close":
        cam.close()
    print("done", flush=True)
    """
)

LISTER = ("from holostim.hardware.camera.pylon import list_cameras\n"
          "print([d.serial for d in list_cameras()])\n")


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["close", "forget"])
def test_another_process_lists_the_camera_while_it_streams_and_both_exit_0(tmp_path, ending):
    env = {**os.environ, "PYLON_CAMEMU": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, ending], stdin=subprocess.PIPE, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        line = holder.stdout.readline()
        assert line.split() == ["streaming", FIRST], holder.stderr.read()[-2000:] if not line else line
        lister = subprocess.run([sys.executable, "-c", LISTER], capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=120)
        assert lister.returncode == 0, lister.stderr[-2000:]
        assert lister.stdout.strip() == f"[{FIRST!r}]"
        out, err = holder.communicate("go\n", timeout=120)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert "done" in out and holder.returncode == 0, (holder.returncode, err[-2000:])
