"""``ialr chaos render``, ``ialr chaos stop``, ``ialr chaos parity`` and the ``--provider aws``
options of ``ialr chaos run``.

AWS modules (boto3) are imported only when a command needs them, so ``ialr chaos run`` on the
local provider starts as fast as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ial_resilience.cli._aws_options import Endpoint, Profile, Region
from ial_resilience.engine.ledger import PendingFault
from ial_resilience.engine.provider import CleanupResult
from ial_resilience.errors import ExitCode, InputError, Problem, SpecError


class ProviderName(StrEnum):
    LOCAL = "local"
    AWS = "aws"


ProviderOption = Annotated[
    ProviderName,
    typer.Option("--provider", help="local: the ialr agent; aws: AWS FIS (needs --scope)"),
]
ScopeOption = Annotated[
    Path | None,
    typer.Option("--scope", help="AWS scope file: where targets are (examples/aws-scope.yaml)"),
]
RoleOption = Annotated[
    str | None,
    typer.Option("--role-arn", help="IAM role FIS assumes (default: the scope's role_arn)"),
]
StopAlarmOption = Annotated[
    list[str] | None,
    typer.Option("--stop-alarm", help="CloudWatch alarm ARN that stops FIS; repeatable"),
]
StopRulesOption = Annotated[
    str | None,
    typer.Option(
        "--stop-alarms-from",
        help="create the stop-condition alarms from alert rules: a rule file, or 'default' "
        "(the built-in API SLO); alarms named ialr-<environment>-… as phase 00c",
    ),
]
AlarmEnvironmentOption = Annotated[
    str, typer.Option("--alarm-environment", help="environment of those alarms' names")
]
LogGroupOption = Annotated[
    str | None, typer.Option("--log-group-arn", help="CloudWatch Logs group for FIS logs")
]


@dataclass(frozen=True)
class AwsRunOptions:
    scope_file: Path
    role_arn: str | None
    stop_alarms: tuple[str, ...]
    log_group_arn: str | None
    region: str | None
    profile: str | None
    endpoint_url: str | None
    stop_rules: str | None = None
    alarm_environment: str = "prod"

    def provider(self) -> Any:
        from ial_resilience.aws._session import AwsTarget
        from ial_resilience.aws.fis_provider import AwsProvider
        from ial_resilience.aws.fis_scope import load_scope

        scope = load_scope(self.scope_file)
        target = AwsTarget.resolve(self.region or scope.region, self.profile, self.endpoint_url)
        alarms = list(self.stop_alarms)
        if self.stop_rules is not None:
            alarms += self.created_alarms(target, scope.region)
        return AwsProvider(
            scope,
            target,
            role_arn=self.role_arn,
            stop_alarm_arns=alarms,
            log_group_arn=self.log_group_arn or scope.log_group_arn,
        )

    def created_alarms(self, target: Any, region: str) -> list[str]:
        """Create the stop-condition alarms from the rules; their ARNs."""
        from ial_resilience.alerting.rules import load_rules
        from ial_resilience.aws._session import aws_call, client
        from ial_resilience.aws.fis_alarms import ensure_alarms, stop_condition_alarms
        from ial_resilience.aws.obs_scope import Scope

        rules = None if self.stop_rules == "default" else load_rules(str(self.stop_rules))
        scope = Scope.for_environment(self.alarm_environment, target.region or region)
        with aws_call("read the AWS account id", target):
            account = client("sts", target).get_caller_identity()["Account"]
        topic = f"arn:aws:sns:{scope.region}:{account}:{scope.name('alarms')}"
        arns: list[str] = ensure_alarms(target, stop_condition_alarms(scope, topic, rules))
        return arns


def aws_options(
    provider: ProviderName,
    scope: Path | None,
    role_arn: str | None,
    stop_alarms: list[str] | None,
    log_group_arn: str | None,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    stop_rules: str | None = None,
    alarm_environment: str = "prod",
) -> AwsRunOptions | None:
    """The AWS options of a run; None for the local provider (AWS options then refused)."""
    if provider is ProviderName.LOCAL:
        options = (("--scope", scope), ("--role-arn", role_arn),
                   ("--stop-alarm", stop_alarms), ("--log-group-arn", log_group_arn),
                   ("--stop-alarms-from", stop_rules))  # fmt: skip
        given = [name for name, value in options if value]
        if given:
            raise InputError(
                f"{', '.join(given)} only apply to --provider aws",
                hint="add --provider aws, or drop those options",
            )
        return None
    if scope is None:
        raise InputError(
            "--provider aws needs --scope FILE: where the experiment's targets are on AWS",
            hint="start from examples/aws-scope.yaml (docs/INTERFACES.md §11)",
        )
    return AwsRunOptions(
        scope, role_arn, tuple(stop_alarms or ()), log_group_arn, region, profile, endpoint_url,
        stop_rules, alarm_environment,
    )  # fmt: skip


class _LazyAwsCleaner:
    def __init__(self, region: str | None, profile: str | None, endpoint: str | None) -> None:
        self.where = (region, profile, endpoint)

    def cleanup(self, pending: Sequence[PendingFault]) -> list[CleanupResult]:
        from ial_resilience.aws._session import AwsTarget
        from ial_resilience.aws.fis_provider import AwsProvider

        result: list[CleanupResult] = AwsProvider(None, AwsTarget.resolve(*self.where)).cleanup(
            pending
        )
        return result


def aws_cleaner(region: str | None, profile: str | None, endpoint: str | None) -> Any:
    """What ``ialr chaos cleanup`` uses for ledger entries of --provider aws runs."""
    return _LazyAwsCleaner(region, profile, endpoint)


PLACEHOLDER = "http://127.0.0.1:9"


def placeholder_variables(path: Path, given: dict[str, str]) -> dict[str, str]:
    """``given``, plus a placeholder for every other ``${name}`` of ``path``: a template
    carries no probe, so render needs no real address."""
    try:
        names = set(re.findall(r"\$\{([^}$]+)\}", path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError):
        names = set()  # load_experiment reports the unreadable file at its place
    return {**{name: PLACEHOLDER for name in names}, **given}


def experiment_files(paths: list[Path]) -> list[Path]:
    """Files as given; directories are searched for experiment files (``method:``)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.yaml") if _is_experiment(p))
            if not found:
                raise InputError(f"no experiment file under {path}", hint="pass YAML files")
            files += found
        else:
            files.append(path)
    return files


