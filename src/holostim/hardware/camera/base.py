"""What every camera is: one small protocol, its errors, its options, and the streaming base class.

Users pick neurons on the camera image, so every camera — a simulated rig, a recorded file, a webcam or
a scientific camera through Micro-Manager — looks the same to the rest of holostim: ``shape``,
``dtype``, ``exposure_ms``, ``snap()`` and streaming with ``start()`` / ``latest()`` / ``stop()``.

Streaming runs an acquisition thread that keeps exactly one slot: each new frame replaces the previous
one, with a frame counter and a monotonic timestamp. A slow consumer (a GUI repainting at 20 Hz while
the camera runs at 100 Hz) therefore always sees the newest frame and never a backlog, and the counter
tells it how many frames it skipped.

A camera that streams on its own (a Basler camera's grab engine, Micro-Manager's sequence acquisition)
plugs into the same thread through three hooks — :meth:`Camera._stream_begin`,
:meth:`Camera._stream_next`, :meth:`Camera._stream_end` — instead of a snap loop: the device then runs at
its own pace, frames it dropped still advance the counter, and its own clock rides along as
``Frame.t_camera``.
"""

from __future__ import annotations

import abc
import atexit
import logging
import threading
import time
import weakref
from pathlib import Path
from typing import Annotated, Any, ClassVar, NamedTuple, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from holostim.checks import positive
from holostim.errors import HolostimError
from holostim.threads import lower_current_thread_priority

log = logging.getLogger(__name__)

_OPEN: weakref.WeakSet[Camera] = weakref.WeakSet()


@atexit.register
def _close_forgotten_cameras() -> None:
    """Close every camera still open when the interpreter exits, while it can still run threads.

    A forgotten streaming camera's thread sits in the vendor SDK (pylon's ``RetrieveResult``); if Python
    finalises first, that thread is ended by a forced unwind the SDK's catch-all swallows, and glibc
    aborts the process ("FATAL: exception not rethrown", status 134). Closing it here avoids that.
    """
    for camera in list(_OPEN):
        try:
            camera.close()
        except Exception:  # noqa: BLE001 - exiting anyway; the next camera still gets closed
            log.warning("closing camera %r at exit failed", camera.name, exc_info=True)

__all__ = [
    "Camera",
    "CameraConfigError",
    "CameraError",
    "CameraFileError",
    "CameraNotFoundError",
    "CameraOptions",
    "CameraProtocol",
    "Frame",
    "Grab",
    "to_gray",
]


class CameraError(HolostimError, RuntimeError):
    """A camera that cannot deliver frames (closed, failed to read, driver error)."""


class CameraConfigError(HolostimError, ValueError):
    """An unknown camera backend or an invalid camera option."""


class CameraNotFoundError(CameraError):
    """The requested camera device is not present (wrong index, unplugged, driver missing)."""


class CameraFileError(HolostimError, OSError):
    """A replay file that does not exist or cannot be decoded."""


class Frame(NamedTuple):
    """One streamed frame: the image, its running counter, its ``time.monotonic()`` stamp, its camera time.

    ``counter`` counts the device's frames (1, 2, ...): a frame the device itself dropped (a Basler
    camera's grab engine keeping only the latest image) still advances it, so a gap means frames lost.
    ``t_camera`` is the camera's own clock in seconds at exposure (a Basler timestamp), or ``None`` for
    cameras without one; it is what relates frames to each other, since the host stamp includes
    transfer jitter. A named tuple: ``latest()[0]`` is the image, ``latest()[1]`` the counter.
    """

    image: np.ndarray
    counter: int
    timestamp: float
    t_camera: float | None = None


class Grab(NamedTuple):
    """What a device's own stream hands the acquisition thread (see :meth:`Camera._stream_next`).

    ``skipped`` is how many frames the device dropped before this one (they advance the counter).
    """

    image: np.ndarray
    t_camera: float | None = None
    skipped: int = 0


