"""A scientific camera through Micro-Manager; pymmcore-plus is imported when the camera is opened.

Closing must leave the process able to exit. ``CMMCorePlus`` registers a Python event callback with
MMCore; when the core is destroyed at interpreter exit, MMCore's destructor detaches it
(``registerCallback(nullptr)``) on a helper thread that calls into Python. Python, finalising, ends any
thread that asks for the GIL with a forced unwind, MMCore's catch-all in that thread swallows the unwind,
and glibc aborts the process ("FATAL: exception not rethrown", exit status 134; seen in gdb: the
aborting thread is ``CMMCore::registerCallback``'s lambda). After ``unloadAllDevices()`` it happened in
most runs, with a bare ``CMMCorePlus`` too. :func:`release_core` therefore detaches the callback itself,
while the interpreter is alive, so that nothing is left for the destructor to hand to Python.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from holostim.files import ExistingFile
from holostim.hardware.camera.base import (
    Camera,
    CameraConfigError,
    CameraFileError,
    CameraNotFoundError,
    CameraOptions,
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

    def _set_exposure(self, ms: float) -> None:
        self._core.setExposure(ms)

    def _grab(self) -> np.ndarray:
        img = np.asarray(self._core.snap())
        return img if img.ndim == 2 else to_gray(img, bgr=True)

    def _release(self) -> None:
        release_core(self._core)
