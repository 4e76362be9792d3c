"""``ialr chaos validate`` and ``ialr chaos schema``: check files, print the JSON Schema."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ial_resilience.errors import ExitCode, InputError, SpecError
from ial_resilience.spec import (
    experiment_json_schema,
    load_system,
    parse_assignments,
    suite_json_schema,
    system_json_schema,
)
from ial_resilience.spec.system import System
from ial_resilience.spec.validate import FileKind, FileReport, describe_system, validate_file


class SchemaKind(StrEnum):
    EXPERIMENT = "experiment"
    SUITE = "suite"
    SYSTEM = "system"


def _system(
    path: Path | None, variables: dict[str, str]
) -> tuple[System | None, FileReport | None]:
    if path is None:
        return None, None
    try:
        return load_system(path, variables), None
    except SpecError as error:
        return None, FileReport(str(path), FileKind.SYSTEM, tuple(error.problems))


def lab_variables(state_dir: Path | None, *, checking: bool = False) -> dict[str, str]:
    """What the game day gives the library's experiments, from the running lab: its addresses,
    ``${python}`` and each replica's address; ``checking`` adds a placeholder for ``${loadgen}``
    (known only once a game day's load generator runs)."""
    from ial_resilience.agent.state import resolve_state_dir
    from ial_resilience.gameday.runner import checking_variables, day_variables
    from ial_resilience.gameday.traffic import replica_variables
    from ial_resilience.lab.model import read_lab_info

    state = resolve_state_dir(state_dir)
    info = read_lab_info(state)
    if info is None:
        raise InputError(
            f"no lab is running (no lab.json in {state})",
            hint="start it with `ialr lab up` (or pass the --state-dir it uses); the "
            "experiments in chaos/ use its addresses",
        )
    variables = day_variables(info.variables(), {})
    if checking:
        return checking_variables(variables, variables.get("control"))
    return {**variables, **replica_variables(variables.get("control"))}


def _validate(file: Path, variables: dict[str, str], system: System | None) -> FileReport:
    """One file's report; a system file that only `ialr lab up` can fill (``${ports.NAME}``,
    ``${python}``, ``${system_dir}``, ``${links.NAME}`` of port-0 links) is checked as
    `lab up` reads it, with the lab's own checks (``after``, link cycles, ports in use)."""
    report = validate_file(file, variables, system)
    if report.kind is not FileKind.SYSTEM or report.ok:
        return report
    from ial_resilience.agent.state import resolve_state_dir
    from ial_resilience.lab.plan import load_plan

    try:
        plan = load_plan(file, resolve_state_dir(None))
    except SpecError as error:
        return FileReport(str(file), FileKind.SYSTEM, tuple(error.problems))
    summary = f"{describe_system(plan.system)} (as `ialr lab up --system` reads it)"
    return FileReport(str(file), FileKind.SYSTEM, summary=summary)


def _print(reports: list[FileReport], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([report.to_json() for report in reports], indent=2))
        return
    for report in reports:
        if report.ok:
            typer.echo(f"OK {report.file}: {report.summary}")
        for problem in report.problems:
            typer.echo(str(problem))


def _aws_reports(
    reports: list[FileReport],
    provider: str,
    scope: Path | None,
    variables: dict[str, str],
    system: System | None,
) -> list[FileReport]:
    """``reports`` with the FIS problems of every valid experiment (file:line)."""
    from ial_resilience.aws.fis import check, load_scope
    from ial_resilience.spec import load_experiment

    if provider != "aws" or scope is None:
        raise InputError(
            f"--provider {provider} {'needs --scope FILE' if provider == 'aws' else 'is unknown'}",
            hint="validate for AWS with --provider aws --scope aws-scope.yaml",
        )
    loaded = load_scope(scope)
    checked = []
    for report in reports:
        if report.ok and report.kind is FileKind.EXPERIMENT:
            problems = check(load_experiment(report.file, variables, system), loaded)
            if problems:
                report = FileReport(report.file, report.kind, tuple(problems))
        checked.append(report)
    return checked


def validate(
    files: Annotated[list[Path], typer.Argument(help="experiment, suite or system files")],
    var: Annotated[
        list[str] | None, typer.Option("--var", help="NAME=VALUE for ${NAME}; repeatable")
    ] = None,
    system: Annotated[
        Path | None, typer.Option("--system", help="system file: its vars and links")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list of reports")] = False,
    lab: Annotated[
        bool,
        typer.Option(
            "--lab",
            help="use the running lab's variables (${lb}, ${links.NAME}, ${replica.api-N}; "
            "${loadgen} as the game day fills it), as the experiments in chaos/ need",
        ),
    ] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", help="with --lab: the lab's state dir (default as `lab up`)"),
    ] = None,
    provider: Annotated[
        str,
        typer.Option("--provider", help="aws: also check every fault has a FIS action (--scope)"),
    ] = "local",
    scope: Annotated[
        Path | None, typer.Option("--scope", help="with --provider aws: the AWS scope file")
    ] = None,
) -> None:
    """Check files and print every problem as file:line:col: key: found X; expected Y.

    Exit 0 when every file is valid, 3 when any problem was found. The library in chaos/
    uses the lab's addresses: run `ialr lab up`, then `ialr chaos validate --lab FILE…`.
    """
    lab_vars = lab_variables(state_dir, checking=True) if lab else {}
    variables = {**lab_vars, **parse_assignments(var or [])}
    loaded, system_report = _system(system, variables)
    reports = [system_report] if system_report else []
    reports += [_validate(file, variables, loaded) for file in files]
    if provider != "local":
        reports = _aws_reports(reports, provider, scope, variables, loaded)
    _print(reports, as_json)
    if any(not report.ok for report in reports):
        raise typer.Exit(int(ExitCode.INVALID_INPUT))


def schema(
    kind: Annotated[
        SchemaKind, typer.Option("--kind", help="which file's schema")
    ] = SchemaKind.EXPERIMENT,
) -> None:
    """Print the JSON Schema of experiment (default), suite or system files, for editors."""
    build = {
        SchemaKind.EXPERIMENT: experiment_json_schema,
        SchemaKind.SUITE: suite_json_schema,
        SchemaKind.SYSTEM: system_json_schema,
    }[kind]
    typer.echo(json.dumps(build(), indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``schema`` to the ``chaos`` group."""
    app.command("validate")(validate)
    app.command("schema")(schema)
