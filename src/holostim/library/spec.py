"""The library spec (version 1): which target sets a mask library holds and how their masks are computed.

A library is built once, unattended, for thousands of sets, so its spec is read like a session
(:func:`holostim.config.load.load_model`: no aliases, duplicate keys are errors, ``file:line: key:
message``). Exactly one way of listing the sets is given under ``sets``:

- ``files``: target files (the GUI's CSV/JSON, camera px); each file is one set, named by its stem.
- ``table``: one CSV with a column naming each row's set (``set_column``); a set's rows are its targets.
- ``subsets``: every ``k``-subset of ``targets_file`` (in lexicographic order of the targets' rows).
- ``random``: ``count`` distinct random ensembles of ``k`` targets of ``targets_file``, drawn with ``seed``.

Targets keep the weight of their file's row (the relative power of each spot); ``power_mw_per_spot``
(per library, or a table's column of that name per set) is what a protocol playing the set asks of the
laser. ``compute`` has the engine's words (``method``, ``iterations``) and the ``seed`` from which each
set's own seed is derived (:func:`set_seed`), so a set's mask does not depend on which worker computed it
or in what order; ``batch`` is how many sets a worker computes in one FFT stack (``auto``: see
:mod:`holostim.library.batch`), which changes no mask. Reading the target files themselves is
:mod:`holostim.library.sets`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from holostim.config.load import load_model, parse_model
from holostim.config.messages import ConfigError
from holostim.config.types import ResolvedPath, Section
from holostim.errors import HolostimError
from holostim.holography.methods import METHODS

__all__ = ["MAX_BATCH", "MAX_SETS", "SPEC_VERSION", "ComputeSpec", "LibrarySpec", "LibrarySpecError",
           "LibrarySpecFileError",
           "SetsSpec", "load_spec", "parse_spec", "set_seed"]

SPEC_VERSION = 1
MAX_SETS = 100_000
"""Sets per library: 100 000 masks of 1024² are 100 GB of frames, more than one rig's disk should hold."""
MAX_SEED = 2**63 - 1
MAX_BATCH = 64
"""Sets per FFT stack: 64 masks of 1024² in complex64 are 512 MiB of buffer, a GPU's share, not a CPU's."""


class LibrarySpecError(HolostimError, ValueError):
    """A library spec, or a file it names, that cannot be used: one line naming the file and what to fix."""


class LibrarySpecFileError(ConfigError, LibrarySpecError):
    """The spec file itself: bad YAML or not a library spec (``file:line: key: message`` per problem)."""


SetId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class TableSpec(Section):
    """One CSV of targets, ``x_camera_px,y_camera_px[,weight][,power_mw_per_spot]`` and a set column."""

    file: ResolvedPath
    set_column: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "set"


class SubsetsSpec(Section):
    """Every ``k``-subset of the library's ``targets_file``."""

    k: Annotated[int, Field(ge=1, le=1000)]


class RandomSpec(Section):
    """``count`` distinct ensembles of ``k`` targets of ``targets_file``, drawn with ``seed``."""

    count: Annotated[int, Field(ge=1, le=MAX_SETS)]
    k: Annotated[int, Field(ge=1, le=1000)]
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0


class SetsSpec(Section):
    """How the sets are listed: exactly one of ``files``, ``table``, ``subsets``, ``random``."""

    files: Annotated[list[ResolvedPath], Field(min_length=1, max_length=MAX_SETS)] | None = None
    table: TableSpec | None = None
    subsets: SubsetsSpec | None = None
    random: RandomSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SetsSpec:
        given = [k for k in ("files", "table", "subsets", "random") if getattr(self, k) is not None]
        if len(given) != 1:
            what = "none" if not given else " and ".join(given)
            raise ValueError(f"give exactly one of files, table, subsets, random (got {what})")
        return self

    @property
    def kind(self) -> str:
        """Which of the four ways lists the sets."""
        return next(k for k in ("files", "table", "subsets", "random") if getattr(self, k) is not None)


class ComputeSpec(Section):
    """The engine's words for every mask of the library."""

    method: str = "wgs"
    iterations: Annotated[int, Field(ge=0, le=10_000)] = 30
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    batch: Literal["auto"] | Annotated[int, Field(ge=1, le=MAX_BATCH)] = "auto"
    """Sets per FFT stack on a worker (:mod:`holostim.library.batch`): ``auto`` or a number. It never
    changes a mask, only how fast they come, so it is not part of the library's fingerprint."""

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in METHODS:
            raise ValueError(f"unknown method {value!r}; one of {', '.join(METHODS)}")
        return value


class LibrarySpec(Section):
    """A mask library (version 1): its sets, their power, the compute, and what is stored."""

    version: Literal[1]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    targets_file: ResolvedPath | None = None
    sets: SetsSpec
    power_mw_per_spot: Annotated[float, Field(gt=0, le=1000)] | None = None
    compute: ComputeSpec = ComputeSpec()
    output: Literal["frames", "phases"] = "frames"
    chunk_sets: Annotated[int, Field(ge=1, le=1024)] = 8

    @field_validator("version", mode="before")
    @classmethod
    def _known_version(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"true/false is not a version number; write version: {SPEC_VERSION}")
        if isinstance(value, int) and value != SPEC_VERSION:
            raise ValueError(f"library spec version {value} is not supported; this holostim reads version "
                             f"{SPEC_VERSION}")
        return value

    @model_validator(mode="after")
    def _pool_for_generated_sets(self) -> LibrarySpec:
        kind = self.sets.kind
        if kind in ("subsets", "random") and self.targets_file is None:
            raise ValueError(f"sets.{kind} draws from targets_file: name the target file to draw from")
        if kind in ("files", "table") and self.targets_file is not None:
            raise ValueError(f"targets_file is only for sets.subsets/random; sets.{kind} names its own files")
        return self


def set_seed(seed: int, set_id: str) -> int:
    """The engine seed of one set: a hash of the library's seed and the set's id, never of its position.

    So a set's mask is the same whichever worker computes it, in whatever order, in a library of any size
    (``holostim compute`` of the same spots with this seed gives the same bytes).
    """
    digest = hashlib.sha256(f"{int(seed)}/{set_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def parse_spec(text: str, *, file: str = "<string>", base_dir: str | Path | None = None) -> LibrarySpec:
    """Validate library spec YAML text; relative files resolve against ``base_dir`` (default: cwd)."""
    try:
        return parse_model(text, LibrarySpec, file=file, base_dir=base_dir, what="library spec")
    except ConfigError as exc:
        raise LibrarySpecFileError(exc.problems) from None


def load_spec(path: str | Path) -> LibrarySpec:
    """Read and validate a library spec; relative files start at its folder; errors name file, line, key."""
    try:
        return load_model(path, LibrarySpec, what="library spec")
    except ConfigError as exc:
        raise LibrarySpecFileError(exc.problems) from None
