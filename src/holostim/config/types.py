"""Field types shared by every section: session-relative paths, bounded numbers, strict numbers.

Paths inside a session resolve relative to the session file's folder (the validation context's
``base_dir``), so a rig folder can be moved as a whole; the path types are :mod:`holostim.files`'s,
shared with the device backends whose options name a file.

Numbers are strict in two ways pydantic's lax mode is not: ``true`` is never a number (pydantic would
read ``max_spots: true`` as 1, a limit nobody wrote), and NaN or infinity is never a setting (``.nan``
compares false with every limit, so a NaN bound is no bound).
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from holostim.files import ExistingFile, ResolvedPath

__all__ = ["ExistingFile", "GrayFor2Pi", "MAX_SIDE_PX", "NonNegativeFloat", "PositiveFloat", "ResolvedPath",
           "Section", "bool_where_number", "refuse_bools"]


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
GrayFor2Pi = Annotated[float, Field(ge=2, le=256)]

MAX_SIDE_PX = 8192
"""The largest SLM or camera side a session accepts.

The largest phase-only SLMs have 4160 × 2464 pixels and scientific cameras about 6000 per side; 8192
leaves room for both while keeping one complex64 field (8192² × 8 B = 512 MiB) within a workstation:
a 100000 × 100000 panel would be refused only by a MemoryError when the engine plans its FFTs.
"""


def _strip(ann: Any) -> Any:
    while get_origin(ann) is Annotated:
        ann = get_args(ann)[0]
    return ann


def _is_union(ann: Any) -> bool:
    return get_origin(ann) in (Union, types.UnionType)


def _takes_bool(ann: Any) -> bool:
    ann = _strip(ann)
    if ann is bool or ann is Any:
        return True
    if get_origin(ann) is Literal:
        return any(isinstance(a, bool) for a in get_args(ann))
    return _is_union(ann) and any(_takes_bool(a) for a in get_args(ann))


def _numeric(ann: Any) -> bool:
    ann = _strip(ann)
    if ann in (int, float):
        return True
    return _is_union(ann) and any(_numeric(a) for a in get_args(ann))


def bool_where_number(ann: Any, value: Any) -> bool:
    """True when ``value`` holds a bool where ``ann`` wants a number (and no bool), at any depth."""
    ann = _strip(ann)
    if isinstance(value, bool):
        return _numeric(ann) and not _takes_bool(ann)
    if _is_union(ann):
        return any(bool_where_number(a, value) for a in get_args(ann))
    origin, args = get_origin(ann), get_args(ann)
    if isinstance(value, (list, tuple)) and origin in (tuple, list) and args:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return any(bool_where_number(a, v) for a, v in zip(args, value, strict=False))
        return any(bool_where_number(args[0], v) for v in value)
    if isinstance(value, dict) and origin is dict and len(args) == 2:
        return any(bool_where_number(args[0], k) or bool_where_number(args[1], v) for k, v in value.items())
    return False


def refuse_bools(model: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """Before-validator body: refuse ``true``/``false`` given for a number of ``model``'s field."""
    field = model.model_fields.get(info.field_name or "")
    if field is not None and bool_where_number(field.annotation, value):
        raise ValueError(f"true/false is not a number; write the number, got {value!r}")
    return value


class Section(BaseModel):
    """Common settings: unknown keys are errors, values are validated and then immutable.

    Numbers are strict (module docstring): no bools for numbers, no NaN or infinity anywhere.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        return refuse_bools(cls, value, info)
