"""Field types shared by every section: session-relative paths and bounded numbers.

Paths inside a session resolve relative to the session file's folder (the validation context's
``base_dir``), so a rig folder can be moved as a whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo


def _base_dir(info: ValidationInfo) -> Path:
    ctx = info.context or {}
    return Path(ctx.get("base_dir") or Path.cwd())


def _resolve(value: Path, info: ValidationInfo) -> Path:
    p = Path(os.path.expanduser(str(value)))
    if not p.is_absolute():
        p = _base_dir(info) / p
    return Path(os.path.normpath(p))


def _resolve_existing(value: Path, info: ValidationInfo) -> Path:
    p = _resolve(value, info)
    if not p.is_file():
        raise ValueError(
            f"file {str(p)!r} does not exist (relative paths start at the session file's folder)"
        )
    return p


ResolvedPath = Annotated[Path, AfterValidator(_resolve)]
"""A path that may not exist yet (calibration output, log folder)."""

ExistingFile = Annotated[Path, AfterValidator(_resolve_existing)]
"""A path that must name an existing file when the session is loaded."""

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
GrayFor2Pi = Annotated[float, Field(ge=2, le=256)]


class Section(BaseModel):
    """Common settings: unknown keys are errors, values are validated and then immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
