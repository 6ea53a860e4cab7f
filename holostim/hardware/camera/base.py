"""Cameras: one small protocol, a streaming base class, and the backends behind ``open_camera``.

Users pick neurons on the camera image, so every camera — a simulated rig, a recorded file, a webcam or
a scientific camera through Micro-Manager — looks the same to the rest of holostim: ``shape``,
``dtype``, ``exposure_ms``, ``snap()`` and streaming with ``start()`` / ``latest()`` / ``stop()``.

Streaming runs an acquisition thread that keeps exactly one slot: each new frame replaces the previous
one, with a frame counter and a monotonic timestamp. A slow consumer (a GUI repainting at 20 Hz while
the camera runs at 100 Hz) therefore always sees the newest frame and never a backlog, and the counter
tells it how many frames it skipped.
"""

from __future__ import annotations

import abc
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from holostim.errors import HolostimError

__all__ = [
    "BACKENDS",
    "Camera",
    "CameraConfigError",
    "CameraError",
    "CameraFileError",
    "CameraNotFoundError",
    "CameraProtocol",
    "Frame",
    "MicroManagerCamera",
    "OpenCVCamera",
    "ReplayCamera",
    "open_camera",
]

BACKENDS = ("simulated", "replay", "opencv", "micromanager")
TIFF_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm")


class CameraError(HolostimError, RuntimeError):
    """A camera that cannot deliver frames (closed, failed to read, driver error)."""


class CameraConfigError(HolostimError, ValueError):
    """An unknown camera backend or an invalid camera option."""


class CameraNotFoundError(CameraError):
    """The requested camera device is not present (wrong index, unplugged, driver missing)."""


class CameraFileError(HolostimError, OSError):
    """A replay file that does not exist or cannot be decoded."""


class Frame(NamedTuple):
    """One streamed frame: the image, its running counter (1, 2, ...) and ``time.monotonic()`` stamp.

    A named tuple so ``image, counter, timestamp = camera.latest()`` works as well as attribute access.
    """

    image: np.ndarray
    counter: int
    timestamp: float


@runtime_checkable
class CameraProtocol(Protocol):
    """What the session and the GUI rely on; every backend below satisfies it."""

    @property
    def shape(self) -> tuple[int, int]: ...  # noqa: D102

    @property
    def dtype(self) -> np.dtype: ...  # noqa: D102

    exposure_ms: float

    def snap(self) -> np.ndarray: ...  # noqa: D102

    def start(self) -> None: ...  # noqa: D102

    def stop(self) -> None: ...  # noqa: D102

    def latest(self) -> Frame | None: ...  # noqa: D102

    def close(self) -> None: ...  # noqa: D102


