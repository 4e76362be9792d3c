"""``ialr schedule``: when suites run on their own — locally (list, run) and on AWS (deploy).

Thin: parse, call :mod:`ial_resilience.schedule`, print. Suites are the files given, or every
suite of the library (``chaos/*.yaml``) with a ``schedule`` block.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from ial_resilience.cli._aws_options import Endpoint, Profile, Region
from ial_resilience.cli.chaos_run import parse_vars, sigterm_interrupts
from ial_resilience.errors import InputError, SpecError
from ial_resilience.schedule.decide import utc
from ial_resilience.schedule.scheduler import (
    Outcome,
    ScheduledSuite,
    Scheduler,
    SuiteRunner,
    exit_code,
    suite_key,
)
from ial_resilience.spec.suite import load_suite_header
from ial_resilience.units import parse_duration

app = typer.Typer(
    help="Scheduled chaos: suites with a `schedule:` block (cron, min_interval, daily_limit, "
    "adaptive) run on their own — `list` shows when, `run` is a bounded local daemon, "
    "`deploy --aws` makes EventBridge Scheduler start FIS experiments.",
    no_args_is_help=True,
)

SuitesArg = Annotated[
    list[Path] | None,
    typer.Argument(help="suite files (default: every suite of chaos/ with a schedule)"),
]
HistoryOpt = Annotated[
    Path | None, typer.Option("--history", help="history file (default $IALR_HISTORY)")
]


def library_suites() -> list[Path]:
    from ial_resilience.gameday import library_dir

    found = []
    for path in sorted(library_dir().glob("*.yaml")):
        try:
            if load_suite_header(path).schedule is not None:
                found.append(path)
        except SpecError:
            continue  # not a suite (or a broken one: `ialr chaos validate` says why)
    return found


def scheduled(paths: Sequence[Path] | None) -> list[ScheduledSuite]:
    chosen = list(paths or library_suites())
    if not chosen:
        raise InputError(
            "no suite with a schedule block",
            hint="give suite files, or add `schedule: {cron: ...}` to one",
        )
    result = []
    for path in chosen:
        if not path.is_file():
            raise InputError(f"no suite file at {path}", hint="give the path of a suite file")
        suite = load_suite_header(path)
        result.append(ScheduledSuite(path, suite, suite_key(suite)))
    return result


def _scheduler(
    suites: list[ScheduledSuite], history: Path | None, runner: SuiteRunner, state_dir: Path
) -> Scheduler:
    from ial_resilience.schedule.clock import SystemClock
    from ial_resilience.schedule.history_io import HistoryRuns

    return Scheduler(suites, runner, HistoryRuns(history), SystemClock(), state_dir)


def _no_runner(item: ScheduledSuite) -> Any:
    raise AssertionError("list never runs a suite")


@app.command("list")
def list_(
    suites: SuitesArg = None,
    history: HistoryOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Each suite's schedule, when it is next due and why (adaptive, limits), from history.

    Example: ialr schedule list chaos/quick-suite.yaml
    """
    from ial_resilience.agent.state import resolve_state_dir

    items = scheduled(suites)
    sched = _scheduler(items, history, runner=_no_runner, state_dir=resolve_state_dir())
    rows = []
    for item, decision in sched.decisions():
        assert item.schedule is not None
        rows.append(
            {
                "suite": str(item.path),
                "title": item.suite.title,
                "key": item.key,
                "cron": item.schedule.cron,
                "min_interval_s": item.schedule.min_interval,
                "daily_limit": item.schedule.daily_limit,
                "adaptive": item.schedule.adaptive is not None,
                "runs": len(sched.runs_of(item.key)),
                **decision.to_json(),
            }
        )
    if as_json:
        typer.echo(json.dumps({"suites": rows}, indent=1))
        return
    for row in rows:
        when = "due now" if row["due"] else f"next {row['next_at_utc']}"
        typer.echo(
            f"{row['title']} ({row['suite']}): cron {row['cron']!r}, {when} — "
            f"{row['reason']}; {row['runs']} run(s) on record"
        )


def _print(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(outcome.to_json()))
        return
    where = f" — report {outcome.report}" if outcome.report else ""
    typer.echo(
        f"[{utc(outcome.at)}] {outcome.action} {outcome.title!r}: {outcome.status} "
        f"(exit {outcome.exit_code}) {outcome.reason}{where}"
    )


