"""A scientific camera through Micro-Manager; pymmcore-plus is imported when the camera is opened.

Closing must leave the process able to exit. ``CMMCorePlus`` registers a Python event callback with
MMCore; when the core is destroyed at interpreter exit, MMCore's destructor detaches it
(``registerCallback(nullptr)``) on a helper thread that calls into Python. Python, finalising, ends any
thread that asks for the GIL with a forced unwind, MMCore's catch-all in that thread swallows the unwind,
and glibc aborts the process ("FATAL: exception not rethrown", exit status 134; seen in gdb: the
aborting thread is ``CMMCore::registerCallback``'s lambda). After ``unloadAllDevices()`` it happened in
most runs, with a bare ``CMMCorePlus`` too. :func:`release_core` therefore detaches the callback itself,
while the interpreter is alive, so that nothing is left for the destructor to hand to Python.

Streaming is Micro-Manager's own sequence acquisition (``startContinuousSequenceAcquisition``, frames
taken from the core's circular buffer with ``popNextImage``), not a loop of ``snap()``: the camera runs at
its own rate, frames the reader was too slow for still advance the counter, and ``stop()``/``close()``
stop the sequence. Device adapters are built for one device-interface version and MMCore loads only
those of its own; when the rig's Micro-Manager and pymmcore differ, the error says which version each
has and what to install.

holostim listens to none of the core's events, so the core is made with pymmcore-plus's plain
(psygnal) event backend: under a running Qt application (the GUI) its default would be Qt signals, which
need ``qtpy`` — not a holostim dependency — and would be delivered through the Qt event loop.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from holostim.files import ExistingFile
from holostim.hardware.camera.base import (
    Camera,
    CameraConfigError,
    CameraError,
    CameraFileError,
    CameraNotFoundError,
    CameraOptions,
    Grab,
    to_gray,
)

log = logging.getLogger(__name__)


def release_core(core: Any) -> None:
    """Unload every device of a ``CMMCorePlus`` and detach its event callback (see the module docstring).

    The callback is detached even when unloading fails (a device that errors on shutdown), since that
    is what keeps the exit clean; the unloading error is raised afterwards.
    """
    try:
        core.unloadAllDevices()
    finally:
        _detach_callback(core)


def _detach_callback(core: Any) -> None:
    # CMMCorePlus (and its subclasses, e.g. UniMMCore) forbid registerCallback, since their events replace
    # it; the binding's own method (pymmcore's or pymmcore-nano's CMMCore) below them takes None.
    for cls in type(core).__mro__:
        if "registerCallback" in vars(cls) and not cls.__module__.startswith("pymmcore_plus"):
            try:
                cls.registerCallback(core, None)
            except Exception:  # noqa: BLE001 - nothing registered, or a binding that refuses None
                log.debug("could not detach the Micro-Manager event callback", exc_info=True)
            return


_INTERFACE = re.compile(r"device interface version \((?:required = |MMCore requires )(\d+);"
                        r" (?:found = |device adapter has )(\d+)\)")
_FAILED = re.compile(r'Failed to load device adapter "([^"]+)" from "([^"]+)"')
_CORE_API = re.compile(r"Device API version (\d+)")


def interface_mismatch(message: str, core: Any) -> str | None:
    """One line when a load failed because adapter and core differ in device-interface version, else ``None``.

    MMCore accepts only adapters of exactly its own device-interface version (the fourth number of
    pymmcore's version: 75 in 12.5.1.75.0). Its error says so only in the nested part of the message,
    which some wrappers drop (pymmcore-plus's ``UniMMCore`` keeps just "Failed to load device adapter X
    from P"); then the adapter itself is asked, as MMCore asked it, through its exported
    ``GetDeviceInterfaceVersion()``. Which side to change is the user's choice, so both are named.
    """
    failed = _FAILED.search(message)
    stated = _INTERFACE.search(message)
    api = _CORE_API.search(str(core.getAPIVersionInfo()))
    if stated is not None:
        needs, has = int(stated.group(1)), int(stated.group(2))
    elif failed is not None and api is not None:
        needs, has = int(api.group(1)), _adapter_interface(failed.group(2))
        if has is None or has == needs:
            return None
    else:
        return None
    which = f" ({failed.group(1)}: {failed.group(2)})" if failed else ""
    return (f"the rig's Micro-Manager device adapter{which} is built for device interface {has}, but "
            f"{_binding_version()} loads only {needs}: install the pymmcore release for interface {has} "
            f"(a version x.y.z.{has}.n) or device adapters for {needs} (`mmcore install`, or a "
            "Micro-Manager nightly of that interface)")


def _adapter_interface(path: str) -> int | None:
    """The device-interface version an adapter library was built for (``None`` if it cannot say)."""
    try:
        fn = ctypes.CDLL(path).GetDeviceInterfaceVersion
    except (OSError, AttributeError):
        return None
    fn.restype, fn.argtypes = ctypes.c_long, []
    return int(fn())


def _new_core(cls: Any, mm_path: str | None) -> Any:
    """A core with the psygnal event backend (see the module docstring) unless the user chose one."""
    chosen = os.environ.get("PYMM_SIGNALS_BACKEND")
    if chosen is None:
        os.environ["PYMM_SIGNALS_BACKEND"] = "psygnal"  # read once, when the core is made
    try:
        return cls(mm_path) if mm_path else cls()
    finally:
        if chosen is None:
            os.environ.pop("PYMM_SIGNALS_BACKEND", None)


def _binding_version() -> str:
    for dist in ("pymmcore", "pymmcore-nano"):
        try:
            return f"{dist} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return "this pymmcore"


class MicroManagerOptions(CameraOptions):
    """A scientific camera through Micro-Manager (pymmcore-plus)."""

    config: ExistingFile = Field(description="the rig's Micro-Manager configuration (.cfg)")
    device: str | None = None
    mm_path: str | None = None


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

    Options = MicroManagerOptions
    stream_owns_device = True

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
        core = _new_core(CMMCorePlus, mm_path)
        try:
            self._load(core, path, device)
            self._core = core
            # Micro-Manager paces the sequence itself (at the exposure, or every 1/fps where the camera
            # can): the base thread only reads, so it is given no rate of its own.
            self._interval_ms = 1000.0 / fps if fps else 0.0
            super().__init__(exposure_ms=exposure_ms or float(core.getExposure()), fps=None,
                             name=f"mm:{core.getCameraDevice()}")
            if exposure_ms is not None:
                self._set_exposure(float(exposure_ms))
        except BaseException:
            release_core(core)  # a core left loaded aborts the process at exit (module docstring)
            raise
        bytes_per_px = int(core.getBytesPerPixel())
        self._dtype = np.dtype({1: np.uint8, 2: np.uint16, 4: np.uint32}.get(bytes_per_px, np.uint16))
        self._shape = (int(core.getImageHeight()), int(core.getImageWidth()))
        self._bit_depth = int(core.getImageBitDepth())

    @staticmethod
    def _load(core: Any, path: Path, device: str | None) -> None:
        try:
            core.loadSystemConfiguration(str(path))
            if device:
                core.setCameraDevice(device)
        except Exception as exc:  # CMMError or RuntimeError from the adapters
            mismatch = interface_mismatch(str(exc), core)
            if mismatch is not None:
                raise CameraConfigError(mismatch) from exc
            detail = " ".join(str(exc).split())
            raise CameraNotFoundError(
                f"Micro-Manager could not load {str(path)!r}{' camera ' + repr(device) if device else ''}: "
                f"{detail}; check the camera is connected and the configuration opens in Micro-Manager"
            ) from exc
        if not core.getCameraDevice():
            raise CameraNotFoundError(
                f"the Micro-Manager configuration {str(path)!r} defines no camera; set camera.device"
            )

    def _set_exposure(self, ms: float) -> None:
        self._core.setExposure(ms)

    def _grab(self) -> np.ndarray:
        img = np.asarray(self._core.snap())
        return img if img.ndim == 2 else to_gray(img, bgr=True)

    def _stream_begin(self) -> None:
        core = self._core
        if core.isSequenceRunning():  # left running by someone else: restart it as ours
            core.stopSequenceAcquisition()
        core.startContinuousSequenceAcquisition(self._interval_ms)

    def _stream_next(self) -> Grab | None:
        core = self._core
        waiting = int(core.getRemainingImageCount())
        if waiting == 0:
            if not core.isSequenceRunning():
                raise CameraError(f"Micro-Manager stopped the sequence acquisition of "
                                  f"{core.getCameraDevice()!r} (a camera error or a full circular buffer; "
                                  "see the core log)")
            # The core has no blocking read: poll at a quarter of the exposure, within 0.5..5 ms.
            self._stop_event.wait(min(0.005, max(0.0005, self.exposure_ms / 4000.0)))
            return None
        img = None
        for _ in range(waiting):  # oldest first; only the newest is kept, the others count as skipped
            img = core.popNextImage()
        img = np.asarray(img)
        return Grab(img if img.ndim == 2 else to_gray(img, bgr=True), None, waiting - 1)

    def _stream_end(self) -> None:
        if self._core.isSequenceRunning():
            self._core.stopSequenceAcquisition()

    def _release(self) -> None:
        release_core(self._core)
