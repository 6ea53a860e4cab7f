"""Reading a holostim file: YAML with line marks, then a pydantic model, errors as one line each.

Every hand-written holostim file (a session, a stimulation protocol) is read here, by
:func:`parse_model` / :func:`load_model`, so each gets the same strictness and the same
``file:line: key: message`` errors; ``what`` ("session", "protocol") only names the kind of file in
messages. :func:`parse_config` / :func:`load_config` are those for :class:`SessionConfig`.

The YAML reader is PyYAML's safe loader with three things such a file never needs taken away, each
because it lets a short file mean something other than what it shows:

- **Aliases and merge keys** (``*name``, ``<<``) are refused altogether. Nine lines of nested aliases
  expand to 10⁹ nodes ("billion laughs") and ``x: &a [*a]`` is a cycle; a budget would still let a
  value stand for another one far away in the file. A session is a short, hand-written list of settings,
  so refusing every alias costs nothing and leaves no budget to tune.
- **Duplicate keys** are errors naming both lines: PyYAML lets the second ``safety:`` win silently, which
  would replace every limit of the first.
- **YAML 1.1 sexagesimal numbers** (``1:30`` → 90) are not resolved: the int and float resolvers are the
  YAML 1.2 ones, so ``refresh_hz: 1:30`` is the string ``'1:30'``, which the schema refuses.

Control characters and invalid UTF-8 are reported with their line, like any other syntax error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from holostim.config.messages import ConfigError, problems
from holostim.config.schema import SessionConfig

_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""", re.X)
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
M = TypeVar("M", bound=BaseModel)


class _Resolver(yaml.resolver.Resolver):
    """PyYAML's resolver without the sexagesimal forms: ``1:30`` stays a string."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_Resolver.add_implicit_resolver(_INT_TAG, _INT, list("-+0123456789"))
# Also ``1e9`` (no dot), which YAML 1.1 reads as a string and a user means as a number.
_Resolver.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


class _Composer(yaml.composer.Composer):
    """Composes nodes but refuses aliases and merge keys (see the module docstring)."""

    what = "session"

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed in a {self.what} file; write the "
                "value out", event.start_mark)
        return super().compose_node(parent, index)


class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, _Composer,
              yaml.constructor.SafeConstructor, _Resolver):
    """The safe loader with :class:`_Composer` and :class:`_Resolver`."""

    def __init__(self, stream: str, what: str = "session"):
        self.what = what
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)


def _key_marks(
    node: yaml.Node | None, file: str, what: str = "session"
) -> dict[tuple[str, ...], tuple[int, int]]:
    """Map every key path to ``(line of the key, line of the value)``, 1-based; refuse duplicate keys."""
    marks: dict[tuple[str, ...], tuple[int, int]] = {}

    def walk(n: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                p = (*path, str(k.value))
                line = k.start_mark.line + 1
                if k.tag == "tag:yaml.org,2002:merge":
                    raise ConfigError([(file, line, ".".join(path), "merge keys (<<) are not allowed in a "
                                        f"{what} file; write the keys out")])
                if p in marks:
                    raise ConfigError([(file, line, ".".join(p), f"duplicate key (first at line "
                                        f"{marks[p][0]}); a second value would silently replace the first")])
                marks[p] = (line, v.start_mark.line + 1)
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


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, max(0, position)) + 1


def parse_model(text: str, model: type[M], *, file: str = "<string>", base_dir: str | Path | None = None,
                what: str = "session") -> M:
    """Validate YAML ``text`` as ``model``; relative paths resolve against ``base_dir`` (default: cwd).

    Parameters
    ----------
    text : str
        The file's content.
    model : pydantic model class
        What the file must be (its top level is a mapping of sections).
    file : str
        The name errors give for the file.
    base_dir : path, optional
        The folder relative paths start at (the validation context's ``base_dir``): the file's own.
    what : str
        The kind of file, for messages ("a protocol must be a mapping of sections").

    Raises
    ------
    ConfigError
        Not valid YAML (or aliases, merge keys, duplicate keys, control characters), or not ``model``;
        one ``(file, line, key, message)`` per problem.
    """
    loader = None
    try:
        loader = _Loader(text, what)
        node = loader.get_single_node()
        marks = _key_marks(node, file, what)  # before constructing: duplicates must not be merged silently
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        msg = f"control character {char} is not allowed; a {what} file is plain text"
        raise ConfigError([(file, _line_of(text, exc.position), "", msg)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([(file, line, "", f"YAML syntax error: {exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([(file, None, "", f"YAML syntax error: {exc}")]) from None
    except RecursionError:
        raise ConfigError([(file, None, "", f"YAML nested too deeply for a {what} file")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        got = type(data).__name__
        raise ConfigError([(file, 1, "", f"a {what} must be a mapping of sections, got {got}")])
    try:
        base = Path(base_dir or Path.cwd()).resolve()
        # A fresh dict per file: a model may note what it has seen in it for later fields (the protocol's
        # pattern names, so that a step naming an unknown one is reported at that step's key).
        return model.model_validate(data, context={"base_dir": base})
    except ValidationError as exc:
        raise ConfigError(problems(exc, marks, file, model)) from None


def load_model(path: str | Path, model: type[M], *, what: str = "session") -> M:
    """Read and validate a file as ``model``; relative paths start at its folder; errors name file and line.

    Raises
    ------
    ConfigError
        The file is missing or unreadable, is not valid UTF-8 YAML, or does not match ``model``.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([(str(path), None, "", f"{what} file does not exist")]) from None
    except IsADirectoryError:
        raise ConfigError([(str(path), None, "", f"is a directory, not a {what} file")]) from None
    except OSError as exc:
        raise ConfigError([(str(path), None, "", f"cannot read the {what} file: {exc}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError([(str(path), line, "", f"not UTF-8 text (byte {raw[exc.start]:#04x} at offset "
                            f"{exc.start}); a {what} file is plain UTF-8 text")]) from None
    return parse_model(text, model, file=str(path), base_dir=path.resolve().parent, what=what)


def parse_config(text: str, *, file: str = "<string>", base_dir: str | Path | None = None) -> SessionConfig:
    """Validate session YAML text; relative paths resolve against ``base_dir`` (default: cwd)."""
    return parse_model(text, SessionConfig, file=file, base_dir=base_dir, what="session")


def load_config(path: str | Path) -> SessionConfig:
    """Read and validate a session file; errors name the file, line and key path.

    Raises
    ------
    ConfigError
        The file is missing or unreadable, is not valid YAML, or does not match the schema.
    """
    return load_model(path, SessionConfig, what="session")
