"""A live camera through OpenCV's ``VideoCapture``; OpenCV is imported when the camera is opened.

OpenCV is an optional extra (``holostim[opencv]``, about a sixth of a full install) used only here and
for video replay: :func:`import_cv2` is the one place that imports it, so a missing OpenCV is one line
that names the extra.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import Field

from holostim.hardware.camera.base import (
    Camera,
    CameraConfigError,
    CameraError,
    CameraNotFoundError,
    CameraOptions,
    to_gray,
)


def import_cv2(what: str) -> Any:
    """OpenCV's ``cv2`` module, or one line saying that ``what`` needs the ``[opencv]`` extra."""
    try:
        import cv2
    except ImportError as exc:
        raise CameraConfigError(f"{what} needs OpenCV: pip install 'holostim[opencv]'") from exc
    return cv2


class OpenCVOptions(CameraOptions):
    """A live camera through OpenCV."""

    index: Annotated[int, Field(ge=0)] = 0
    width: Annotated[int, Field(gt=0)] | None = None
    height: Annotated[int, Field(gt=0)] | None = None


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

    Options = OpenCVOptions

    def __init__(
        self,
        index: int = 0,
        *,
        exposure_ms: float | None = None,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
    ) -> None:
        cv2 = import_cv2("camera.backend 'opencv'")

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
        gray = to_gray(first, bgr=True)
        self._shape = gray.shape
        self._dtype = gray.dtype

    def _set_exposure(self, ms: float) -> None:
        cv2 = import_cv2("camera.backend 'opencv'")

        self._cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)  # V4L2 "manual"
        self._cap.set(cv2.CAP_PROP_EXPOSURE, ms * 10.0)  # V4L2 exposure_absolute: units of 100 µs

    def _grab(self) -> np.ndarray:
        ok, img = self._cap.read()
        if not ok or img is None:
            raise CameraError(f"camera at OpenCV index {self.index} stopped delivering frames")
        return to_gray(img, bgr=True)

    def _release(self) -> None:
        self._cap.release()