class CameraOptions(BaseModel):
    """The keys of a session's ``camera`` section that every backend takes; a backend adds its own.

    Each backend class names its options model as ``Options`` (a subclass of this one). The session
    schema builds its ``camera`` section from these models, one per registered backend, so a new camera
    is one new module and one line in :mod:`holostim.hardware.registry` — no second list of its keys.
    Unknown keys are errors and values are immutable once validated, as in every other section. A path
    option that names an existing file is :data:`holostim.files.ExistingFile`, which resolves relative
    to the session file's folder.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    exposure_ms: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="default: the backend's own"
    )
    fps: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="streaming rate; default: as fast as frames come"
    )

    def options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`holostim.hardware.camera.open_camera`.

        ``None`` (the backend's default) and the session's ``backend`` tag are left out; paths become
        strings.
        """
        return {k: (str(v) if isinstance(v, Path) else v)
                for k, v in self.model_dump().items() if k != "backend" and v is not None}


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

    Options: ClassVar[type[CameraOptions]] = CameraOptions
    """The backend's keys in a session's ``camera`` section (see :class:`CameraOptions`)."""

    acquisition_nice = 0
    """Nice value of the acquisition thread (Linux). 0 for real cameras, whose thread mostly waits."""

    stream_owns_device: ClassVar[bool] = False
    """Whether streaming holds the device (a grab engine or sequence acquisition running): then
    :meth:`snap` during streaming returns the next streamed frame instead of grabbing one itself."""

    snap_timeout_s: float = 5.0
    """How long :meth:`snap` waits for the next streamed frame (when ``stream_owns_device``)."""

    def __init__(self, *, exposure_ms: float = 20.0, fps: float | None = None, name: str = "camera") -> None:
        self._io_lock = threading.RLock()  # one grab at a time: snap() and the thread share the device
        self._slot_lock = threading.Condition()
        self._slot: Frame | None = None
        self._counter = 0
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._begun = threading.Event()  # set by the acquisition thread once _stream_begin returned
        self._closed = False
        self._error: BaseException | None = None
        self.name = str(name)
        self._exposure_ms = positive(exposure_ms, "exposure_ms", CameraConfigError)
        self._fps = None if fps is None else positive(fps, "fps", CameraConfigError)
        _OPEN.add(self)

    # ----------------------------------------------------------------- backend interface
    # A backend learns its frame format when it opens the device and stores it in ``_shape`` and
    # ``_dtype``; one that computes them (the simulated camera) overrides these properties instead.
    _shape: tuple[int, int]
    _dtype: np.dtype

    @property
    def shape(self) -> tuple[int, int]:
        """Frame shape ``(height, width)`` in pixels."""
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        """Pixel dtype of the frames (``uint8``, ``uint16``, ...)."""
        return self._dtype

    @abc.abstractmethod
    def _grab(self) -> np.ndarray:
        """Acquire one new frame from the device (called with the I/O lock held)."""

    def _set_exposure(self, ms: float) -> None:  # noqa: B027 - optional hook, default: nothing to tell
        """Tell the device a new exposure; backends without one just keep the number."""

    def _release(self) -> None:  # noqa: B027 - optional hook
        """Free the device (called once by :meth:`close`)."""

    # A device that streams on its own overrides these three (all called in the acquisition thread with
    # the I/O lock held); the defaults make streaming a loop of ``_grab``.
    def _stream_begin(self) -> None:  # noqa: B027 - optional hook
        """Start the device's own stream (a grab engine, a sequence acquisition) before the first frame."""

    def _stream_next(self) -> Grab | None:
        """The next frame of the stream, or ``None`` if none came within a short wait.

        ``None`` lets the thread see a stop request while the device waits (for a trigger, say); it must
        therefore return within a fraction of a second. A failing device raises.
        """
        return Grab(self._grab())

    def _stream_end(self) -> None:  # noqa: B027 - optional hook
        """Stop the device's own stream (after the last frame, also after an error)."""

    def _before_stream_snap(self) -> None:  # noqa: B027 - optional hook
        """Act for a :meth:`snap` during streaming, after it noted the counter.

        A software trigger fires here, so the frame it causes is the one the snap waits for.
        """

    @property
    def bit_depth(self) -> int:
        """Significant bits per pixel (12 for a Mono12 camera's ``uint16`` frames): the display range."""
        depth = getattr(self, "_bit_depth", None)
        return int(depth) if depth else 8 * np.dtype(self.dtype).itemsize

    # ----------------------------------------------------------------- public API
    @property
    def exposure_ms(self) -> float:
        """Exposure time in milliseconds."""
        return self._exposure_ms

    @exposure_ms.setter
    def exposure_ms(self, value: float) -> None:
        ms = positive(value, "exposure_ms", CameraConfigError)
        with self._io_lock:
            self._set_exposure(ms)
            self._exposure_ms = ms

    @property
    def fps(self) -> float | None:
        """Streaming rate in frames per second (``None``: as fast as the device delivers)."""
        return self._fps

    @fps.setter
    def fps(self, value: float | None) -> None:
        self._fps = None if value is None else positive(value, "fps", CameraConfigError)

    @property
    def is_streaming(self) -> bool:
        """Whether the acquisition thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def snap(self) -> np.ndarray:
        """Acquire and return one new frame (2-D array of :attr:`dtype`).

        While a device that owns its stream is streaming, this is the next streamed frame (the device
        cannot grab a second way at the same time).
        """
        self._check_open()
        if self.stream_owns_device and self.is_streaming:
            with self._slot_lock:
                after = self._counter
            self._before_stream_snap()
            frame = self.wait_frame(after, timeout=self.snap_timeout_s)
            if frame is None:
                raise CameraError(f"camera {self.name!r} delivered no frame within {self.snap_timeout_s:g} s")
            return frame.image
        with self._io_lock:
            return self._grab()

    def start(self) -> None:
        """Start the acquisition thread; frames then appear through :meth:`latest`. Idempotent."""
        self._check_open()
        if self.is_streaming:
            return
        self._stop_event.clear()
        self._error = None
        self._begun.clear()
        self._begin_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"holostim-camera-{self.name}", daemon=True)
        self._thread.start()
        # Return once the device streams (its grab engine started), so a trigger sent next is not lost.
        self._begun.wait(10.0)
        failed = self._begin_error
        if failed is not None:
            raise CameraError(f"camera {self.name!r} could not start streaming: {failed}") from failed

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

    def _publish(self, image: np.ndarray, t_camera: float | None = None, skipped: int = 0) -> Frame:
        with self._slot_lock:
            self._counter += 1 + int(skipped)
            self._slot = Frame(image, self._counter, time.monotonic(), t_camera)
            self._slot_lock.notify_all()
            return self._slot

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        with self._slot_lock:
            self._slot_lock.notify_all()

    def _run(self) -> None:
        if self.acquisition_nice:  # relative to this thread's own; threads started from here inherit it
            lower_current_thread_priority(self.acquisition_nice)
        try:
            with self._io_lock:
                self._stream_begin()
        except BaseException as exc:  # noqa: BLE001 - handed to start() and the consumer's latest()
            self._begin_error = exc
            self._fail(exc)
            return
        finally:
            self._begun.set()
        try:
            self._loop()
        finally:
            try:
                with self._io_lock:
                    self._stream_end()
            except Exception:  # noqa: BLE001 - the stream is over either way; close() frees the device
                log.warning("camera %r: stopping its stream failed", self.name, exc_info=True)

    def _loop(self) -> None:
        next_due = time.monotonic()
        while not self._stop_event.is_set():
            try:
                with self._io_lock:
                    grab = self._stream_next()
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer through latest()
                self._fail(exc)
                return
            if grab is None:  # nothing yet (waiting for a trigger): look at the stop request again
                continue
            self._publish(grab.image, grab.t_camera, grab.skipped)
            if self._fps is not None:
                next_due += 1.0 / self._fps
                delay = next_due - time.monotonic()
                if delay < 0:  # fell behind: do not try to catch up with a burst
                    next_due = time.monotonic()
                    delay = 0.0
                self._stop_event.wait(delay)


_LUMA_Q15 = (9798, 19235, 3735)
"""Rec. 601 luma weights of R, G, B in units of 1/32768, as OpenCV's ``cvtColor`` rounds them."""


def to_gray(img: np.ndarray, *, bgr: bool) -> np.ndarray:
    """Colour → grey with Rec. 601 luma weights, dtype kept: the numbers OpenCV's ``cvtColor`` gives.

    holostim works on single-channel fluorescence images. This is plain NumPy, so a colour TIFF replays
    without OpenCV (an optional extra); integers use OpenCV's fixed-point rule (weights in 1/32768,
    rounded half up) and floats its float weights, so frames match what OpenCV would have made.
    """
    if img.ndim == 2:
        return img
    c = np.asarray(img)[..., :3]
    r, g, b = (c[..., 2], c[..., 1], c[..., 0]) if bgr else (c[..., 0], c[..., 1], c[..., 2])
    if np.issubdtype(c.dtype, np.integer):
        wr, wg, wb = _LUMA_Q15
        y = (r.astype(np.int64) * wr + g.astype(np.int64) * wg + b.astype(np.int64) * wb + (1 << 14)) >> 15
        return y.astype(c.dtype)
    return (0.299 * r + 0.587 * g + 0.114 * b).astype(c.dtype)
