"""``ialr chaos run`` and ``ialr chaos cleanup``: thin — parse, call the engine, print.

Exit codes: 0 passed, 1 deviated, 2 aborted, 3 invalid input, 4 refused by the safety policy,
5 provider error, 6 inconclusive.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

from ial_resilience import history
from ial_resilience.agent.state import resolve_state_dir
from ial_resilience.cli._aws_options import Endpoint, Profile, Region
from ial_resilience.cli.chaos_aws import (
    AlarmEnvironmentOption,
    AwsRunOptions,
    LogGroupOption,
    ProviderName,
    ProviderOption,
    RoleOption,
    ScopeOption,
    StopAlarmOption,
    StopRulesOption,
    aws_cleaner,
    aws_options,
)
from ial_resilience.cli.chaos_spec import lab_variables
from ial_resilience.engine import journal as journal_mod
from ial_resilience.engine import safety
from ial_resilience.engine.cleanup import cleanup_all
from ial_resilience.engine.model import Event, EventKind
from ial_resilience.engine.plan import new_run_id
from ial_resilience.engine.providers.local import LocalProvider
from ial_resilience.engine.run import Run, RunOptions, RunResult
from ial_resilience.errors import InputError
from ial_resilience.report.live import LiveProgress
from ial_resilience.report.summary import render_plan, render_result
from ial_resilience.spec import load_experiment, load_system

VarOption = Annotated[
    list[str] | None, typer.Option("--var", help="k=v, substituted for ${k}; repeatable")
]
StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir", help="agent state dir (default $IALR_STATE_DIR or ~/.local/state/ialr)"
    ),
]


def parse_vars(pairs: list[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(
                f"--var {pair!r} is not k=v", hint="write --var lb=http://127.0.0.1:8080"
            )
        result[key.strip()] = value
    return result


class LineObserver:
    """Prints one line per event (the progress display when output is not a terminal)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.t0: float | None = None

    def on_event(self, event: Event) -> None:
        self.t0 = event.t_mono if self.t0 is None else self.t0
        offset = event.t_mono - self.t0
        self.console.print(
            f"[{offset:7.2f}s] {event.phase.value:<20} {event.message}",
            markup=False,
            highlight=False,
        )


