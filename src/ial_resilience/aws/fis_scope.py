"""The AWS scope file: where an experiment's abstract targets are on AWS.

An experiment names ``service: api``, ``link: api->db``, ``database: db``; the scope file says
which AWS resources those are (docs/INTERFACES.md §11)::

    version: 1
    region: us-east-1
    role_arn: arn:aws:iam::123456789012:role/ialr-fis-ecs     # or --role-arn
    log_group_arn: arn:aws:logs:us-east-1:123456789012:log-group:/ialr/fis   # optional
    stop_alarms: [arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx]  # optional
    services:
      api: {tags: {service: api}}                 # aws:ecs:task by default
    links:
      api->db: {tags: {service: api}, port: 5432}  # the client side's tasks
    databases:
      db: {arns: [arn:aws:rds:us-east-1:123456789012:cluster:orders]}
    hosts:
      worker-1: {resource_type: aws:ec2:instance, tags: {Name: worker-1}, memory: 8GiB}

Each entry names its resources by ``tags`` or ``arns`` (exactly one), may add FIS ``filters``
and target ``parameters``, and gives what its actions need (``port``, ``process_name``,
``service``/``operations``, ``availability_zones``, ``memory``/``disk``). The selection mode
comes from the experiment target's ``replicas`` (``COUNT(n)``) or ``share`` (``PERCENT(p)``),
else the entry's ``selection`` (default ``ALL``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ial_resilience.faults.vocabulary import Size
from ial_resilience.spec.document import read_document
from ial_resilience.spec.fields import SpecModel
from ial_resilience.spec.loader import raise_problems, shape_problems, validate_model

DEFAULT_RESOURCE_TYPE = {
    "service": "aws:ecs:task",
    "link": "aws:ecs:task",
    "process": "aws:ecs:task",
    "database": "aws:rds:cluster",
    "host": "aws:ec2:instance",
}
SECTIONS = {"service": "services", "link": "links", "process": "processes",
            "database": "databases", "host": "hosts"}  # fmt: skip
SELECTION = r"^(ALL|COUNT\(\d+\)|PERCENT\(\d+\))$"
ARN = r"^arn:aws[a-z-]*:[a-z0-9-]+:"


class TargetFilter(SpecModel):
    path: str = Field(min_length=1, description="a path in the resource, e.g. State.Name")
    values: tuple[str, ...] = Field(min_length=1)


class ScopeEntry(SpecModel):
    """Where one abstract target is: resources by tags or ARNs, and what its actions need."""

    resource_type: str | None = Field(
        default=None, pattern=r"^aws:[a-z0-9-]+:[a-z0-9-]+$", description="FIS resource type"
    )
    tags: dict[str, str] | None = Field(default=None, min_length=1)
    arns: tuple[str, ...] | None = Field(default=None, min_length=1)
    filters: tuple[TargetFilter, ...] = ()
    parameters: dict[str, str] = Field(default_factory=dict, description="FIS target parameters")
    selection: str = Field(
        default="ALL", pattern=SELECTION, description="ALL, COUNT(n), PERCENT(p)"
    )
    port: int | None = Field(default=None, ge=1, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    traffic_type: Literal["ingress", "egress"] = "egress"
    sources: tuple[str, ...] = ()
    process_name: str | None = Field(default=None, min_length=1)
    service: str | None = Field(default=None, min_length=1, description="AWS API namespace")
    operations: tuple[str, ...] | None = Field(default=None, min_length=1)
    availability_zones: tuple[str, ...] | None = Field(default=None, min_length=1)
    disrupt_scope: str | None = None
    memory: Size | None = None
    disk: Size | None = None

    @model_validator(mode="after")
    def _tags_or_arns(self) -> ScopeEntry:
        if (self.tags is None) == (self.arns is None):
            raise PydanticCustomError("scope", "exactly one of tags or arns")
        for arn in self.arns or ():
            if not re.match(ARN, arn):
                raise PydanticCustomError("scope", f"ARNs such as arn:aws:ecs:…; found {arn!r}")
        return self

    def options(self, region: str) -> dict[str, Any]:
        """What the action parameter builders read (see ``fis_actions``)."""
        values = self.model_dump(exclude={"tags", "arns", "filters", "parameters", "selection"})
        return {**values, "region": region}


class AwsScope(SpecModel):
    """One scope file (see the module docstring)."""

    version: Literal[1] = Field(description="file format version; 1")
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")
    log_group_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:logs:")
    stop_alarms: tuple[str, ...] = ()
    services: dict[str, ScopeEntry] = Field(default_factory=dict)
    links: dict[str, ScopeEntry] = Field(default_factory=dict)
    processes: dict[str, ScopeEntry] = Field(default_factory=dict)
    databases: dict[str, ScopeEntry] = Field(default_factory=dict)
    hosts: dict[str, ScopeEntry] = Field(default_factory=dict)
    source: str = Field(default="", validation_alias="__source__", exclude=True)

    def entry(self, kind: str, name: str) -> ScopeEntry | None:
        """The entry of the abstract target ``kind`` ``name`` (``link``, ``api->db``)."""
        section: dict[str, ScopeEntry] = getattr(self, SECTIONS[kind])
        return section.get(name)

    def names(self, kind: str) -> list[str]:
        return sorted(getattr(self, SECTIONS[kind]))

    def resource_type(self, kind: str, entry: ScopeEntry) -> str:
        return entry.resource_type or DEFAULT_RESOURCE_TYPE[kind]


def load_scope(path: str | Path) -> AwsScope:
    """Load and validate a scope file; ``SpecError`` (exit 3) with every problem at file:line."""
    document = read_document(path)
    problems = shape_problems(document, "version and services, links, databases or hosts")
    scope, model_problems = validate_model(document, AwsScope)
    raise_problems(problems + model_problems)
    assert scope is not None
    return scope
