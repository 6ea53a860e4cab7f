"""The ``camera`` section: a tagged union whose keys depend on ``backend``, built from the registry.

The backends and their keys are not listed here: each registered camera class brings its ``Options``
model (:mod:`holostim.config.backends` adds the ``backend`` tag), and this module joins them into one
union, so a camera registered in :mod:`holostim.hardware.registry` is a valid session camera.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Discriminator, Tag

from holostim.config.backends import backend_sections
from holostim.hardware import registry

DEFAULT_BACKEND = "simulated"
"""The camera of a session that names none: the simulated rig's."""


CAMERA_BACKENDS: tuple[str, ...] = registry.names("camera")
"""The camera backend names, in registry order."""

CAMERA_SECTIONS: dict[str, type[BaseModel]] = backend_sections("camera", tag_required=False)
"""Backend name → the model of a ``camera`` section with that backend."""

SimulatedCameraConfig = CAMERA_SECTIONS[DEFAULT_BACKEND]
"""The default ``camera`` section."""


def _camera_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("backend", DEFAULT_BACKEND))
    return getattr(value, "backend", None)


CameraConfig = Annotated[
    Union[tuple(Annotated[model, Tag(name)] for name, model in CAMERA_SECTIONS.items())],  # noqa: UP007
    Discriminator(_camera_tag, custom_error_type="camera_backend",
                  custom_error_message="unknown camera backend"),
]
"""The ``camera`` section: its keys depend on ``backend``."""


def tagged_models() -> dict[str, dict[str, type[BaseModel]]]:
    """Fields whose value is a tagged union: field name -> {tag: model} (for error messages)."""
    return {"camera": dict(CAMERA_SECTIONS)}


def __getattr__(name: str) -> type[BaseModel]:
    # The sections keep their class names (``ReplayCameraConfig``, ...) importable without a list of them.
    for model in CAMERA_SECTIONS.values():
        if model.__name__ == name:
            return model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