def _is_experiment(path: Path) -> bool:
    try:
        return re.search(r"^method:", path.read_text(encoding="utf-8"), re.M) is not None
    except (OSError, UnicodeDecodeError):
        return False


def render_files(
    files: list[Path], scope_file: Path, role_arn: str | None, variables: dict[str, str],
    stop_alarms: Sequence[str] = (), log_group_arn: str | None = None,
) -> tuple[dict[str, dict[str, Any]], list[Problem]]:  # fmt: skip
    """Each file's template, and every problem of the files that cannot be rendered."""
    from ial_resilience.aws.fis import check, load_scope, render_template
    from ial_resilience.spec import load_experiment

    scope = load_scope(scope_file)
    role = role_arn or scope.role_arn
    if not role:
        raise InputError(
            "no IAM role for the template",
            hint="pass --role-arn ARN or set role_arn: in the scope file",
        )
    templates: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for file in files:
        try:
            experiment = load_experiment(file, placeholder_variables(file, variables))
        except SpecError as error:
            problems += error.problems
            continue
        found = check(experiment, scope)
        if found:
            problems += found
            continue
        templates[str(file)] = render_template(
            experiment, scope, role_arn=role, stop_alarm_arns=stop_alarms,
            log_group_arn=log_group_arn,
        )  # fmt: skip
    return templates, problems


