"""``ialr alerts``: alert rules, the evaluator, end-to-end alert tests, alert accuracy.

Thin: parse, call :mod:`ial_resilience.alerting`, print. Exit codes: 0 passed/ok, 1 an
expected alert did not fire or resolve in time / KPIs missed, 3 invalid input, 5 store or
provider error.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ial_resilience import history as results
from ial_resilience.alerting import accuracy as accuracy_mod
from ial_resilience.alerting.evaluator import Evaluator, Round
from ial_resilience.alerting.notifiers import (
    FileNotifier,
    Notifier,
    SnsNotifier,
    WebhookNotifier,
)
from ial_resilience.alerting.outbox import Outbox
from ial_resilience.alerting.pipeline import engine_runner, run_pipeline
from ial_resilience.alerting.pipeline_spec import load_pipeline_spec
from ial_resilience.alerting.rules import load_rules
from ial_resilience.alerting.state import add_silence, history
from ial_resilience.errors import ExitCode, InputError
from ial_resilience.observability.store import TelemetryStore, open_store
from ial_resilience.spec.variables import parse_assignments
from ial_resilience.units import parse_duration

app = typer.Typer(
    help="Alerting: validate rules, evaluate, test the pipeline end to end, measure accuracy.",
    no_args_is_help=True,
)

RulesArg = Annotated[Path, typer.Argument(help="alert rule file (YAML)")]
StoreOption = Annotated[Path, typer.Option("--store", help="telemetry store (SQLite file)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON only")]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@app.command("validate")
def validate(
    rules: RulesArg,
    store: Annotated[
        Path | None, typer.Option("--store", help="also check metric names against this store")
    ] = None,
) -> None:
    """Check a rule file: every problem with file:line, unknown metrics with --store."""
    known = open_store(store).metric_names() if store else None
    loaded = load_rules(rules, known_metrics=known)
    kinds = ", ".join(sorted({r.kind.value for r in loaded.rules}))
    _console().print(f"{rules}: OK — {len(loaded.rules)} rule(s) ({kinds})", markup=False)


def _notifiers(
    webhook: list[str] | None, file: list[str] | None, sns_topic: list[str] | None
) -> list[Notifier]:
    built: list[Notifier] = []
    for index, url in enumerate(webhook or []):
        built.append(WebhookNotifier(url, name=f"webhook-{index}"))
    for index, path in enumerate(file or []):
        built.append(FileNotifier(path, name=f"file-{index}"))
    for index, arn in enumerate(sns_topic or []):
        built.append(SnsNotifier(arn, name=f"sns-{index}"))
    return built


def _round_json(result: Round) -> dict[str, Any]:
    return {
        "at": result.at,
        "alerts": [a.to_json() for a in result.alerts],
        "changes": [
            {"rule": a.rule, "labels": dict(a.labels), "change": c.value}
            for a, c in result.changes
            if c.value != "none"
        ],
        "notifications": len(result.notifications),
        "outbox_pending": result.delivery.pending if result.delivery else 0,
        "errors": list(result.errors),
    }


def _print_round(console: Console, result: Round) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(result.at))
    for alert, change in result.changes:
        if change.value != "none":
            value = "" if alert.value is None else f" value={alert.value:.4g}"
            console.print(f"[{stamp}] {alert.rule} {change.value}{value}", markup=False)
    for error in result.errors:
        console.print(f"[{stamp}] rule error: {error}", markup=False)
    if result.delivery and result.delivery.failed:
        console.print(
            f"[{stamp}] {result.delivery.failed} notification(s) not delivered; "
            f"{result.delivery.pending} kept in the outbox",
            markup=False,
        )


@app.command("eval")
def evaluate(
    rules: RulesArg,
    store: StoreOption,
    once: Annotated[bool, typer.Option("--once", help="one evaluation round, then exit")] = False,
    webhook: Annotated[
        list[str] | None, typer.Option("--webhook", help="Slack-compatible URL; repeatable")
    ] = None,
    file: Annotated[
        list[str] | None, typer.Option("--file", help="append notifications (- = stdout)")
    ] = None,
    sns_topic: Annotated[
        list[str] | None, typer.Option("--sns-topic", help="SNS topic ARN")
    ] = None,
    interval: Annotated[
        str | None, typer.Option("--interval", help="override evaluate_every, e.g. 5s")
    ] = None,
    retain: Annotated[
        str | None, typer.Option("--retain", help="delete telemetry older than this, e.g. 7d")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate the rules against the store (every interval, or --once) and notify."""
    loaded = load_rules(rules)
    telemetry = TelemetryStore(store)
    if retain:
        telemetry.retain(_seconds(retain, "--retain"))
    outbox = Outbox(telemetry, _notifiers(webhook, file, sns_topic))
    evaluator = Evaluator(loaded, telemetry, outbox)
    console = _console()
    if once:
        result = evaluator.evaluate()
        if as_json:
            typer.echo(json.dumps(_round_json(result), indent=1))
        else:
            _print_round(console, result)
            firing = ", ".join(a.rule for a in result.firing()) or "none"
            console.print(f"firing: {firing}", markup=False)
        return
    every = _seconds(interval, "--interval") if interval else None
    stop = threading.Event()

    def show(result: Round) -> None:
        if as_json:
            typer.echo(json.dumps(_round_json(result)))
        else:
            _print_round(console, result)

    try:
        evaluator.run(stop, interval=every, on_round=show)
    except KeyboardInterrupt:
        stop.set()