@app.command("run")
def run(
    suites: SuitesArg = None,
    once: Annotated[bool, typer.Option("--once", help="one pass: run what is due, exit")] = False,
    for_: Annotated[
        str | None, typer.Option("--for", help="run this long, e.g. 8h (then exit)")
    ] = None,
    max_runs: Annotated[
        int | None, typer.Option("--max-runs", min=1, help="exit after N suites ran")
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", help="reports go to OUTPUT/<time>-<suite>/")
    ] = Path("reports"),
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="lab/agent state")] = None,
    rate: Annotated[float, typer.Option("--rate", help="load in requests/s")] = 20.0,
    var: Annotated[list[str] | None, typer.Option("--var", help="k=v; repeatable")] = None,
    history: HistoryOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per outcome")] = False,
) -> None:
    """Run due suites against the lab, one at a time; bounded by --once, --for or --max-runs.

    A suite another run holds (the suite lock; `ialr ci` holds it too) is skipped with the
    reason (exit 4) and stays due. Every outcome is appended to
    <state-dir>/schedule/outcomes.jsonl. Exit: 0, else the worst suite's code (README).

    Example: ialr schedule run --for 8h chaos/quick-suite.yaml
    """
    from rich.console import Console

    from ial_resilience.agent.state import resolve_state_dir
    from ial_resilience.ci.run import CiOptions, run_suite
    from ial_resilience.cli.gameday import LineProgress
    from ial_resilience.schedule import history_io
    from ial_resilience.schedule.scheduler import SuiteResult

    for_s = None if for_ is None else _duration(for_)
    items = scheduled(suites)
    variables = parse_vars(var)
    console = Console(quiet=as_json, highlight=False, soft_wrap=True)

    def runner(item: ScheduledSuite) -> SuiteResult:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        options = CiOptions(
            suite=item.path,
            output=output / f"{stamp}-{item.key}",
            state_dir=state_dir,
            rate=rate,
            variables=variables,
        )
        result = run_suite(options, LineProgress(console), lock=False)
        warning = history_io.record_gameday(result.report, result.json_path, history)
        if warning:
            typer.echo(f"Warning: {warning}", err=True)
        return SuiteResult(_status(result.exit_code), result.exit_code, str(result.json_path))

    sched = _scheduler(items, history, runner=runner, state_dir=resolve_state_dir(state_dir))
    with sigterm_interrupts():
        outcomes = sched.run(
            once=once, for_s=for_s, max_runs=max_runs, on_outcome=lambda o: _print(o, as_json)
        )
    if not outcomes and not as_json:
        typer.echo("nothing was due")
    raise typer.Exit(exit_code(outcomes))


_STATUS = {0: "passed", 1: "deviated", 2: "aborted", 6: "inconclusive"}


def _status(code: int) -> str:
    return _STATUS.get(code, "error")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError:
        raise InputError(f"--for {text!r} is not a duration", hint="write e.g. 30m, 8h") from None


@app.command("deploy")
def deploy(
    suite: Annotated[Path, typer.Argument(help="suite file with a schedule block")],
    aws: Annotated[bool, typer.Option("--aws", help="EventBridge Scheduler + FIS")] = False,
    scope: Annotated[
        Path | None, typer.Option("--scope", help="AWS scope file (examples/aws-scope.yaml)")
    ] = None,
    role_arn: Annotated[
        str | None, typer.Option("--role-arn", help="role FIS assumes (default: scope's)")
    ] = None,
    scheduler_role_arn: Annotated[
        str | None,
        typer.Option("--scheduler-role-arn", help="role Scheduler assumes (fis:StartExperiment)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print; create nothing")] = False,
    delete: Annotated[bool, typer.Option("--delete", help="remove what a deploy made")] = False,
    var: Annotated[list[str] | None, typer.Option("--var", help="k=v; repeatable")] = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Schedule the suite on AWS: one FIS template + one EventBridge schedule per experiment.

    The suite's 5-field cron becomes AWS's cron(...) (UTC); each schedule's target is
    arn:aws:scheduler:::aws-sdk:fis:startExperiment with the template's id. Deploying again
    updates in place; --delete removes schedules, templates and the group. The experiment
    files must load: give their variables with --var (probes are not part of a FIS template,
    but are checked like everywhere else). EventBridge has no min_interval, daily_limit or
    adaptive: those apply to `ialr schedule run` only.

    Example: ialr schedule deploy --aws chaos/quick-suite.yaml --scope examples/aws-scope.yaml
    --scheduler-role-arn arn:aws:iam::123456789012:role/ialr-scheduler --dry-run
    --var lb=https://shop.example.com --var loadgen=... --var control=... --var replica.api-1=...
    """
    from ial_resilience.aws._session import AwsTarget
    from ial_resilience.schedule import aws_deploy
    from ial_resilience.spec import load_suite

    if not aws:
        raise InputError("deploy needs a target", hint="pass --aws (EventBridge Scheduler)")
    if not suite.is_file():
        raise InputError(f"no suite file at {suite}", hint="give the path of a suite file")
    target = AwsTarget.resolve(region, profile, endpoint_url)
    loaded = load_suite(suite, parse_vars(var))
    if delete:
        report = aws_deploy.DeployReport(None)
        if not dry_run:
            report = aws_deploy.delete(loaded, target)
    else:
        if scope is None:
            raise InputError(
                "--scope FILE is needed: where the suite's targets are on AWS",
                hint="start from examples/aws-scope.yaml",
            )
        from ial_resilience.aws.fis_scope import load_scope

        plan = aws_deploy.plan_deploy(
            loaded, load_scope(scope), role_arn=role_arn, scheduler_role_arn=scheduler_role_arn
        )
        target = target if target.region else target.in_region(load_scope(scope).region)
        report = aws_deploy.DeployReport(plan) if dry_run else aws_deploy.deploy(plan, target)
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "delete": delete, **report.to_json()}, indent=1))
        return
    for line in aws_deploy.summary_lines(report, dry_run=dry_run):
        typer.echo(line)
    if delete and dry_run:
        typer.echo(f"would delete every schedule and template of suite {loaded.title!r}")
