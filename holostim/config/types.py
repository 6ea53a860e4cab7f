"""Field types shared by every section: session-relative paths and bounded numbers.

Paths inside a session resolve relative to the session file's folder (the validation context's
``base_dir``), so a rig folder can be moved as a whole; the path types are :mod:`holostim.files`'s,
shared with the device backends whose options name a file.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from holostim.files import ExistingFile, ResolvedPath

__all__ = ["ExistingFile", "GrayFor2Pi", "NonNegativeFloat", "PositiveFloat", "ResolvedPath", "Section"]


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
GrayFor2Pi = Annotated[float, Field(ge=2, le=256)]


class Section(BaseModel):
    """Common settings: unknown keys are errors, values are validated and then immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
