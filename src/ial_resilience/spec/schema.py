"""JSON Schema of experiment, suite and system files, for editors (YAML language servers).

Durations, sizes, addresses and tolerances appear as strings with patterns; keys are the YAML
keys (``with`` for a fault step's parameters). A patterned string may also hold a ``${name}``
reference; a number or boolean written as a variable is flagged by editors. The loader is
stricter than the schema (it checks references between keys): ``ialr chaos validate`` judges.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ial_resilience.spec.models import Experiment
from ial_resilience.spec.suite import Suite
from ial_resilience.spec.system import System

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": DIALECT, **_allow_variables(schema), "title": title}


def _allow_variables(node: Any) -> Any:
    """Let every patterned string also be a ``${name}`` reference (resolved at load time)."""
    if isinstance(node, list):
        return [_allow_variables(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _allow_variables(value) for key, value in node.items()}
    if result.get("type") == "string" and isinstance(result.get("pattern"), str):
        result["pattern"] = f"(?:{result['pattern']})|\\$\\{{"
        if not isinstance(result.get("default", ""), str):
            del result["default"]  # parsed seconds, not the text a file holds
    return result


def experiment_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of an experiment file."""
    return _schema(Experiment, "ialr experiment file")


def suite_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a suite file."""
    return _schema(Suite, "ialr suite file")


def system_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a system file."""
    return _schema(System, "ialr system file")
