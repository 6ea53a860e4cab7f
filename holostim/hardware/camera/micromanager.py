"""A scientific camera through Micro-Manager; pymmcore-plus is imported when the camera is opened."""

from __future__ import annotations

from pathlib import Path

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
        return img if img.ndim == 2 else to_gray(img, bgr=True)

    def _release(self) -> None:
        self._core.unloadAllDevices()