def render(
    files: Annotated[list[Path], typer.Argument(help="experiment files or directories")],
    provider: ProviderOption = ProviderName.AWS,
    scope: ScopeOption = None,
    role_arn: RoleOption = None,
    stop_alarm: StopAlarmOption = None,
    log_group_arn: LogGroupOption = None,
    var: Annotated[
        list[str] | None, typer.Option("--var", help="k=v, substituted for ${k}; repeatable")
    ] = None,
) -> None:
    """Print the AWS FIS experiment template (CreateExperimentTemplate JSON) of experiments.

    One file: its template. Several files or a directory (e.g. chaos/): a JSON object of
    file → template. Faults FIS cannot do are printed as file:line problems on stderr and
    the exit code is 3; the others are still printed. ${variables} not given with --var are
    filled with a placeholder: a template carries no probe. Nothing is sent to AWS.
    """
    from ial_resilience.cli.chaos_run import parse_vars

    if provider is not ProviderName.AWS:
        raise InputError(
            "render prints FIS templates: only --provider aws has one",
            hint="the local provider needs no template; see `ialr chaos run --dry-run`",
        )
    if scope is None:
        raise InputError(
            "render needs --scope FILE: where the experiment's targets are on AWS",
            hint="start from examples/aws-scope.yaml",
        )
    given = experiment_files(files)
    templates, problems = render_files(
        given, scope, role_arn, parse_vars(var), stop_alarm or (), log_group_arn
    )
    if len(files) == 1 and not files[0].is_dir():
        if templates:
            typer.echo(json.dumps(next(iter(templates.values())), indent=1))
    else:
        typer.echo(json.dumps(templates, indent=1))
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(int(ExitCode.INVALID_INPUT))


def stop(
    ident: Annotated[str, typer.Argument(help="run id (ialr chaos run) or FIS experiment id")],
    as_json: Annotated[bool, typer.Option("--json", help="print what was stopped as JSON")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="seconds to wait for a final state")
    ] = 30.0,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Stop a running AWS FIS experiment: every one a run started, or one by its id.

    Waits until FIS reports a final state (stopped, completed, failed) and prints the states
    seen. The run itself then reverts the rest and ends as aborted/error in its journal.
    Exit 3 when nothing has that id, 5 when AWS cannot be reached.
    """
    from ial_resilience.aws._session import AwsTarget
    from ial_resilience.aws.fis_provider import ACTIVE, experiments_of_run, stop_by_id

    target = AwsTarget.resolve(region, profile, endpoint_url)
    of_run = experiments_of_run(target, ident)
    ids = [e["id"] for e in of_run if e["state"]["status"] in ACTIVE] if of_run else [ident]
    stopped = [stop_by_id(target, experiment_id, timeout) for experiment_id in ids]
    report = [
        {
            "experiment_id": item.experiment_id,
            "status": item.status,
            "reason": item.reason,
            "states": [status for _, status in item.states],
        }
        for item in stopped
    ]
    if as_json:
        typer.echo(json.dumps({"id": ident, "stopped": report}, indent=1))
        return
    if not report:
        typer.echo(f"run {ident}: no FIS experiment is still running")
    for item in report:
        states = " → ".join(item["states"])
        typer.echo(f"FIS experiment {item['experiment_id']}: {states}")


def parity(
    as_json: Annotated[bool, typer.Option("--json", help="print the rows as JSON")] = False,
) -> None:
    """Print, per fault, what the local provider and AWS FIS do and what differs.

    Granularity, direction, duration limits and evidence. docs/PARITY.md is generated from
    the same rows; --json for machines.
    """
    from ial_resilience.aws.fis_parity import parity_rows, render_text

    rows = parity_rows()
    if as_json:
        typer.echo(json.dumps([row.to_json() for row in rows], indent=1))
        return
    typer.echo(render_text(rows))


def register(app: typer.Typer) -> None:
    """Add ``render``, ``stop`` and ``parity`` to the ``chaos`` group."""
    app.command("render")(render)
    app.command("stop")(stop)
    app.command("parity")(parity)
