"""``ialr deploy VERSION``: a canary rollout in the lab that rolls back by itself.

Thin: parse, build a :class:`~ial_resilience.rollback.rollout.Rollout`, print its decision
record. Exit codes: 0 completed, 1 rolled back (the version was bad; the rollback worked),
6 aborted (the canary stayed inconclusive, or the rollout stopped; rolled back), 5 the
rollback failed (the record says which replica runs what), 3 bad input, 4 refused (another
rollout holds the lock, or the lab is mid-rollout).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ial_resilience.errors import ExitCode, IalrError, InputError

EXIT = {
    "completed": ExitCode.PASSED,
    "rolled_back": ExitCode.DEVIATED,
    "aborted": ExitCode.INCONCLUSIVE,
    "rollback_failed": ExitCode.PROVIDER_ERROR,
}
EXECUTORS = ("lab",)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)


def deploy(
    version: Annotated[str | None, typer.Argument(help="the version to roll out (--list)")] = None,
    versions_file: Annotated[
        Path | None,
        typer.Option(
            "--versions", help="versions file (default: the lab's bundled one)", dir_okay=False
        ),
    ] = None,
    list_versions: Annotated[bool, typer.Option("--list", help="list the versions")] = False,
    executor: Annotated[str, typer.Option(help="who changes the deployment: lab")] = "lab",
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            file_okay=False,
            help="the lab's state dir (default: $IALR_STATE_DIR or ~/.local/state/ialr)",
        ),
    ] = None,
    canary_for: Annotated[
        str, typer.Option(help="judge the canary this long before promoting it")
    ] = "10s",
    max_canary: Annotated[
        str, typer.Option(help="still inconclusive after this long → abort and roll back")
    ] = "20s",
    traffic: Annotated[
        float, typer.Option(help="requests/s this command sends through the LB (0: only yours)")
    ] = 20.0,
    experiment: Annotated[
        Path | None,
        typer.Option(
            help="post-deploy chaos experiment: a broken hypothesis rolls back",
            dir_okay=False,
            exists=True,
        ),
    ] = None,
    alpha: Annotated[float, typer.Option(help="significance of each canary test")] = 0.01,
    min_samples: Annotated[int, typer.Option(help="requests per side before a verdict")] = 30,
    metric_trigger: Annotated[
        bool, typer.Option(help="roll back when a lab alert rule fires")
    ] = True,
    predictive: Annotated[
        bool, typer.Option(help="roll back when the error budget would run out first")
    ] = True,
    force: Annotated[
        bool,
        typer.Option(help="roll out over a mixed fleet (left by a failed rollback); no rollback"),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the decision record as JSON")
    ] = False,
) -> None:
    """Canary rollout of VERSION to the lab's API that rolls back by itself when it must.

    One canary replica first, judged against the others over the same window (Mann-Whitney
    U on latency, Fisher exact on errors, with minimum effect sizes and samples), then the
    rest. An alert rule that fires, an error
    budget projected to run out, a failed canary or a broken post-deploy experiment rolls
    everything back to the previous version. Needs `ialr lab up`. The decision record is
    written to <state_dir>/rollouts/<id>.json; docs/ROLLBACK.md tells how to tune it.

    Exit codes: 0 completed, 1 rolled back, 6 aborted (inconclusive; rolled back),
    5 rollback failed, 3 bad input, 4 refused (a rollout already runs)."""
    from ial_resilience.lab.versions import load_versions

    versions = load_versions(versions_file)
    if list_versions or version is None:
        if version is None and not list_versions:
            raise InputError("give the VERSION to deploy", hint="`ialr deploy --list` lists them")
        _print_versions(versions, as_json)
        return
    versions.get(version)  # unknown → exit 3 before touching the lab
    if executor not in EXECUTORS:
        raise InputError(
            f"--executor {executor!r} is not known here",
            hint=f"use one of: {', '.join(EXECUTORS)}",
        )
    decision = _run(
        version,
        versions,
        executor,
        state_dir,
        canary_for,
        max_canary,
        traffic,
        experiment,
        alpha,
        min_samples,
        metric_trigger,
        predictive,
        as_json,
        force,
    )
    if as_json:
        typer.echo(json.dumps(decision, indent=2, sort_keys=True))
    else:
        _print_decision(decision)
    raise typer.Exit(int(EXIT.get(decision["status"], ExitCode.PROVIDER_ERROR)))


def _run(
    version: str,
    versions: Any,
    executor: str,
    state_dir: Path | None,
    canary_for: str,
    max_canary: str,
    traffic: float,
    experiment: Path | None,
    alpha: float,
    min_samples: int,
    metric_trigger: bool,
    predictive: bool,
    as_json: bool,
    force: bool = False,
) -> dict[str, Any]:
    from ial_resilience.lab import Lab
    from ial_resilience.lab.telemetry import store_path
    from ial_resilience.observability.store import open_store
    from ial_resilience.rollback.judge import JudgeConfig
    from ial_resilience.rollback.lab import LabDeployment
    from ial_resilience.rollback.rollout import Rollout, RolloutOptions, rollouts_dir
    from ial_resilience.units import parse_duration

    if not 0 < alpha < 1 or min_samples < 1 or traffic < 0:
        raise InputError("--alpha must be in (0, 1), --min-samples >= 1, --traffic >= 0")
    try:
        canary_s, max_s = parse_duration(canary_for), parse_duration(max_canary)
    except ValueError as error:
        raise InputError(f"--canary-for/--max-canary: {error}", hint="write 10s, 1m") from error
    if max_s < canary_s:
        raise InputError(f"--max-canary {max_canary} is shorter than --canary-for {canary_for}")
    lab = Lab(state_dir)
    info = lab.require()  # LabNotRunning: `ialr lab up`
    options = RolloutOptions(
        canary_for=canary_s,
        max_canary=max_s,
        traffic_rps=traffic,
        experiment=experiment,
        judge=JudgeConfig(alpha=alpha, min_samples=min_samples),
        metric_trigger=metric_trigger,
        predictive=predictive,
    )
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    deployment = LabDeployment(info.exports["control"], versions)
    store = open_store(store_path(info.state_dir))
    try:
        rollout = Rollout(
            state_dir=Path(info.state_dir),
            lb_url=info.exports["lb"],
            deployment=deployment,
            store=store,
            version=version,
            options=options,
            run_experiment=_experiment_runner(info) if experiment else None,
            progress=None if as_json else (lambda text: console.print(f"  {text}")),
            force=force,
        )
        decision = rollout.run()
    finally:
        deployment.close()
        store.close()
    path = rollouts_dir(Path(info.state_dir)) / f"{decision['id']}.json"
    decision["record"] = str(path)
    _record_history(decision, path)
    return decision


def _experiment_runner(info: Any) -> Any:
    def run(file: Path, journal_path: Path) -> dict[str, Any]:
        from ial_resilience.engine.plan import new_run_id
        from ial_resilience.engine.providers.local import LocalProvider
        from ial_resilience.engine.run import Run, RunOptions
        from ial_resilience.spec import load_experiment

        experiment = load_experiment(file, variables=info.variables())
        options = RunOptions(
            state_dir=Path(info.state_dir),
            journal_path=journal_path,
            experiment_file=file,
            system="lab",
            run_id=new_run_id(experiment.title),
        )
        provider = LocalProvider.from_state_dir(Path(info.state_dir))
        try:
            journal: dict[str, Any] = Run(experiment, provider, options).execute().journal
            return journal
        finally:
            provider.close()

    return run


def _record_history(decision: dict[str, Any], path: Path) -> None:
    """One ``rollout`` history record (INTERFACES §8); a failure is a warning only."""
    from ial_resilience import history

    try:
        history.save([history.record_rollout(decision, path)])
    except IalrError as error:
        print(
            f"warning: the rollout was not recorded in the history: {error.message}",
            file=sys.stderr,
        )


def _print_versions(versions: Any, as_json: bool) -> None:
    if as_json:
        body = {
            "baseline": versions.baseline,
            "source": versions.source,
            "versions": [v.to_json() for v in versions.versions.values()],
        }
        typer.echo(json.dumps(body, indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"versions in {versions.source} (baseline {versions.baseline}):")
    for v in versions.versions.values():
        knobs = [
            f"error_rate {v.error_rate:g}" if v.error_rate else "",
            f"latency +{v.latency_ms:g} ms" if v.latency_ms else "",
            f"leak {v.leak_per_s} B/s" if v.leak_per_s else "",
            "known good" if v.known_good else "",
        ]
        console.print(f"  {v.name:<12} {v.description}  [{', '.join(k for k in knobs if k)}]")


def _print_decision(decision: dict[str, Any]) -> None:
    console = Console(highlight=False, soft_wrap=True)
    figures, times = decision["figures"], decision["times"]
    console.print(
        f"rollout {decision['id']}: {decision['previous'] or '(mixed fleet)'} → "
        f"{decision['version']} "
        f"[bold]{decision['status']}[/]"
    )
    if decision["trigger"]:
        trigger = decision["trigger"]
        console.print(f"  trigger: {trigger['kind']}: {trigger['reason']}")
    if figures["time_to_detect_s"] is not None:
        console.print(f"  detected {figures['time_to_detect_s']:.1f}s after the canary started")
    if figures["time_to_rollback_s"] is not None:
        total = (times["rolled_back_at"] or 0) - (times["canary_started_at"] or 0)
        console.print(
            f"  rolled back in {figures['time_to_rollback_s']:.1f}s "
            f"({total:.1f}s after the canary started)"
        )
    if decision["judgements"]:
        console.print(f"  last judgement: {decision['judgements'][-1]['reason']}")
    state = decision["state"]
    if state:
        console.print(f"  deployment: {state['phase']} {state['version']} ({state['detail']})")
    if decision.get("error"):
        console.print(f"  error: {decision['error']}")
    console.print(f"  decision record: {decision['record']}")