def _seconds(text: str, flag: str) -> float:
    try:
        return parse_duration(text)
    except ValueError:
        raise InputError(
            f"{flag} {text!r} is not a duration", hint="write e.g. 250ms, 5s, 1h"
        ) from None


def _matchers(items: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(
                f"--match {item!r} is not label=value", hint="e.g. --match rule=orders-errors"
            )
        result[key.strip()] = value
    return result


@app.command("silence")
def silence(
    store: StoreOption,
    match: Annotated[
        list[str], typer.Option("--match", help="label=value the alerts must carry; repeatable")
    ],
    duration: Annotated[str, typer.Option("--for", help="how long, e.g. 2h")] = "1h",
    comment: Annotated[str, typer.Option("--comment", help="why")] = "",
) -> None:
    """Silence matching alerts: no firing notifications; resolved ones are still sent."""
    matchers = _matchers(match)
    seconds = _seconds(duration, "--for")
    silence_id = add_silence(TelemetryStore(store), matchers, seconds, comment=comment)
    pairs = ", ".join(f"{k}={v}" for k, v in matchers.items())
    _console().print(f"silence {silence_id}: {pairs} for {duration}", markup=False)


@app.command("test")
def test(
    spec: Annotated[Path, typer.Argument(help="alerts test file (YAML)")],
    var: Annotated[list[str] | None, typer.Option("--var", help="k=v; repeatable")] = None,
    store: Annotated[Path | None, typer.Option("--store", help="telemetry store to use")] = None,
    journal: Annotated[Path | None, typer.Option("--journal", help="journal path")] = None,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="agent state dir")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the experiment; expect the named alerts to fire and resolve in time."""
    loaded = load_pipeline_spec(spec, parse_assignments(var or []))
    journal_path = journal or Path("journals") / f"alerts-test-{int(time.time())}.json"
    result = run_pipeline(loaded, engine_runner(loaded, state_dir, journal_path), store_path=store)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=1))
    else:
        _print_pipeline(result.to_json())
    if not result.passed:
        raise typer.Exit(int(ExitCode.DEVIATED))


def _fmt(value: float | None, unit: str = "s") -> str:
    return "—" if value is None else f"{value:.2f}{unit}"


def _print_pipeline(document: dict[str, Any]) -> None:
    table = Table("alert", "detect", "within", "resolve", "within", "result")
    for item in document["expectations"]:
        table.add_row(
            item["alert"],
            _fmt(item["time_to_detect_s"]),
            _fmt(item["fire_within_s"]),
            _fmt(item["time_to_resolve_s"]),
            _fmt(item["resolve_within_s"]),
            "PASS" if item["passed"] else "FAIL",
        )
    console = _console()
    console.print(table)
    verdict = "passed" if document["passed"] else "failed"
    console.print(
        f"alerts test {verdict} (experiment {document['experiment_status']})", markup=False
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@app.command("accuracy")
def accuracy(
    since: Annotated[
        str | None, typer.Option("--since", help="only runs started in the last … (e.g. 7d)")
    ] = None,
    journals: Annotated[Path, typer.Option("--journals", help="journal directory")] = Path(
        "journals"
    ),
    store: Annotated[Path, typer.Option("--store", help="telemetry store")] = Path("telemetry.db"),
    rules: Annotated[
        Path | None, typer.Option("--rules", help="rule file (rules with no alert, faults globs)")
    ] = None,
    grace: Annotated[str, typer.Option("--grace", help="time after revert still counted")] = "60s",
    as_json: JsonOption = False,
) -> None:
    """Per rule precision, recall, false-positive rate and time to detect, against journals."""
    start = time.time() - _seconds(since, "--since") if since else 0.0
    windows, coverage = accuracy_mod.read_journals(journals, since=start)
    alerts = history(open_store(store), since=start)
    names: dict[str, str | None] = {}
    if rules:
        names = {r.name: r.annotations.get("faults") for r in load_rules(rules).rules}
    scores = accuracy_mod.score(names, alerts, windows, coverage, grace=_seconds(grace, "--grace"))
    overall = accuracy_mod.score_overall(
        alerts, windows, coverage, grace=_seconds(grace, "--grace")
    ).to_json()
    results.save([results.record_accuracy(overall, started=time.time(), title=str(journals))])
    document = {
        "windows": len(windows),
        "kpis": {
            "accuracy_above": accuracy_mod.KPI_ACCURACY,
            "false_positive_rate_below": accuracy_mod.KPI_FALSE_POSITIVE_RATE,
        },
        "rules": [s.to_json() for s in scores],
    }
    if as_json:
        typer.echo(json.dumps(document, indent=1))
    else:
        _print_accuracy(scores, len(windows))
    if scores and not all(s.meets_kpis() for s in scores):
        raise typer.Exit(int(ExitCode.DEVIATED))


def _print_accuracy(scores: list[accuracy_mod.RuleAccuracy], windows: int) -> None:
    table = Table(
        "rule", "alerts", "precision", "recall", "false pos.", "accuracy", "detect (mean)", "KPIs"
    )
    for s in scores:
        table.add_row(
            s.rule,
            str(s.alerts),
            _pct(s.precision),
            _pct(s.recall),
            _pct(s.false_positive_rate),
            _pct(s.accuracy),
            _fmt(s.mean_time_to_detect),
            "met" if s.meets_kpis() else "missed",
        )
    console = _console()
    console.print(table)
    console.print(
        f"{windows} fault window(s). KPIs: accuracy > "
        f"{accuracy_mod.KPI_ACCURACY:.0%}, false positives < "
        f"{accuracy_mod.KPI_FALSE_POSITIVE_RATE:.0%}",
        markup=False,
    )
