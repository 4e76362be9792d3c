"""Turn pydantic validation errors into :class:`~ial_resilience.errors.Problem` s at YAML positions.

A pydantic error location (``("method", 0, "network.latency", "with", "latency")``) is walked
against the file's data: keys and indexes present in the data form the path, union tags are
skipped, a trailing absent key is a missing one. Unknown keys are reported at the key with the
keys the model allows ("did you mean …"); everything else at the value.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ial_resilience.errors import Problem
from ial_resilience.faults.vocabulary import unknown_fault_message
from ial_resilience.spec.document import Document, PathKey, format_path

HIDDEN_FIELDS = frozenset({"source"})

_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "dict_type": "a mapping of key: value",
    "model_type": "a mapping of key: value",
    "model_attributes_type": "a mapping of key: value",
    "list_type": "a list",
    "tuple_type": "a list",
    "string_too_short": "a non-empty string",
    "string_pattern_mismatch": "a name of letters, digits, _ and :",
}


def validation_problems(
    document: Document, error: ValidationError, root: type[BaseModel]
) -> list[Problem]:
    """One problem per distinct pydantic error, in file order."""
    problems: dict[tuple[int, int, str], Problem] = {}
    for item in error.errors(include_url=False):
        problem = _problem(document, dict(item), root)
        problems.setdefault((problem.line, problem.column, problem.key), problem)
    return list(problems.values())


def _problem(document: Document, item: dict[str, Any], root: type[BaseModel]) -> Problem:
    path, state = data_path(document.data, tuple(item["loc"]))
    kind = item["type"]
    if state == "missing":
        return _missing(document, path, root)
    if kind == "extra_forbidden":
        return _unknown_key(document, path, root)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _unknown_fault(document, path, root, item)
    found = _found(item)
    if state == "key":
        found = f"the key {item['input']!r}"
    expected = _expected(item)
    return document.problem(path, found, expected, at_key=state == "key")


def data_path(data: Any, loc: tuple[Any, ...]) -> tuple[PathKey, str]:
    """The data path of a pydantic location and its state: ``value``, ``key`` or ``missing``."""
    node = data
    path: list[str | int] = []
    for index, part in enumerate(loc):
        if part == "[key]":
            return tuple(path), "key"
        if _has(node, part):
            node = node[part]
            path.append(part)
        elif index == len(loc) - 1 and isinstance(node, dict):
            return (*path, part), "missing"
        # anything else is a union tag, not part of the data
    return tuple(path), "value"


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _missing(document: Document, path: PathKey, root: type[BaseModel]) -> Problem:
    parent = path[:-1]
    description = _description(model_at(root, document.data, parent), str(path[-1]))
    expected = f"a value for {path[-1]!r}" + (f" ({description})" if description else "")
    line, column = document.key_at(parent) if parent else (1, 1)
    return Problem(document.file, line, column, format_path(path), "nothing", expected)


def _unknown_key(document: Document, path: PathKey, root: type[BaseModel]) -> Problem:
    key = str(path[-1])
    model = model_at(root, document.data, path[:-1])
    allowed = allowed_keys(model) if model else []
    expected = "one of " + ", ".join(allowed) if allowed else "no key here (none is taken)"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        expected = f"{close[0]!r} (did you mean it?); keys allowed here: {', '.join(allowed)}"
    return document.problem(path, f"unknown key {key!r}", expected, at_key=True)


def _unknown_fault(
    document: Document, path: PathKey, root: type[BaseModel], item: dict[str, Any]
) -> Problem:
    model = model_at(root, document.data, path)
    field = str(getattr(model, "FAULT_FIELD", "fault"))
    if not isinstance(item.get("input"), dict):
        example = f"{{{field}: network.latency, …}}"
        return document.problem(path, _found(item), f"a mapping such as {example}")
    if item["type"] == "union_tag_not_found":
        line, column = document.value_at(path)
        key = format_path((*path, field))
        return Problem(
            document.file, line, column, key, "nothing", "a fault such as network.latency"
        )
    name = str(item.get("ctx", {}).get("tag", ""))
    return document.problem((*path, field), f"unknown fault {name!r}", unknown_fault_message(name))


def _found(item: dict[str, Any]) -> str:
    ctx = item.get("ctx") or {}
    if "found" in ctx:
        return str(ctx["found"])
    value = item.get("input")
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _expected(item: dict[str, Any]) -> str:
    kind, ctx = item["type"], item.get("ctx") or {}
    bounds = {
        "greater_than": ("gt", "greater than"),
        "greater_than_equal": ("ge", "at least"),
        "less_than": ("lt", "less than"),
        "less_than_equal": ("le", "at most"),
    }
    if kind in bounds:
        name, words = bounds[kind]
        return f"a number {words} {ctx[name]}"
    if kind in ("enum", "literal_error"):
        return _one_of(str(item.get("input")), str(ctx.get("expected", "")))
    if kind == "too_short":
        return f"at least {ctx.get('min_length', 1)} item(s)"
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    return str(item["msg"]).removeprefix("Value error, ")


def _one_of(found: str, expected: str) -> str:
    choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
    choices = [c for c in choices if c]
    close = difflib.get_close_matches(found, choices, n=1, cutoff=0.6)
    hint = f"{close[0]!r} (did you mean it?); " if close else ""
    return f"{hint}one of {', '.join(choices)}"


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The YAML keys ``model`` accepts."""
    return [
        info.alias or name for name, info in model.model_fields.items() if name not in HIDDEN_FIELDS
    ]


def _description(model: type[BaseModel] | None, key: str) -> str:
    if model is None:
        return ""
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info.description or ""
    return ""


def model_at(root: type[BaseModel], data: Any, path: PathKey) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` of ``data`` (None if not one)."""
    annotation: Any = root
    node = data
    for part in path:
        annotation = _child(_concrete(annotation, node), part)
        node = _child_data(node, part)
        if annotation is None:
            return None
    model = _concrete(annotation, node)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _child_data(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _child(annotation: Any, part: str | int) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if (info.alias or name) == part:
                return info.annotation
        return None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (tuple, list) and args:
        return args[0]
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    return None


def _concrete(annotation: Any, node: Any) -> Any:
    """Strip ``Annotated`` and pick the union member that fits ``node``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = _pick(get_args(annotation), node)
        else:
            return annotation


def _pick(members: tuple[Any, ...], node: Any) -> Any:
    candidates = [_concrete(m, None) for m in members if m is not type(None)]
    models = [m for m in candidates if isinstance(m, type) and issubclass(m, BaseModel)]
    if isinstance(node, dict):
        for model in models:
            field = getattr(model, "FAULT_FIELD", None)
            if field and getattr(model, "FAULT_NAME", None) == node.get(field):
                return model
    if models:
        return models[0]
    return candidates[0] if candidates else None
