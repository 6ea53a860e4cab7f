"""The ``daq`` section: ``null`` (no DAQ, the default) or a tagged union by ``backend``, from the registry.

As with the camera section (:mod:`holostim.config.camera`), the keys are not listed here: each
registered DAQ class (see :mod:`holostim.hardware.registry`) brings its ``Options`` model, and
:mod:`holostim.config.backends` adds the ``backend`` tag. ``daq: null`` or ``daq: {backend: none}``
means the session has no DAQ, so sessions written before DAQs existed stay valid.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Discriminator, Tag

from holostim.config.backends import backend_sections
from holostim.hardware import registry

DAQ_BACKENDS: tuple[str, ...] = registry.names("daq")
"""The DAQ backend names, in registry order (``none`` is not one: it is ``daq: null``)."""

DAQ_SECTIONS: dict[str, type[BaseModel]] = backend_sections("daq", tag_required=True)
"""Backend name → the model of a ``daq`` section with that backend."""


def _daq_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        got = value.get("backend")
        return got if isinstance(got, str) and got in DAQ_SECTIONS else None
    return getattr(value, "backend", None)


DaqConfig = Annotated[
    Union[tuple(Annotated[model, Tag(name)] for name, model in DAQ_SECTIONS.items())],  # noqa: UP007
    Discriminator(_daq_tag, custom_error_type="daq_backend", custom_error_message="unknown daq backend"),
]
"""The ``daq`` section of a session that has a DAQ: its keys depend on ``backend``."""


def no_daq(value: Any) -> Any:
    """``daq: {backend: none}`` (or ``none`` alone) is the same as ``daq: null``."""
    if value == "none" or (isinstance(value, dict) and value.get("backend") == "none" and len(value) == 1):
        return None
    return value


def tagged_models() -> dict[str, dict[str, type[BaseModel]]]:
    """Fields whose value is a tagged union: field name -> {tag: model} (for error messages)."""
    return {"daq": dict(DAQ_SECTIONS)}


def __getattr__(name: str) -> type[BaseModel]:
    for model in DAQ_SECTIONS.values():
        if model.__name__ == name:
            return model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
