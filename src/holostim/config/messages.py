"""Turning pydantic's validation errors into one line per problem: file, line, key path, fix.

Each message says what was expected and suggests the closest valid key or value, so a user at the rig
can fix the file without reading the schema. The messages work for any model read by
:func:`holostim.config.load.parse_model` (a session, a protocol): the key owning an unknown key is found by
following the model's own fields (through lists, dicts and optional values); only the session has
tagged-union sections (``camera``, ``daq``), whose backend tag is not a key the user wrote.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from holostim.config.camera import CAMERA_BACKENDS
from holostim.config.camera import tagged_models as camera_tagged
from holostim.config.daq import DAQ_BACKENDS
from holostim.config.daq import tagged_models as daq_tagged
from holostim.config.schema import SessionConfig
from holostim.errors import HolostimError


class ConfigError(HolostimError, ValueError):
    """A session (or other holostim) file that cannot be used: syntax, unknown key, wrong value, missing file.

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


def tagged_models(model: type[BaseModel] | None = None) -> dict[str, dict[str, type[BaseModel]]]:
    """Every tagged-union section of ``model`` (default: the session): field name -> {tag: model}.

    Only the session has them; any other model gets ``{}``, so a protocol pattern that happens to be
    called ``camera`` is not mistaken for the camera section.
    """
    if model is not None and model is not SessionConfig:
        return {}
    return {**camera_tagged(), **daq_tagged()}


def _model_at(loc: tuple[Any, ...], root: type[BaseModel] = SessionConfig) -> type[BaseModel] | None:
    """The model class that owns the key at pydantic location ``loc`` (for 'did you mean')."""
    tagged = tagged_models(root)
    model: type[BaseModel] = root
    parts = list(loc[:-1])
    i = 0
    while i < len(parts):
        part = parts[i]
        i += 1
        if isinstance(part, int):
            continue
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue  # pydantic's union-branch and type markers
        if part in tagged and i < len(parts) and parts[i] in tagged[part]:
            model = tagged[part][parts[i]]
            i += 1
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        if _is_mapping(field.annotation) and i < len(parts):
            i += 1  # the next part is a key of this mapping (a pattern's name), not a field
        nxt = _find_model(field.annotation)
        if nxt is None:
            return None
        model = nxt
    return model


def _is_mapping(ann: Any) -> bool:
    """True when ``ann`` (through Optional/Annotated) is a ``dict[...]``: the next location part is a key."""
    origin = get_origin(ann)
    if origin is dict:
        return True
    return any(_is_mapping(a) for a in get_args(ann) or ()) if origin is not None else False


def _find_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _user_loc(loc: tuple[Any, ...], root: type[BaseModel] = SessionConfig) -> tuple[Any, ...]:
    """The location as the user wrote it: without union tags and pydantic's type/key markers."""
    tagged = tagged_models(root)
    out: list[Any] = []
    for part in loc:
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        if out and isinstance(out[-1], str) and out[-1] in tagged and part in tagged[out[-1]]:
            continue
        out.append(part)
    return tuple(out)


def _describe(err: dict[str, Any], loc: tuple[Any, ...], root: type[BaseModel] = SessionConfig) -> str:
    kind = err["type"]
    msg = re.sub(r"^(Value|Assertion) error, ", "", err["msg"])
    if kind == "extra_forbidden":
        model = _model_at(loc, root)
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
        expected = err.get("ctx", {}).get("expected", "")
        # Strings come quoted ("'fixed' or 'random'"); numbers bare ("1").
        allowed = re.findall(r"'([^']*)'", expected) or re.split(r",\s*|\s+or\s+", expected.strip())
        close = difflib.get_close_matches(str(err.get("input")), allowed, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{err.get('input')!r} is not allowed; use one of {', '.join(allowed)}{hint}"
    if kind.endswith("_type") or kind.endswith("_parsing") or kind.startswith(("greater", "less")):
        return f"{msg}, got {err.get('input')!r}"
    return msg


def problems(
    exc: ValidationError, marks: dict[tuple[str, ...], tuple[int, int]], file: str,
    model: type[BaseModel] = SessionConfig,
) -> list[tuple[str, int | None, str, str]]:
    """``(file, line, key_path, message)`` for every error in ``exc`` (from ``model``), in file order."""
    out = []
    for err in exc.errors(include_url=False):
        # Drop pydantic's union-branch and type tags from the location; keep real keys and indices.
        raw = tuple(err["loc"])
        loc = _user_loc(raw, model)
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
        out.append((file, line, key_path, _describe(err, raw, model)))
    return sorted(out, key=lambda p: (p[1] or 0))
