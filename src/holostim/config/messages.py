"""Turning pydantic's validation errors into one line per problem: file, line, key path, fix.

Each message says what was expected and suggests the closest valid key or value, so a user at the rig
can fix the session file without reading the schema.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from holostim.config.camera import CAMERA_BACKENDS
from holostim.config.camera import tagged_models as camera_tagged
from holostim.config.daq import DAQ_BACKENDS
from holostim.config.daq import tagged_models as daq_tagged
from holostim.config.schema import SessionConfig
from holostim.errors import HolostimError


class ConfigError(HolostimError, ValueError):
    """A session file that cannot be used: syntax, unknown key, wrong type or value, missing file.

    Attributes
    ----------
    problems : list of tuple
        ``(file, line, key_path, message)`` for every problem found; ``str(error)`` joins them on one
        line so the CLI can print it as is.
    """

    def __init__(self, problems: list[tuple[str, int | None, str, str]]):
        self.problems = list(problems)
        parts = []
        for file, line, key, msg in self.problems:
            where = f"{file}:{line}" if line else file
            parts.append(f"{where}: {key}: {msg}" if key else f"{where}: {msg}")
        super().__init__("; ".join(parts))


def tagged_models() -> dict[str, dict[str, type[BaseModel]]]:
    """Every tagged-union section: field name -> {tag: model}."""
    return {**camera_tagged(), **daq_tagged()}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the key at pydantic location ``loc`` (for 'did you mean')."""
    tagged = tagged_models()
    model: type[BaseModel] = SessionConfig
    parts = list(loc[:-1])
    i = 0
    while i < len(parts):
        part = parts[i]
        i += 1
        if isinstance(part, int):
            continue
        if part in tagged and i < len(parts) and parts[i] in tagged[part]:
            model = tagged[part][parts[i]]
            i += 1
            continue
        field = model.model_fields.get(part)
        nxt = _find_model(field.annotation) if field is not None else None
        if nxt is None:
            return None
        model = nxt
    return model


def _find_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _user_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The location as the user wrote it: without union tags and pydantic's type/key markers."""
    tagged = tagged_models()
    out: list[Any] = []
    for part in loc:
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        if out and isinstance(out[-1], str) and out[-1] in tagged and part in tagged[out[-1]]:
            continue
        out.append(part)
    return tuple(out)


def _describe(err: dict[str, Any], loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    msg = re.sub(r"^(Value|Assertion) error, ", "", err["msg"])
    if kind == "extra_forbidden":
        model = _model_at(loc)
        allowed = sorted(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key{hint} (allowed here: {', '.join(allowed)})" if allowed else f"unknown key{hint}"
    if kind == "camera_backend":
        got = err.get("input", {}).get("backend") if isinstance(err.get("input"), dict) else err.get("input")
        close = difflib.get_close_matches(str(got), CAMERA_BACKENDS, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown camera backend {got!r}; use one of {', '.join(CAMERA_BACKENDS)}{hint}"
    if kind == "daq_backend":
        got = err.get("input", {}).get("backend") if isinstance(err.get("input"), dict) else err.get("input")
        if got is None:
            return f"daq needs a backend: one of none, {', '.join(DAQ_BACKENDS)}"
        close = difflib.get_close_matches(str(got), DAQ_BACKENDS, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown daq backend {got!r}; use one of none, {', '.join(DAQ_BACKENDS)}{hint}"
    if kind == "missing":
        if loc and isinstance(loc[-1], int):
            return f"item {loc[-1]} is missing (too few values in this list)"
        return "required key is missing"
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
        close = difflib.get_close_matches(str(err.get("input")), allowed, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{err.get('input')!r} is not allowed; use one of {', '.join(allowed)}{hint}"
    if kind.endswith("_type") or kind.endswith("_parsing") or kind.startswith(("greater", "less")):
        return f"{msg}, got {err.get('input')!r}"
    return msg


def problems(
    exc: ValidationError, marks: dict[tuple[str, ...], tuple[int, int]], file: str
) -> list[tuple[str, int | None, str, str]]:
    """``(file, line, key_path, message)`` for every error in ``exc``, in file order."""
    out = []
    for err in exc.errors(include_url=False):
        # Drop pydantic's union-branch and type tags from the location; keep real keys and indices.
        raw = tuple(err["loc"])
        loc = _user_loc(raw)
        if err["type"] in ("camera_backend", "daq_backend"):  # the tag decides the union: the backend key
            loc = (*loc, "backend")
        key_path = ".".join(str(p) for p in loc)
        parts = tuple(str(p) for p in loc)
        line = None
        for n in range(len(parts), -1, -1):
            if parts[:n] in marks:
                key_line, value_line = marks[parts[:n]]
                line = key_line if (n < len(parts) or err["type"] == "extra_forbidden") else value_line
                break
        out.append((file, line, key_path, _describe(err, raw)))
    return sorted(out, key=lambda p: (p[1] or 0))
