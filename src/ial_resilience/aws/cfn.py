"""A tiny CloudFormation template builder and a deterministic YAML renderer.

Phases build a :class:`Template` in code; :func:`render_yaml` writes it with the short intrinsic
tags people write by hand (``!Ref``, ``!GetAtt``, ``!Sub``, ``!If``…). Key order is insertion
order, so the same code always renders the same bytes (the phases' drift test relies on it).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class GetAtt:
    resource: str
    attribute: str


@dataclass(frozen=True)
class Sub:
    text: str


@dataclass(frozen=True)
class If:
    condition: str
    then: Any
    otherwise: Any


@dataclass(frozen=True)
class Equals:
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    condition: Any


@dataclass(frozen=True)
class And:
    conditions: tuple[Any, ...]


NO_VALUE = Ref("AWS::NoValue")


@dataclass
class Template:
    """A CloudFormation template; ``add_*`` refuse a logical id that is already taken."""

    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def parameter(self, name: str, type_: str, description: str, **extra: Any) -> Ref:
        _claim(self.parameters, name)
        self.parameters[name] = {"Type": type_, "Description": description, **extra}
        return Ref(name)

    def condition(self, name: str, expression: Any) -> str:
        _claim(self.conditions, name)
        self.conditions[name] = expression
        return name

    def resource(
        self, name: str, type_: str, properties: Mapping[str, Any], **attributes: Any
    ) -> Ref:
        _claim(self.resources, name)
        self.resources[name] = {"Type": type_, **attributes, "Properties": dict(properties)}
        return Ref(name)

    def output(self, name: str, value: Any, description: str, **extra: Any) -> None:
        _claim(self.outputs, name)
        self.outputs[name] = {"Description": description, "Value": value, **extra}

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": self.description,
        }
        for key, section in (
            ("Metadata", self.metadata),
            ("Parameters", self.parameters),
            ("Conditions", self.conditions),
            ("Resources", self.resources),
            ("Outputs", self.outputs),
        ):
            if section:
                document[key] = section
        return document


def _claim(section: Mapping[str, Any], name: str) -> None:
    if name in section:
        raise ValueError(f"logical id {name!r} is used twice in the template")


def _represent(representer: RoundTripRepresenter, tag: str, value: Any) -> Any:
    if isinstance(value, list):
        return representer.represent_sequence(tag, value, flow_style=True)
    return representer.represent_scalar(tag, value)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    rep = yaml.representer
    rep.ignore_aliases = lambda _data: True  # CloudFormation rejects YAML anchors and aliases
    rep.add_representer(Ref, lambda r, v: _represent(r, "!Ref", v.name))
    rep.add_representer(
        GetAtt, lambda r, v: _represent(r, "!GetAtt", f"{v.resource}.{v.attribute}")
    )
    rep.add_representer(Sub, lambda r, v: _represent(r, "!Sub", v.text))
    rep.add_representer(If, lambda r, v: _represent(r, "!If", [v.condition, v.then, v.otherwise]))
    rep.add_representer(Equals, lambda r, v: _represent(r, "!Equals", [v.left, v.right]))
    rep.add_representer(Not, lambda r, v: _represent(r, "!Not", [v.condition]))
    rep.add_representer(And, lambda r, v: _represent(r, "!And", list(v.conditions)))
    return yaml


def render_yaml(template: Template, header: str = "") -> str:
    """The template as YAML text; ``header`` lines are written first as ``#`` comments."""
    buffer = io.StringIO()
    for line in header.splitlines():
        buffer.write(f"# {line}".rstrip() + "\n")
    _yaml().dump(template.as_dict(), buffer)
    return buffer.getvalue()
