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
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from holostim.files import ExistingFile, ResolvedPath, atomic_write_text

__all__ = ["ExistingFile", "GrayFor2Pi", "MAX_SIDE_PX", "NonNegativeFloat", "PositiveFloat", "ResolvedPath",
           "Section", "YamlDocument", "bool_where_number", "refuse_bools"]


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
GrayFor2Pi = Annotated[float, Field(ge=2, le=4096)]  # the depth's own bound: slm.bits (gray_scale)

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


class YamlDocument:
    """A model that is a whole file (a session, a protocol): YAML in the schema's key order, saved atomically.

    The model brings ``to_dict(relative_to)`` (plain values, paths relative to the file's folder) and
    its ``yaml_header`` comment line; :meth:`save` writes what its loader reads back.
    """

    yaml_header: ClassVar[str] = ""

    def to_dict(self, relative_to: str | Path | None = None) -> dict[str, Any]:  # pragma: no cover
        """Plain values (the model's own)."""
        raise NotImplementedError

    def to_yaml(self, relative_to: str | Path | None = None) -> str:
        """The file's text: the header comment, then the values in the schema's key order."""
        text = yaml.safe_dump(self.to_dict(relative_to), sort_keys=False, allow_unicode=True)
        return self.yaml_header + text

    def save(self, path: str | Path) -> Path:
        """Write the file atomically (paths relative to its folder where below it)."""
        path = Path(path)
        return atomic_write_text(path, self.to_yaml(relative_to=path.parent))
