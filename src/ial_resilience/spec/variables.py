"""``${name}`` substitution in the string values of experiment, suite and system files.

Sources, highest precedence first: ``--var name=value`` (and a suite entry's ``vars``), the
system file's ``vars`` and its links (``${links.NAME}`` is link NAME's listen address
``host:port``), then the process environment. ``$${x}`` is written as a literal ``${x}``.
An unknown or malformed name is a :class:`~ial_resilience.errors.Problem` at its own
line and column; every one is reported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ial_resilience.errors import InputError, Problem
from ial_resilience.spec.document import Document, PathKey, format_path

_TOKEN = re.compile(r"\$\$\{|\$\{([^}$]*)\}|\$\{")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.>\-]*$")
SOURCES = "--var NAME=VALUE, the system file's vars, or the environment"


@dataclass(frozen=True)
class Variables:
    """Where ``${name}`` values come from, highest precedence first."""

    cli: Mapping[str, str] = field(default_factory=dict)
    system: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def lookup(self, name: str) -> str | None:
        for source in (self.cli, self.system, self.environ):
            if name in source:
                return source[name]
        return None

    def with_cli(self, extra: Mapping[str, str]) -> Variables:
        """These variables with ``extra`` under the ``--var`` ones (a suite entry's vars)."""
        return Variables({**extra, **self.cli}, self.system, self.environ)


@dataclass(frozen=True)
class Unresolved:
    """A reference that could not be substituted: where in the string, and why."""

    offset: int
    text: str
    expected: str


def substitute(text: str, variables: Variables) -> tuple[str, list[Unresolved]]:
    """``text`` with every ``${name}`` replaced; unresolved references are listed, kept as is."""
    problems: list[Unresolved] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        name = match.group(1)
        if name is None:
            problems.append(Unresolved(match.start(), "an unclosed ${", "${name} closed by }"))
            return token
        if not _NAME.match(name):
            expected = "a variable name of letters, digits, _ . - (starting with a letter or _)"
            problems.append(Unresolved(match.start(), f"the variable name {name!r}", expected))
            return token
        value = variables.lookup(name)
        if value is None:
            expected = f"a variable defined by {SOURCES} (write $${{…}} for a literal ${{…}})"
            problems.append(Unresolved(match.start(), f"unknown variable ${{{name}}}", expected))
            return token
        return value

    return _TOKEN.sub(replace, text), problems


def substitute_document(
    document: Document, variables: Variables, *, skip: Iterable[str] = ()
) -> list[Problem]:
    """Substitute every string value of ``document.data`` in place; return the problems.

    Top-level keys in ``skip`` (a system file's ``vars``) are left as written.
    """
    skipped = set(skip)
    problems: list[Problem] = []
    for path, parent, key, text in _strings(document.data, ()):
        if path and path[0] in skipped:
            continue
        value, unresolved = substitute(text, variables)
        parent[key] = value
        problems.extend(_locate(document, path, item) for item in unresolved)
    return problems


def _locate(document: Document, path: PathKey, item: Unresolved) -> Problem:
    line, column = document.value_at(path)
    if path in document.text_offsets:
        column += document.text_offsets[path] + item.offset
    return Problem(document.file, line, column, format_path(path), item.text, item.expected)


def _strings(node: Any, path: PathKey) -> Iterator[tuple[PathKey, Any, Any, str]]:
    items: Iterable[tuple[Any, Any]]
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return
    for key, value in items:
        child = (*path, key)
        if isinstance(value, str) and "$" in value:
            yield child, node, key, value
        else:
            yield from _strings(value, child)


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["k=v", …]`` from ``--var`` flags; ``InputError`` for an item without ``=``."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not _NAME.match(name.strip()):
            raise InputError(
                f"--var {item!r} is not NAME=VALUE",
                hint="write --var name=value, e.g. --var lb=http://127.0.0.1:8080",
            )
        result[name.strip()] = value
    return result