@contextmanager
def progress(console: Console, *, quiet: bool) -> Iterator[list[Any]]:
    """Observers for the run: none (``--json``), a Rich live display (terminal) or lines."""
    if quiet:
        yield []
    elif console.is_terminal:
        with LiveProgress(console) as live:
            yield [live]
    else:
        yield [LineObserver(console)]


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C during the run (faults are reverted, journal incomplete)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def execute_run(
    file: Path,
    *,
    variables: dict[str, str],
    system_file: Path | None,
    dry_run: bool,
    journal: Path | None,
    policy_file: Path | None,
    allow_production: bool,
    state_dir: Path | None,
    observers: list[Any],
    aws: AwsRunOptions | None = None,
) -> RunResult:
    """Load, check and run one experiment file through the local provider (or, with ``aws``,
    through AWS FIS)."""
    system = load_system(system_file, variables) if system_file else None
    experiment = load_experiment(file, variables, system)
    policy = safety.load_policy(policy_file)
    state = resolve_state_dir(state_dir)
    run_id = new_run_id(experiment.title)
    provider: Any = (
        aws.provider()
        if aws is not None
        else LocalProvider.from_state_dir(state, offline=True)  # the agent is needed later
    )
    options = RunOptions(
        state_dir=state,
        journal_path=journal or journal_mod.default_path(run_id),
        experiment_file=file,
        dry_run=dry_run,
        allow_production=allow_production,
        policy=policy,
        system=system.name if system else "local",
        run_id=run_id,
    )
    try:
        with sigterm_interrupts():
            return Run(experiment, provider, options, observers=observers).execute()
    finally:
        provider.close()


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``cleanup`` to the ``chaos`` group."""

    @app.command("run")
    def run(
        file: Annotated[Path, typer.Argument(help="experiment file (YAML)")],
        var: VarOption = None,
        system: Annotated[Path | None, typer.Option("--system", help="system file")] = None,
        lab: Annotated[
            bool,
            typer.Option(
                "--lab",
                help="use the running lab's addresses as variables (${lb}, ${links.NAME}, the "
                "exports of `ialr lab up --system FILE`); --var wins over them",
            ),
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="print the plan; touch nothing")
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="print the summary as JSON only")
        ] = False,
        journal: Annotated[Path | None, typer.Option("--journal", help="journal path")] = None,
        policy: Annotated[Path | None, typer.Option("--policy", help="safety policy file")] = None,
        allow_production: Annotated[
            bool, typer.Option("--allow-production", help="confirm a production run")
        ] = False,
        state_dir: StateDirOption = None,
        provider: ProviderOption = ProviderName.LOCAL,
        scope: ScopeOption = None,
        role_arn: RoleOption = None,
        stop_alarm: StopAlarmOption = None,
        log_group_arn: LogGroupOption = None,
        stop_alarms_from: StopRulesOption = None,
        alarm_environment: AlarmEnvironmentOption = "prod",
        region: Region = None,
        profile: Profile = None,
        endpoint_url: Endpoint = None,
    ) -> None:
        """Run an experiment: steady state, faults, guardrails, recovery, journal.

        With --provider aws each fault runs as an AWS FIS experiment on the resources the
        --scope file names (faults FIS cannot do are refused, file:line, exit 3); the local
        probes and guardrails still decide, and Ctrl-C/SIGTERM or a breach stop the FIS
        experiment. `ialr chaos stop RUN-ID` stops it from another shell.
        """
        aws = aws_options(
            provider, scope, role_arn, stop_alarm, log_group_arn, region, profile, endpoint_url,
            stop_alarms_from, alarm_environment,
        )  # fmt: skip
        console = Console(highlight=False, soft_wrap=True)
        with progress(console, quiet=as_json or dry_run) as observers:
            given = parse_vars(var)
            result = execute_run(
                file,
                variables={**lab_variables(state_dir), **given} if lab else given,
                system_file=system,
                dry_run=dry_run,
                journal=journal,
                policy_file=policy,
                allow_production=allow_production,
                state_dir=state_dir,
                observers=observers,
                aws=aws,
            )
        if dry_run:
            if as_json:
                typer.echo(json.dumps(plan_json(result), indent=1))
            else:
                render_plan(console, result.plan)
                console.print("dry run: nothing was applied")
            return
        path = str(result.journal_path) if result.journal_path else None
        history.save([history.record_journal(result.journal, path)])
        if as_json:
            typer.echo(
                json.dumps(journal_mod.summary(result.journal, result.journal_path), indent=1)
            )
        else:
            render_result(console, result.journal, path)
            for hint in provider_hints(result.journal):
                console.print(f"Hint: {hint}", markup=False)
        raise typer.Exit(int(result.status.exit_code))

    @app.command("cleanup")
    def cleanup(
        as_json: Annotated[
            bool, typer.Option("--json", help="print what was done as JSON")
        ] = False,
        state_dir: StateDirOption = None,
        region: Region = None,
        profile: Profile = None,
        endpoint_url: Endpoint = None,
    ) -> None:
        """Revert at once every fault a fault ledger says may still be applied.

        Faults of --provider aws runs are FIS experiments: they are found by their tag and
        stopped (pass the --region/--endpoint-url the run used)."""
        cleaners = {"aws": aws_cleaner(region, profile, endpoint_url)}
        report = cleanup_all(resolve_state_dir(state_dir), cleaners)
        if as_json:
            typer.echo(json.dumps(report, indent=1))
            return
        console = Console(highlight=False, soft_wrap=True)
        console.print(
            f"{report['ledgers']} ledger(s) read, {report['pending']} fault(s) pending",
            markup=False,
        )
        for agent in report.get("repaired", []):
            for held in agent["processes"]:
                console.print(
                    f"agent {agent['agent_pid']} (dead): {held['action']} {held['held']} "
                    f"process {held['name']} (pid {held['pid']})",
                    markup=False,
                )
        for item in report["results"]:
            if item["error"]:
                what = f"ERROR {item['error']}"
            elif item["reverted"]:
                what = "reverted " + ", ".join(item["reverted"])
            elif item.get("note"):
                what = str(item["note"])
            else:
                what = "already gone (expired or reverted)"
            console.print(f"{item['key']} {item['fault']}: {what}", markup=False)
        if report["pending"] == 0:
            console.print("nothing to clean up")


def provider_hints(journal: dict[str, Any]) -> list[str]:
    """What to do after the provider failed (e.g. the agent died), from the journal's events."""
    hints = (
        str(event.get("data", {}).get("hint") or "")
        for event in journal.get("events", [])
        if event.get("kind") == EventKind.PROVIDER_FAILED.value
    )
    return list(dict.fromkeys(h for h in hints if h))


def plan_json(result: RunResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "run_id": plan.run_id,
        "title": plan.title,
        "environment": plan.environment,
        "provider": plan.provider,
        "dry_run": True,
        "faults": [journal_mod.planned_json(f) for f in plan.faults],
        "steady_state": list(plan.steady_state),
        "probes": list(plan.probes),
        "guardrails": list(plan.guardrails),
        "recovery_within_s": plan.recovery_within,
    }


__all__ = ["execute_run", "parse_vars", "register"]
