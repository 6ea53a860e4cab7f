"""A session section per registered device backend: the backend class's ``Options`` plus the ``backend`` tag.

The camera and DAQ sections list no keys of their own: each registered class (see
:mod:`holostim.hardware.registry`) brings its ``Options`` model, and :func:`backend_sections` adds the
``backend`` tag to each, so a backend registered there is accepted in a session file, with its keys
checked and misspellings suggested, without a change to the config.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, create_model, field_validator

from holostim.config.types import refuse_bools
from holostim.hardware import registry


def _section(kind: str, name: str, tag_required: bool) -> type[BaseModel]:
    cls = registry.backend_class(kind, name)

    def no_bool_numbers(model: type[BaseModel], value: Any, info: Any) -> Any:
        return refuse_bools(model, value, info)  # ``exposure_ms: true`` is not 1 ms (see types.py)

    return create_model(
        f"{cls.__name__}Config",
        __base__=cls.Options,
        __doc__=cls.Options.__doc__,
        __module__=f"holostim.config.{kind}",
        __validators__={
            "_no_bool_numbers": field_validator("*", mode="before")(classmethod(no_bool_numbers))},
        backend=(Literal[name], ... if tag_required else name),
    )


def backend_sections(kind: str, *, tag_required: bool) -> dict[str, type[BaseModel]]:
    """Backend name → the model of a ``kind`` section with that backend, in registry order.

    ``tag_required``: whether the section must name its backend (a DAQ) or may leave it to the union's
    default (a camera: each model's tag defaults to its own name).
    """
    return {name: _section(kind, name, tag_required) for name in registry.names(kind)}
