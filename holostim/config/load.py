"""Reading a session file: YAML with line marks, then the schema, errors as one line each."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from holostim.config.messages import ConfigError, problems
from holostim.config.schema import SessionConfig


def _key_marks(node: yaml.Node | None) -> dict[tuple[str, ...], tuple[int, int]]:
    """Map every key path to ``(line of the key, line of the value)``, 1-based."""
    marks: dict[tuple[str, ...], tuple[int, int]] = {}

    def walk(n: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                p = (*path, str(k.value))
                marks[p] = (k.start_mark.line + 1, v.start_mark.line + 1)
                walk(v, p)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                p = (*path, str(i))
                marks[p] = (v.start_mark.line + 1, v.start_mark.line + 1)
                walk(v, p)

    if node is not None:
        marks[()] = (node.start_mark.line + 1, node.start_mark.line + 1)
        walk(node, ())
    return marks


def parse_config(text: str, *, file: str = "<string>", base_dir: str | Path | None = None) -> SessionConfig:
    """Validate session YAML text; relative paths resolve against ``base_dir`` (default: cwd)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([(file, line, "", f"YAML syntax error: {exc.problem or exc.context}")]) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        got = type(data).__name__
        raise ConfigError([(file, 1, "", f"a session must be a mapping of sections, got {got}")])
    marks = _key_marks(node)
    try:
        base = Path(base_dir or Path.cwd()).resolve()
        return SessionConfig.model_validate(data, context={"base_dir": base})
    except ValidationError as exc:
        raise ConfigError(problems(exc, marks, file)) from None


def load_config(path: str | Path) -> SessionConfig:
    """Read and validate a session file; errors name the file, line and key path.

    Raises
    ------
    ConfigError
        The file is missing or unreadable, is not valid YAML, or does not match the schema.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([(str(path), None, "", "session file does not exist")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([(str(path), None, "", f"cannot read the session file: {exc}")]) from None
    return parse_config(text, file=str(path), base_dir=path.resolve().parent)

