"""The ``camera`` section: a tagged union whose keys depend on ``backend``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag

from holostim.config.types import ExistingFile, PositiveFloat, Section


class _CameraBase(Section):
    exposure_ms: PositiveFloat | None = Field(None, description="default: the backend's own")
    fps: PositiveFloat | None = Field(None, description="streaming rate; default: as fast as frames come")

    def options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`holostim.hardware.camera.open_camera` (``None`` left out)."""
        return {k: (str(v) if isinstance(v, Path) else v)
                for k, v in self.model_dump().items() if k != "backend" and v is not None}


class SimulatedCameraConfig(_CameraBase):
    """The simulated rig's camera; its scene is set in the ``simulation`` section."""

    backend: Literal["simulated"] = "simulated"


class ReplayCameraConfig(_CameraBase):
    """A multi-page TIFF or a video file played back in a loop."""

    backend: Literal["replay"]
    path: ExistingFile
    loop: bool = True


class OpenCVCameraConfig(_CameraBase):
    """A live camera through OpenCV."""

    backend: Literal["opencv"]
    index: Annotated[int, Field(ge=0)] = 0
    width: Annotated[int, Field(gt=0)] | None = None
    height: Annotated[int, Field(gt=0)] | None = None


class MicroManagerCameraConfig(_CameraBase):
    """A scientific camera through Micro-Manager (pymmcore-plus)."""

    backend: Literal["micromanager"]
    config: ExistingFile = Field(description="the rig's Micro-Manager configuration (.cfg)")
    device: str | None = None
    mm_path: str | None = None


CAMERA_BACKENDS = ("simulated", "replay", "opencv", "micromanager")


def _camera_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("backend", "simulated"))
    return getattr(value, "backend", None)


CameraConfig = Annotated[
    Annotated[SimulatedCameraConfig, Tag("simulated")]
    | Annotated[ReplayCameraConfig, Tag("replay")]
    | Annotated[OpenCVCameraConfig, Tag("opencv")]
    | Annotated[MicroManagerCameraConfig, Tag("micromanager")],
    Discriminator(_camera_tag, custom_error_type="camera_backend",
                  custom_error_message="unknown camera backend"),
]
"""The ``camera`` section: its keys depend on ``backend``."""


def tagged_models() -> dict[str, dict[str, type[BaseModel]]]:
    """Fields whose value is a tagged union: field name -> {tag: model} (for error messages)."""
    return {
        "camera": {
            "simulated": SimulatedCameraConfig,
            "replay": ReplayCameraConfig,
            "opencv": OpenCVCameraConfig,
            "micromanager": MicroManagerCameraConfig,
        }
    }
