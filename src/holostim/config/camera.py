"""The ``camera`` section: a tagged union whose keys depend on ``backend``, built from the registry.

The backends and their keys are not listed here: each registered camera class (see
:mod:`holostim.hardware.registry`) brings its ``Options`` model, and this module adds the ``backend``
tag to each and joins them into one union. A camera registered there is therefore accepted in a session
file, with its own keys checked and misspellings suggested, without a change here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Tag, create_model, field_validator

from holostim.config.types import refuse_bools
from holostim.hardware import registry

DEFAULT_BACKEND = "simulated"
"""The camera of a session that names none: the simulated rig's."""


def _section(name: str) -> type[BaseModel]:
    """The ``camera`` section for backend ``name``: its class's options plus the ``backend`` tag."""
    cls = registry.backend_class("camera", name)

    def no_bool_numbers(model: type[BaseModel], value: Any, info: Any) -> Any:
        return refuse_bools(model, value, info)  # ``exposure_ms: true`` is not 1 ms (see types.py)

    return create_model(
        f"{cls.__name__}Config",
        __base__=cls.Options,
        __doc__=cls.Options.__doc__,
        __module__=__name__,
        __validators__={
            "_no_bool_numbers": field_validator("*", mode="before")(classmethod(no_bool_numbers))},
        backend=(Literal[name], name),
    )


CAMERA_BACKENDS: tuple[str, ...] = registry.names("camera")
"""The camera backend names, in registry order."""

CAMERA_SECTIONS: dict[str, type[BaseModel]] = {name: _section(name) for name in CAMERA_BACKENDS}
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