class Camera(abc.ABC):
    """Base of every camera: snapping, the single-slot acquisition thread, lifetime.

    A backend implements :meth:`_grab` (one new frame as a 2-D array), :attr:`shape`, :attr:`dtype` and,
    if the device has one, the exposure setter :meth:`_set_exposure`. Everything else — locking, the
    streaming thread that drops stale frames, frame counters, timestamps, ``close`` and the context
    manager — lives here so all backends behave identically.

    Parameters
    ----------
    exposure_ms : float
        Exposure time in milliseconds (positive).
    fps : float or None
        Streaming rate. ``None`` streams as fast as :meth:`_grab` returns (a real camera paces itself);
        a number paces the thread, which simulated and replay cameras need.
    name : str
        Identifier recorded with calibrations and in the log.
    """

    acquisition_nice = 0
    """Nice value of the acquisition thread (Linux). 0 for real cameras, whose thread mostly waits."""

    def __init__(self, *, exposure_ms: float = 20.0, fps: float | None = None, name: str = "camera") -> None:
        self._io_lock = threading.RLock()  # one grab at a time: snap() and the thread share the device
        self._slot_lock = threading.Condition()
        self._slot: Frame | None = None
        self._counter = 0
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._closed = False
        self._error: BaseException | None = None
        self.name = str(name)
        self._exposure_ms = _check_positive("exposure_ms", exposure_ms)
        self._fps = None if fps is None else _check_positive("fps", fps)

    # ----------------------------------------------------------------- backend interface
    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, int]:
        """Frame shape ``(height, width)`` in pixels."""

    @property
    @abc.abstractmethod
    def dtype(self) -> np.dtype:
        """Pixel dtype of the frames (``uint8``, ``uint16``, ...)."""

    @abc.abstractmethod
    def _grab(self) -> np.ndarray:
        """Acquire one new frame from the device (called with the I/O lock held)."""

    def _set_exposure(self, ms: float) -> None:  # noqa: B027 - optional hook, default: nothing to tell
        """Tell the device a new exposure; backends without one just keep the number."""

    def _release(self) -> None:  # noqa: B027 - optional hook
        """Free the device (called once by :meth:`close`)."""

    # ----------------------------------------------------------------- public API
    @property
    def exposure_ms(self) -> float:
        """Exposure time in milliseconds."""
        return self._exposure_ms

    @exposure_ms.setter
    def exposure_ms(self, value: float) -> None:
        ms = _check_positive("exposure_ms", value)
        with self._io_lock:
            self._set_exposure(ms)
            self._exposure_ms = ms

    @property
    def fps(self) -> float | None:
        """Streaming rate in frames per second (``None``: as fast as the device delivers)."""
        return self._fps

    @fps.setter
    def fps(self, value: float | None) -> None:
        self._fps = None if value is None else _check_positive("fps", value)

    @property
    def is_streaming(self) -> bool:
        """Whether the acquisition thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def snap(self) -> np.ndarray:
        """Acquire and return one new frame (2-D array of :attr:`dtype`)."""
        self._check_open()
        with self._io_lock:
            return self._grab()

    def start(self) -> None:
        """Start the acquisition thread; frames then appear through :meth:`latest`. Idempotent."""
        self._check_open()
        if self.is_streaming:
            return
        self._stop_event.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"holostim-camera-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the acquisition thread (the last frame stays available). Idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._stop_event.set()
        with self._slot_lock:
            self._slot_lock.notify_all()
        thread.join(timeout=5.0)
        self._thread = None

    def latest(self) -> Frame | None:
        """The newest streamed frame, or ``None`` before the first one.

        Raises the acquisition thread's error, if it died, so a failing device is not mistaken for a
        frozen image.
        """
        if self._error is not None:
            raise CameraError(f"camera {self.name!r} stopped streaming: {self._error}") from self._error
        with self._slot_lock:
            return self._slot

    def wait_frame(self, after: int = 0, timeout: float = 2.0) -> Frame | None:
        """Block until a frame with counter > ``after`` exists; return it, or ``None`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._slot_lock:
            while self._slot is None or self._slot.counter <= after:
                if self._error is not None:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.is_streaming:
                    return None
                self._slot_lock.wait(remaining)
        return self.latest()

    def close(self) -> None:
        """Stop streaming and release the device. Safe to call twice."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        with self._io_lock:
            self._release()

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: threads must not outlive a forgotten camera
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ----------------------------------------------------------------- internals
    def _check_open(self) -> None:
        if self._closed:
            raise CameraError(f"camera {self.name!r} is closed; open a new one with open_camera(...)")

    def _publish(self, image: np.ndarray) -> Frame:
        with self._slot_lock:
            self._counter += 1
            self._slot = Frame(image, self._counter, time.monotonic())
            self._slot_lock.notify_all()
            return self._slot

    def _run(self) -> None:
        if self.acquisition_nice and hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
            try:  # Linux: per thread; threads started from here (a noise pool) inherit it
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), int(self.acquisition_nice))
            except OSError:
                pass
        next_due = time.monotonic()
        while not self._stop_event.is_set():
            try:
                with self._io_lock:
                    image = self._grab()
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer through latest()
                self._error = exc
                with self._slot_lock:
                    self._slot_lock.notify_all()
                return
            self._publish(image)
            if self._fps is not None:
                next_due += 1.0 / self._fps
                delay = next_due - time.monotonic()
                if delay < 0:  # fell behind: do not try to catch up with a burst
                    next_due = time.monotonic()
                    delay = 0.0
                self._stop_event.wait(delay)


# ===================================================================== replay
class ReplayCamera(Camera):
    """Frames from a multi-page TIFF (tifffile) or a video file (OpenCV), looping at a set frame rate.

    For reviewing recorded data and for testing with real files. Each :meth:`snap` returns the next
    frame (wrapping round at the end when ``loop``); streaming paces frames at ``fps``. Colour frames are
    converted to grey, since holostim works on single-channel fluorescence images. ``exposure_ms`` is
    kept but cannot change recorded data.

    Parameters
    ----------
    path : str or Path
        A ``.tif``/``.tiff`` stack (every page, or every frame of a 3-D page, is one frame) or a video
        OpenCV can decode (``.avi``, ``.mp4``, ...).
    fps : float
        Playback rate when streaming.
    loop : bool
        Start again at the first frame after the last; otherwise reading past the end raises.
    """

    def __init__(self, path: str | Path, *, fps: float = 20.0, loop: bool = True, exposure_ms: float = 20.0):
        super().__init__(exposure_ms=exposure_ms, fps=fps, name=f"replay:{Path(path).name}")
        self.path = Path(path).expanduser()
        self.loop = bool(loop)
        self._index = 0
        if not self.path.is_file():
            raise CameraFileError(
                f"replay file {str(self.path)!r} does not exist; check camera.path in the session "
                "(relative paths resolve against the session file)"
            )
        name = self.path.name.lower()
        if name.endswith(TIFF_SUFFIXES):
            self._kind = "tiff"
            self._open_tiff()
        elif name.endswith(VIDEO_SUFFIXES):
            self._kind = "video"
            self._open_video()
        else:
            raise CameraFileError(
                f"replay file {str(self.path)!r} has suffix {self.path.suffix!r}; use a multi-page TIFF "
                f"({', '.join(TIFF_SUFFIXES[:2])}) or a video ({', '.join(VIDEO_SUFFIXES)})"
            )

    # -- TIFF: read page by page so long recordings are not loaded whole
    def _open_tiff(self) -> None:
        import tifffile

        try:
            self._tif = tifffile.TiffFile(self.path)
            series = self._tif.series[0]
            shape = tuple(series.shape)
            dtype = np.dtype(series.dtype)
        except Exception as exc:  # tifffile raises TiffFileError, ValueError, struct.error, ...
            raise CameraFileError(
                f"cannot read TIFF {str(self.path)!r}: {exc}; re-save it as a plain multi-page TIFF "
                "(e.g. tifffile.imwrite(path, stack))"
            ) from exc
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) == 4 and shape[-1] in (3, 4):  # RGB(A) stack
            self._rgb = True
            shape = shape[:3]
        else:
            self._rgb = False
        if len(shape) != 3:
            self._tif.close()
            raise CameraFileError(
                f"TIFF {str(self.path)!r} has shape {tuple(series.shape)}; expected frames × height × width"
            )
        self._n_frames = int(shape[0])
        self._shape = (int(shape[1]), int(shape[2]))
        self._dtype = dtype
        self._pages = series.pages if len(series.pages) == self._n_frames else None
        if self._pages is None:  # a single 3-D page (imagej hyperstack etc.): read it once
            self._stack = series.asarray().reshape(self._n_frames, *self._shape, *((3,) if self._rgb else ()))

    def _read_tiff(self, i: int) -> np.ndarray:
        img = self._pages[i].asarray() if self._pages is not None else self._stack[i]
        if self._rgb:
            img = _to_gray(img, bgr=False)
        return np.ascontiguousarray(img)

    # -- video: decode sequentially, rewind on loop
    def _open_video(self) -> None:
        import cv2

        self._cap = cv2.VideoCapture(str(self.path))
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok or first is None:
            self._cap.release()
            raise CameraFileError(
                f"OpenCV cannot decode video {str(self.path)!r}; convert it to an MJPG .avi or a "
                "multi-page TIFF (e.g. ffmpeg -i in.xyz -c:v mjpeg out.avi)"
            )
        gray = _to_gray(first, bgr=True)
        self._shape = gray.shape
        self._dtype = gray.dtype
        self._pending: np.ndarray | None = gray
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._n_frames = count if count > 0 else None

    def _read_video(self) -> np.ndarray:
        import cv2

        if self._pending is not None:
            img, self._pending = self._pending, None
            return img
        ok, img = self._cap.read()
        if not ok:
            if not self.loop:
                raise CameraError(f"replay of {str(self.path)!r} reached its end (loop=False)")
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._index = 0
            ok, img = self._cap.read()
            if not ok:
                raise CameraError(f"cannot rewind video {str(self.path)!r} for looping")
        return _to_gray(img, bgr=True)

    # -- Camera interface
    @property
    def shape(self) -> tuple[int, int]:  # noqa: D102 - documented in the base
        return self._shape

    @property
    def dtype(self) -> np.dtype:  # noqa: D102
        return self._dtype

    @property
    def n_frames(self) -> int | None:
        """Frames in the file (``None`` when a video container does not say)."""
        return self._n_frames

    @property
    def position(self) -> int:
        """Index of the frame the next :meth:`snap` returns."""
        return self._index

    def _grab(self) -> np.ndarray:
        if self._kind == "video":
            img = self._read_video()
            self._index += 1
            return img
        if self._index >= self._n_frames:
            if not self.loop:
                raise CameraError(f"replay of {str(self.path)!r} reached its end (loop=False)")
            self._index = 0
        img = self._read_tiff(self._index)
        self._index += 1
        return img

    def _release(self) -> None:
        if self._kind == "tiff":
            self._tif.close()
        else:
            self._cap.release()


# ===================================================================== OpenCV live device
class OpenCVCamera(Camera):
    """A live camera through OpenCV's ``VideoCapture`` (V4L2 on Linux, DirectShow/MSMF on Windows).

    Parameters
    ----------
    index : int
        Device index (0 is the first camera; on Linux ``/dev/video<index>``).
    exposure_ms : float or None
        If given, requested through ``CAP_PROP_EXPOSURE``. Units of that property are driver specific
        (V4L2 uses 100 µs steps, so holostim converts for it); drivers that ignore it keep auto exposure.
    width, height : int or None
        Requested frame size; the driver may pick the nearest it supports.
    """

    def __init__(
        self,
        index: int = 0,
        *,
        exposure_ms: float | None = None,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
    ) -> None:
        import cv2

        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise CameraConfigError(f"camera.index must be a non-negative integer, got {index!r}")
        super().__init__(exposure_ms=exposure_ms or 20.0, fps=fps, name=f"opencv:{index}")
        self.index = int(index)
        self._cap = cv2.VideoCapture(self.index)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraNotFoundError(
                f"no camera at OpenCV index {self.index}; check it is plugged in and not used by another "
                "program, list devices with `v4l2-ctl --list-devices` (Linux), or try another camera.index"
            )
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(width))
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(height))
        if exposure_ms is not None:
            self._set_exposure(float(exposure_ms))
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise CameraNotFoundError(
                f"camera at OpenCV index {self.index} opened but returned no frame; it may be busy or "
                "need a different backend (micromanager for scientific cameras)"
            )
        gray = _to_gray(first, bgr=True)
        self._shape = gray.shape
        self._dtype = gray.dtype

    @property
    def shape(self) -> tuple[int, int]:  # noqa: D102
        return self._shape

    @property
    def dtype(self) -> np.dtype:  # noqa: D102
        return self._dtype

    def _set_exposure(self, ms: float) -> None:
        import cv2

        self._cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)  # V4L2 "manual"
        self._cap.set(cv2.CAP_PROP_EXPOSURE, ms * 10.0)  # V4L2 exposure_absolute: units of 100 µs

    def _grab(self) -> np.ndarray:
        ok, img = self._cap.read()
        if not ok or img is None:
            raise CameraError(f"camera at OpenCV index {self.index} stopped delivering frames")
        return _to_gray(img, bgr=True)

    def _release(self) -> None:
        self._cap.release()


# ===================================================================== Micro-Manager
class MicroManagerCamera(Camera):
    """A scientific camera through Micro-Manager (pymmcore-plus, optional extra ``holostim[micromanager]``).

    Parameters
    ----------
    config : str or Path
        The Micro-Manager hardware configuration file (``.cfg``) of the rig.
    device : str or None
        Camera device label in that configuration (default: the configuration's current camera).
    mm_path : str or None
        Micro-Manager installation folder with the device adapters (default: pymmcore-plus' search,
        i.e. ``mmcore install`` location or ``MICROMANAGER_PATH``).
    exposure_ms : float or None
        Exposure to set after loading (default: keep the configuration's).
    """

    def __init__(
        self,
        config: str | Path,
        *,
        device: str | None = None,
        mm_path: str | None = None,
        exposure_ms: float | None = None,
        fps: float | None = None,
    ) -> None:
        try:
            from pymmcore_plus import CMMCorePlus
        except ImportError as exc:
            raise CameraConfigError(
                "camera.backend 'micromanager' needs pymmcore-plus: pip install 'holostim[micromanager]' "
                "and then `mmcore install` for the device adapters"
            ) from exc
        path = Path(config).expanduser()
        if not path.is_file():
            raise CameraFileError(
                f"Micro-Manager configuration {str(path)!r} does not exist; set camera.config to the "
                ".cfg file saved by Micro-Manager's Hardware Configuration Wizard"
            )
        core = CMMCorePlus(mm_path) if mm_path else CMMCorePlus()
        try:
            core.loadSystemConfiguration(str(path))
            if device:
                core.setCameraDevice(device)
        except Exception as exc:  # CMMError or RuntimeError from the adapters
            raise CameraNotFoundError(
                f"Micro-Manager could not load {str(path)!r}{' camera ' + repr(device) if device else ''}: "
                f"{exc}; check the camera is connected and the configuration opens in Micro-Manager"
            ) from exc
        if not core.getCameraDevice():
            raise CameraNotFoundError(
                f"the Micro-Manager configuration {str(path)!r} defines no camera; set camera.device"
            )
        self._core = core
        super().__init__(
            exposure_ms=exposure_ms or float(core.getExposure()), fps=fps, name=f"mm:{core.getCameraDevice()}"
        )
        if exposure_ms is not None:
            self._set_exposure(float(exposure_ms))
        bytes_per_px = int(core.getBytesPerPixel())
        self._dtype = np.dtype({1: np.uint8, 2: np.uint16, 4: np.uint32}.get(bytes_per_px, np.uint16))
        self._shape = (int(core.getImageHeight()), int(core.getImageWidth()))

    @property
    def shape(self) -> tuple[int, int]:  # noqa: D102
        return self._shape

    @property
    def dtype(self) -> np.dtype:  # noqa: D102
        return self._dtype

    def _set_exposure(self, ms: float) -> None:
        self._core.setExposure(ms)

    def _grab(self) -> np.ndarray:
        img = np.asarray(self._core.snap())
        return img if img.ndim == 2 else _to_gray(img, bgr=True)

    def _release(self) -> None:
        self._core.unloadAllDevices()


# ===================================================================== factory
def open_camera(backend: str = "simulated", **options: Any) -> Camera:
    """Open a camera by backend name — what the session's ``camera`` section turns into.

    Parameters
    ----------
    backend : {"simulated", "replay", "opencv", "micromanager"}
        Which camera.
    **options
        Backend options (the other keys of the session's ``camera`` section):

        ``simulated``
            ``slm`` (the ``SimulatedSLM`` the camera looks through; ``None`` shows neurons with no light)
            and every keyword of :class:`holostim.hardware.simulated.SimulatedCamera`: ``shape``,
            ``exposure_ms``, ``fps``, ``focal_length_um``, ``camera_pixel_um``, ``ground_truth``
            (mapping: ``rotation_deg``, ``scale``, ``shear``, ``mirror``, ``offset_px``),
            ``beam_waist_um``, ``psf_sigma_px``, ``sample`` (``neurons``/``slide``), ``visible_spots``,
            ``spot_gain``, ``n_neurons``, ``neuron_density``, ``neuron_radius_px``, ``baseline``,
            ``background``, ``spontaneous_hz``, ``stim_hz``, ``threshold``, ``spike_dff``, ``tau_s``,
            ``read_noise_e``, ``full_well_e``, ``gain_e_per_adu``, ``bit_depth``, ``dark_offset_adu``,
            ``noise``, ``seed``, ``clock``, ``name``.
        ``replay``
            ``path`` (TIFF stack or video, required), ``fps`` (default 20), ``loop`` (default true),
            ``exposure_ms``.
        ``opencv``
            ``index`` (default 0), ``exposure_ms``, ``width``, ``height``, ``fps``.
        ``micromanager``
            ``config`` (``.cfg`` file, required), ``device``, ``mm_path``, ``exposure_ms``, ``fps``.

    Raises
    ------
    CameraConfigError
        Unknown backend, a missing required option or an option the backend does not take.
    CameraFileError
        A replay file or Micro-Manager configuration that is missing or unreadable.
    CameraNotFoundError
        No device at the given index / in the configuration.
    """
    key = str(backend).strip().lower()
    factories: dict[str, Callable[..., Camera]] = {
        "simulated": _open_simulated,
        "replay": ReplayCamera,
        "opencv": OpenCVCamera,
        "micromanager": MicroManagerCamera,
    }
    if key not in factories:
        import difflib

        close = difflib.get_close_matches(key, BACKENDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CameraConfigError(
            f"unknown camera backend {backend!r}{hint}; choose one of {', '.join(BACKENDS)}"
        )
    required = {"replay": "path", "micromanager": "config"}.get(key)
    if required and options.get(required) in (None, ""):
        raise CameraConfigError(f"camera backend {key!r} needs option {required!r} (camera.{required})")
    try:
        return factories[key](**options)
    except TypeError as exc:
        if "unexpected keyword" not in str(exc):
            raise
        raise CameraConfigError(
            f"camera backend {key!r} does not take that option ({exc}); see open_camera's documentation"
        ) from exc


def _open_simulated(**options: Any) -> Camera:
    from holostim.hardware.simulated import SimulatedCamera

    slm = options.pop("slm", None)
    return SimulatedCamera(slm, **options)


# ===================================================================== helpers
def _check_positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CameraConfigError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise CameraConfigError(f"{name} must be a positive number, got {value!r}")
    return v


def _to_gray(img: np.ndarray, *, bgr: bool) -> np.ndarray:
    """Colour → grey with Rec. 601 luma weights (what OpenCV's ``cvtColor`` uses), dtype kept."""
    if img.ndim == 2:
        return img
    import cv2

    code = cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY
    if img.shape[-1] == 4:
        code = cv2.COLOR_BGRA2GRAY if bgr else cv2.COLOR_RGBA2GRAY
    return cv2.cvtColor(np.ascontiguousarray(img), code)
