"""The experiment library (``chaos/``) as FIS experiment templates, for phase 00e.

Every experiment file under ``chaos/<group>/`` is loaded (with placeholder addresses for the
lab variables its probes use: probes are not part of an FIS template). An experiment whose
faults all appear in ``FIS_ACTIONS`` becomes one template, rendered by
:func:`ial_resilience.aws.fis.render_template` — the same translation as ``ialr chaos render
--provider aws`` — with its role (one per FIS action family), the stop-condition alarms and the
experiment log group; the others are listed with the faults that have no FIS action, never
dropped silently.

The library is written against the lab, so :func:`aws_scope` says where its targets are on
AWS, by tag: ``ialr-chaos=<ChaosTagValue>`` and ``ialr-service=api`` (the API's ECS tasks) or
``ialr-service=db`` (the Aurora cluster), with the experiment's own blast radius
(``replicas`` -> ``COUNT(n)``, ``share`` -> ``PERCENT(p)``). An experiment the translation's
``check`` refuses (a fault with no FIS action, a parameter FIS cannot take) is listed with
the reasons ``check`` gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ial_resilience.aws import fis_cfn, fis_iam
from ial_resilience.aws.chaos_stack import ChaosScope
from ial_resilience.aws.obs_model import Desired
from ial_resilience.spec import load_experiment
from ial_resilience.spec.models import Experiment

LIBRARY = Path(__file__).resolve().parents[3] / "chaos"
"""The checkout's library (not ``./chaos``: the phase must render the same everywhere)."""
PLACEHOLDERS = {
    "lb": "http://127.0.0.1:9",
    "control": "http://127.0.0.1:9",
    "loadgen": "http://127.0.0.1:9",
    "replica.api-1": "http://127.0.0.1:9",
    "python": "python3",
}
SERVICE_TAG = "ialr-service"
DB_PORT, PAYMENTS_PORT, API_PORT = 5432, 8443, 8080


@dataclass(frozen=True)
class Refs:
    """How a template names its role, the stop alarms and the log group: CloudFormation
    attributes in the phase, real ARNs on the API path."""

    role_arn: Callable[[str], str]
    alarm_arn: Callable[[Desired], str]
    log_group_arn: str


@dataclass(frozen=True)
class Entry:
    key: str  # slug of the path relative to the library: network-db-latency
    path: str  # network/db-latency.yaml
    experiment: Experiment

    @property
    def faults(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.fault for step in self.experiment.method))


@dataclass(frozen=True)
class Planned:
    key: str
    path: str
    family: str
    body: dict[str, Any]  # CreateExperimentTemplate request (boto3 casing)

    def properties(self) -> dict[str, Any]:
        return fis_cfn.properties(self.body, where=self.path)


@dataclass(frozen=True)
class Unsupported:
    path: str
    faults: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class LibraryPlan:
    templates: tuple[Planned, ...]
    unsupported: tuple[Unsupported, ...]
    families: dict[str, tuple[str, ...]]  # family -> IAM actions its role grants


def entries(directory: Path = LIBRARY) -> tuple[Entry, ...]:
    """Every experiment file of the library, sorted by path (suites at the top are skipped)."""
    found = []
    for path in sorted(directory.glob("*/*.yaml")):
        relative = path.relative_to(directory).as_posix()
        key = relative.removesuffix(".yaml").replace("/", "-")
        found.append(Entry(key, relative, load_experiment(path, PLACEHOLDERS, environ={})))
    return tuple(found)


def aws_scope(scope: ChaosScope, process_name: str = "${ApiProcessName}") -> Any:
    """Where the library's lab targets are on AWS (the FIS part's scope model, §11): the API
    service's ECS tasks and the database cluster, found by the chaos tag and ``ialr-service``;
    a link's faults act on its client side's tasks (ingress on the API for ``lb->api-1``).
    The region is CloudFormation's own in the phase (no library action reads it)."""
    from ial_resilience.aws.fis_scope import AwsScope

    def tagged(service: str, **extra: Any) -> dict[str, Any]:
        return {"tags": {fis_iam.TAG_KEY: scope.tag_value, SERVICE_TAG: service}, **extra}

    api = "api"
    document = {
        "version": 1,
        "__source__": "the library scope of phase 00e",
        "services": {api: tagged(api, process_name=process_name)},
        "links": {
            "api->db": tagged(api, port=DB_PORT),
            "api->payments": tagged(api, port=PAYMENTS_PORT),
            "lb->api-1": tagged(api, port=API_PORT, traffic_type="ingress", selection="COUNT(1)"),
            "client->lb": tagged(api, port=API_PORT, traffic_type="ingress"),
        },
        "databases": {"db": {**tagged("db"), "resource_type": "aws:rds:cluster"}},
    }
    validated = AwsScope.model_validate(document)
    return validated.model_copy(update={"region": scope.observed.region})


def _why(problems: Sequence[Any]) -> str:
    return "; ".join(f"{p.found} - expected {p.expected}" for p in problems)


def plan(
    scope: ChaosScope,
    alarms: Sequence[Desired],
    refs: Refs,
    library: Sequence[Entry] | None = None,
) -> LibraryPlan:
    """Templates for the experiments FIS can run; the rest listed with their faults and why."""
    from ial_resilience.aws import fis

    where = aws_scope(scope)
    templates: list[Planned] = []
    unsupported: list[Unsupported] = []
    families: dict[str, set[str]] = {}
    for entry in entries() if library is None else library:
        problems = fis.check(entry.experiment, where)
        if problems:
            unsupported.append(Unsupported(entry.path, entry.faults, _why(problems)))
            continue
        actions = [
            fis.step_action(entry.experiment, where, index)[0]
            for index in range(len(entry.experiment.method))
        ]
        family = "-".join(sorted({action.family for action in actions}))
        for action in actions:
            families.setdefault(family, set()).update(action.iam_actions)
        body = fis.render_template(
            entry.experiment,
            where,
            role_arn=refs.role_arn(family),
            stop_alarm_arns=[refs.alarm_arn(alarm) for alarm in alarms],
            log_group_arn=refs.log_group_arn,
            tags={"ialr:library": entry.path, "ialr:environment": scope.environment},
        )
        templates.append(Planned(entry.key, entry.path, family, dict(body)))
    grants = {family: tuple(sorted(found)) for family, found in sorted(families.items())}
    return LibraryPlan(tuple(templates), tuple(unsupported), grants)


BEGIN = "<!-- generated by ial_resilience.aws.chaos_library.docs_table: do not edit -->"
END = "<!-- end of generated table -->"


def docs_table(library_plan: LibraryPlan, template_id: Callable[[str], str]) -> str:
    """The markdown table of docs/PHASE_00E.md: each library experiment, its template (or
    the faults FIS has no action for) and the role family it runs with."""
    rows = [
        (p.path, f"`{template_id(p.key)}`", f"`{p.family}`", "") for p in library_plan.templates
    ]
    rows += [(u.path, "—", "—", u.reason.replace("|", "/")) for u in library_plan.unsupported]
    lines = [
        BEGIN,
        "| experiment | FIS template | role family | why not |",
        "|---|---|---|---|",
        *(f"| `{path}` | {tid} | {family} | {why} |" for path, tid, family, why in sorted(rows)),
        END,
    ]
    return "\n".join(lines) + "\n"
