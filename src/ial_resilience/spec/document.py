"""A YAML file read with ruamel.yaml's round-trip loader: plain data plus where each part is.

:func:`read_document` returns a :class:`Document` whose ``data`` is plain Python (dicts, lists,
str, int, float, bool, None) and whose position tables give the 1-based line and column of
every key and value, addressed by a path such as ``("method", 0, "with", "latency")``.
Malformed YAML raises one :class:`~ial_resilience.errors.SpecError` at the parser's position.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from ial_resilience.errors import Problem, SpecError

PathKey = tuple[str | int, ...]
Position = tuple[int, int]


@dataclass
class Document:
    """Plain data of a YAML file and the positions of its keys and values."""

    file: str
    data: Any
    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)
    text_offsets: dict[PathKey, int] = field(default_factory=dict)
    """For single-line scalars: columns between the value's position and its first character."""

    def value_at(self, path: PathKey) -> Position:
        """Position of the value at ``path``, or of its closest located ancestor."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return (1, 1)

    def key_at(self, path: PathKey) -> Position:
        """Position of the key at ``path`` (the value's for list items)."""
        return self.keys.get(path) or self.value_at(path)

    def problem(self, path: PathKey, found: str, expected: str, *, at_key: bool = False) -> Problem:
        line, column = self.key_at(path) if at_key else self.value_at(path)
        return Problem(self.file, line, column, format_path(path), found, expected)


def format_path(path: PathKey) -> str:
    """``("method", 0, "with", "latency")`` → ``method[0].with.latency``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_document(path: str | Path) -> Document:
    """Read and parse ``path``; ``SpecError`` for unreadable files and malformed YAML."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SpecError(
            [Problem(name, 1, 1, "", f"an unreadable file ({reason})", "a readable UTF-8 file")]
        ) from error
    return parse_document(text, name)


def parse_document(text: str, name: str) -> Document:
    """Parse YAML ``text`` coming from file ``name``."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        root = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = (error.problem or error.context or "").strip().removeprefix("found ")
        found = f"malformed YAML ({reason})" if reason else "malformed YAML"
        raise SpecError([Problem(name, line, column, "", found, "valid YAML")]) from error
    except YAMLError as error:
        raise SpecError([Problem(name, 1, 1, "", str(error).strip(), "valid YAML")]) from error
    document = Document(name, None)
    document.values[()] = _start(root)
    document.data = _convert(root, (), document)
    return document


def _start(node: Any) -> Position:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return (1, 1)
    return (lc.line + 1, lc.col + 1)


def _convert(node: Any, path: PathKey, document: Document) -> Any:
    if isinstance(node, CommentedMap):
        return _convert_map(node, path, document)
    if isinstance(node, CommentedSeq):
        return _convert_seq(node, path, document)
    return _scalar(node)


def _convert_map(node: CommentedMap, path: PathKey, document: Document) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in node.items():
        name = str(key)
        child = (*path, name)
        key_line, key_col = node.lc.key(key)
        value_line, value_col = node.lc.value(key)
        document.keys[child] = (key_line + 1, key_col + 1)
        document.values[child] = (value_line + 1, value_col + 1)
        _note_offset(value, child, document)
        result[name] = _convert(value, child, document)
    return result


def _convert_seq(node: CommentedSeq, path: PathKey, document: Document) -> list[Any]:
    result: list[Any] = []
    for index, value in enumerate(node):
        child = (*path, index)
        line, column = node.lc.item(index)
        document.values[child] = (line + 1, column + 1)
        _note_offset(value, child, document)
        result.append(_convert(value, child, document))
    return result


def _note_offset(value: Any, path: PathKey, document: Document) -> None:
    if isinstance(value, str) and "\n" not in value:
        quoted = isinstance(value, DoubleQuotedScalarString | SingleQuotedScalarString)
        document.text_offsets[path] = 1 if quoted else 0


def _scalar(node: Any) -> Any:
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, ScalarBoolean):
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, datetime.date):
        return node.isoformat()
    return str(node)
