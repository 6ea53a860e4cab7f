"""Cameras: one small protocol, a streaming base class, and the backends behind ``open_camera``.

Every camera — the simulated rig, a recorded file, a webcam, a Basler camera or one through Micro-Manager
— looks the same to the rest of holostim (:class:`CameraProtocol`). The backends are listed once, in
:mod:`holostim.hardware.registry`; each is one module here with its class and that class's ``Options``
(its keys in a session's ``camera`` section). Importing this package imports no camera SDK: OpenCV,
tifffile, pypylon and pymmcore-plus are imported when a camera that needs them is opened.
"""

from holostim.hardware.camera.base import (
    Camera,
    CameraConfigError,
    CameraError,
    CameraFileError,
    CameraNotFoundError,
    CameraOptions,
    CameraProtocol,
    Frame,
    Grab,
)
from holostim.hardware.camera.factory import open_camera
from holostim.hardware.camera.micromanager import MicroManagerCamera
from holostim.hardware.camera.opencv import OpenCVCamera
from holostim.hardware.camera.pylon import PylonCamera
from holostim.hardware.camera.replay import ReplayCamera
from holostim.hardware.camera.simulated import SimulatedCamera

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
    "MicroManagerCamera",
    "OpenCVCamera",
    "PylonCamera",
    "ReplayCamera",
    "SimulatedCamera",
    "open_camera",
]
