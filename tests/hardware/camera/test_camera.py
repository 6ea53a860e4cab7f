"""Camera protocol, replay backend with real files, single-slot streaming, and each bad-input error."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
import tifffile

from holostim.errors import HolostimError
from holostim.hardware.camera import (
    Camera,
    CameraConfigError,
    CameraError,
    CameraFileError,
    CameraNotFoundError,
    CameraProtocol,
    Frame,
    ReplayCamera,
    open_camera,
)


def _stack(n=6, shape=(24, 32), dtype=np.uint16):
    """Frames whose content encodes their index, so order and looping can be checked exactly."""
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 1000, size=(n, *shape)).astype(dtype)
    for i in range(n):
        frames[i, 0, 0] = i
    return frames


def test_replay_tiff_reads_every_page_in_order_and_loops(tmp_path):
    frames = _stack()
    path = tmp_path / "rec.tif"
    tifffile.imwrite(path, frames)  # a real multi-page TIFF, one page per frame
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == len(frames)
    with open_camera("replay", path=str(path), fps=100) as cam:
        assert isinstance(cam, CameraProtocol)
        assert cam.shape == (24, 32)
        assert cam.dtype == np.uint16
        assert cam.n_frames == 6
        got = [cam.snap() for _ in range(8)]
    for i, img in enumerate(got):
        np.testing.assert_array_equal(img, frames[i % 6])


def test_replay_tiff_without_loop_raises_at_end(tmp_path):
    path = tmp_path / "short.tiff"
    tifffile.imwrite(path, _stack(n=2))
    cam = ReplayCamera(path, loop=False)
    cam.snap()
    cam.snap()
    with pytest.raises(CameraError, match="reached its end"):
        cam.snap()
    cam.close()


def test_replay_video_written_with_opencv(tmp_path):
    path = tmp_path / "clip.avi"
    h, w, n = 48, 64, 5
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    assert writer.isOpened()
    levels = [20, 70, 120, 170, 220]
    for lv in levels:
        img = np.full((h, w, 3), lv, np.uint8)
        img[:, : w // 2] = 255 - lv  # left half differs, so the frame is not uniform
        writer.write(img)
    writer.release()
    with open_camera("replay", path=path, fps=50) as cam:
        assert cam.shape == (h, w)
        assert cam.dtype == np.uint8
        seen = [float(np.median(cam.snap()[:, w // 2 :])) for _ in range(n + 2)]
    # MJPG is lossy, but flat grey levels survive to within a few counts; after n frames it loops.
    expected = levels + levels[:2]
    np.testing.assert_allclose(seen, expected, atol=4)


def test_slow_consumer_sees_latest_frame_not_a_backlog(tmp_path):
    path = tmp_path / "rec.tif"
    frames = _stack(n=50)
    tifffile.imwrite(path, frames)
    cam = ReplayCamera(path, fps=400)
    cam.start()
    try:
        first = cam.wait_frame(0, timeout=5)
        assert isinstance(first, Frame)
        # A consumer busy while ten more frames are produced (waiting on the camera's own counter, not
        # on a clock) then reads once: it gets the newest frame, the ten before it were dropped.
        busy = cam.wait_frame(first.counter + 10, timeout=5)
        assert busy is not None
        image, counter, stamp, t_camera = cam.latest()
        assert t_camera is None  # a replayed file has no camera clock
        assert counter >= first.counter + 11
        assert stamp > first.timestamp
        np.testing.assert_array_equal(image, frames[(counter - 1) % 50])
        # Reading again without waiting returns the same (or newer) frame, never an older one.
        again = cam.latest()
        assert again.counter >= counter
        nxt = cam.wait_frame(again.counter, timeout=5)
        assert nxt.counter > again.counter
    finally:
        cam.stop()
    # stop() joins the acquisition thread: nothing can publish a frame any more.
    assert not cam.is_streaming
    stopped = cam.latest().counter
    cam.snap()  # a snap reads the device but is not a streamed frame
    assert cam.latest().counter == stopped
    cam.close()


def test_streaming_error_surfaces_through_latest():
    class Broken(Camera):
        shape = (2, 2)
        dtype = np.dtype(np.uint8)

        def _grab(self):
            raise OSError("cable pulled")

    cam = Broken(fps=100)
    cam.start()
    with pytest.raises(CameraError, match="cable pulled"):  # the waiter wakes on the error, not a timeout
        cam.wait_frame(0, timeout=10)
    with pytest.raises(CameraError, match="cable pulled"):
        cam.latest()
    cam.close()


def test_exposure_get_set_and_validation(tmp_path):
    path = tmp_path / "rec.tif"
    tifffile.imwrite(path, _stack(n=2))
    cam = ReplayCamera(path)
    cam.exposure_ms = 12.5
    assert cam.exposure_ms == 12.5
    for bad in (0, -1, float("nan"), "fast"):
        with pytest.raises(CameraConfigError, match="exposure_ms"):
            cam.exposure_ms = bad
    cam.close()
    with pytest.raises(CameraError, match="closed"):
        cam.snap()
    cam.close()  # twice is fine


# ----------------------------------------------------------------------------- bad input
def test_unknown_backend_names_it_and_suggests():
    with pytest.raises(CameraConfigError, match=r"'replai'.*did you mean 'replay'.*simulated, replay"):
        open_camera("replai", path="x.tif")


def test_missing_replay_file(tmp_path):
    missing = tmp_path / "nope.tif"
    with pytest.raises(CameraFileError, match="does not exist") as err:
        open_camera("replay", path=missing)
    assert isinstance(err.value, OSError) and isinstance(err.value, HolostimError)
    with pytest.raises(CameraConfigError, match="needs option 'path'"):
        open_camera("replay")


def test_unreadable_replay_files(tmp_path):
    bad_tif = tmp_path / "broken.tif"
    bad_tif.write_bytes(b"this is not a tiff at all")
    with pytest.raises(CameraFileError, match="cannot read TIFF"):
        open_camera("replay", path=bad_tif)
    bad_vid = tmp_path / "broken.avi"
    bad_vid.write_bytes(b"\x00" * 64)
    with pytest.raises(CameraFileError, match="OpenCV cannot decode"):
        open_camera("replay", path=bad_vid)
    odd = tmp_path / "frames.xyz"
    odd.write_bytes(b"1")
    with pytest.raises(CameraFileError, match="suffix '.xyz'"):
        open_camera("replay", path=odd)


def test_unknown_option_is_a_config_error(tmp_path):
    path = tmp_path / "rec.tif"
    tifffile.imwrite(path, _stack(n=2))
    with pytest.raises(CameraConfigError, match="does not take that option"):
        open_camera("replay", path=path, frame_rate=3)


def test_missing_opencv_device():
    with pytest.raises(CameraNotFoundError, match="no camera at OpenCV index 97"):
        open_camera("opencv", index=97)
    with pytest.raises(CameraConfigError, match="non-negative integer"):
        open_camera("opencv", index=-1)


def test_micromanager_without_pymmcore_plus_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pymmcore_plus", None)  # import fails as if not installed
    cfg = tmp_path / "rig.cfg"
    cfg.write_text("# empty\n")
    with pytest.raises(CameraConfigError, match=r"pip install 'holostim\[micromanager\]'"):
        open_camera("micromanager", config=cfg)
    with pytest.raises(CameraConfigError, match="needs option 'config'"):
        open_camera("micromanager")


def test_session_paths_of_a_replay_camera_resolve_against_the_session_file(tmp_path):
    from holostim.config import load_config

    rig = tmp_path / "rig"
    (rig / "data").mkdir(parents=True)
    tifffile.imwrite(rig / "data" / "rec.tif", _stack(n=5))
    (rig / "session.yaml").write_text("camera:\n  backend: replay\n  path: data/rec.tif\n  loop: false\n")
    cfg = load_config(rig / "session.yaml")
    assert cfg.camera.path == rig / "data" / "rec.tif"
    assert cfg.camera.options() == {"path": str(rig / "data" / "rec.tif"), "loop": False}
    with open_camera(cfg.camera.backend, **cfg.camera.options()) as cam:
        assert cam.n_frames == 5 and not cam.loop
