"""A ``CreateExperimentTemplate`` request body (boto3 casing) as ``AWS::FIS::ExperimentTemplate``
properties.

The API takes camelCase keys (``resourceType``, ``selectionMode``…); CloudFormation takes the
same structure in PascalCase, except inside the maps whose keys are the user's own: target and
action names, ``tags``, ``parameters``, ``resourceTags`` and an action's ``targets`` (resource
type name → target name). ``clientToken`` is API-only and dropped. An unknown key is an error,
not silently copied: a newer FIS field needs a mapping here first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_USER_MAPS = frozenset({"tags", "parameters", "resourceTags"})
_KNOWN = {
    "top": {
        "description",
        "targets",
        "actions",
        "stopConditions",
        "roleArn",
        "tags",
        "logConfiguration",
        "experimentOptions",
        "experimentReportConfiguration",
    },
    "target": {"resourceType", "resourceArns", "resourceTags", "filters", "selectionMode",
               "parameters"},
    "action": {"actionId", "description", "parameters", "targets", "startAfter"},
}  # fmt: skip
_DROPPED = frozenset({"clientToken"})


def pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


def _plain(value: Any) -> Any:
    """Nested structures whose keys are all API field names (stop conditions, filters, log
    and report configurations, experiment options)."""
    if isinstance(value, Mapping):
        return {pascal(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _checked(kind: str, body: Mapping[str, Any], where: str) -> None:
    unknown = set(body) - _KNOWN[kind] - _DROPPED
    if unknown:
        raise ValueError(
            f"{where}: no CloudFormation mapping for {', '.join(sorted(unknown))} "
            "(add it to ial_resilience.aws.fis_cfn)"
        )


def _entry(kind: str, body: Mapping[str, Any], where: str) -> dict[str, Any]:
    _checked(kind, body, where)
    converted: dict[str, Any] = {}
    for key, value in body.items():
        if key in _USER_MAPS or (kind == "action" and key == "targets"):
            converted[pascal(key)] = dict(value)
        else:
            converted[pascal(key)] = _plain(value)
    return converted


def properties(body: Mapping[str, Any], where: str = "experiment template") -> dict[str, Any]:
    """``AWS::FIS::ExperimentTemplate`` properties for the request ``body``."""
    _checked("top", body, where)
    result: dict[str, Any] = {}
    for key, value in body.items():
        if key in _DROPPED:
            continue
        if key == "targets":
            result["Targets"] = {
                name: _entry("target", target, f"{where} target {name}")
                for name, target in value.items()
            }
        elif key == "actions":
            result["Actions"] = {
                name: _entry("action", action, f"{where} action {name}")
                for name, action in value.items()
            }
        elif key in _USER_MAPS:
            result[pascal(key)] = dict(value)
        else:
            result[pascal(key)] = _plain(value)
    return result
