"""``ialr history``, ``ialr analyze``, ``ialr score`` and ``ialr kpis``: what the results of
every run say over time. Thin: open the store, call ``ial_resilience.history``, print.

Exit codes: 0 (``kpis``: every KPI with enough data met its target; ``analyze``: no
regression), 1 (a KPI missed its target / a regression was found), 3 bad input (unknown id,
a file that is not a result), 5 the history file is unusable (corrupt, locked).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ial_resilience.errors import ExitCode, InputError
from ial_resilience.history import HistoryStore, Record, RecordKind, import_paths
from ial_resilience.units import parse_duration

app = typer.Typer(
    help="The history of every result: chaos runs, game days, alert accuracy, drills, "
    "backups, rollouts (list, show, export, import).",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)

HistoryPath = Annotated[
    Path | None,
    typer.Option(
        "--history", help="history file (default $IALR_HISTORY or <state dir>/history/history.db)"
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON for machines")]
Since = Annotated[
    str | None, typer.Option("--since", help="only results started in the last … (e.g. 7d)")
]
Kind = Annotated[
    str | None,
    typer.Option(
        "--kind", help="chaos_run, gameday, alert_accuracy, recovery_drill, backup, rollout"
    ),
]


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return time.time() - parse_duration(text)
    except ValueError as error:
        raise InputError(f"--since {text!r}: {error}", hint="write e.g. 7d, 12h, 30m") from None


def _kind(text: str | None) -> RecordKind | None:
    if text is None:
        return None
    try:
        return RecordKind(text)
    except ValueError:
        known = ", ".join(k.value for k in RecordKind)
        raise InputError(
            f"--kind {text!r} is not a kind of result", hint=f"one of {known}"
        ) from None


def _when(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _load(path: Path | None, since: str | None = None) -> list[Record]:
    with HistoryStore.open(path) as store:
        return store.records(since=_since(since))


def _print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=1, default=str))


_SHOWN = (
    "passed",
    "time_to_recover_s",
    "availability",
    "chaos_pass_rate",
    "accuracy",
    "rto_s",
    "success",
    "time_to_rollback_s",
)


def _figures(record: Record) -> str:
    shown = []
    for name in _SHOWN:
        value = record.figures.get(name)
        if value is None:
            continue
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        shown.append(f"{name}={text}")
    return " ".join(shown[:3])


@app.command("list")
def list_(
    kind: Kind = None,
    since: Since = None,
    limit: Annotated[int, typer.Option("--limit", help="newest N results")] = 50,
    history: HistoryPath = None,
    as_json: AsJson = False,
) -> None:
    """The newest results, newest first (`--kind`, `--since 7d`, `--limit N`)."""
    with HistoryStore.open(history) as store:
        found = store.records(kind=_kind(kind), since=_since(since), limit=limit, newest_first=True)
        total = store.count()
    if as_json:
        _print_json([r.to_json() for r in found])
        return
    table = Table("started (UTC)", "kind", "status", "title", "figures", "id")
    for r in found:
        table.add_row(_when(r.started_at), r.kind.value, r.status, r.title, _figures(r), r.id)
    console.print(table)
    console.print(f"{len(found)} of {total} results")


@app.command("show")
def show(
    record_id: Annotated[str, typer.Argument(help="a result's id (see `ialr history list`)")],
    history: HistoryPath = None,
) -> None:
    """One result, as JSON."""
    with HistoryStore.open(history) as store:
        record = store.get(record_id)
        children = store.records(parent_id=record_id)
    if record is None:
        raise InputError(
            f"no result with id {record_id!r} in the history",
            hint="list them with `ialr history list`",
        )
    _print_json({**record.to_json(), "children": [c.id for c in children]})


@app.command("export")
def export(
    kind: Kind = None,
    since: Since = None,
    history: HistoryPath = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON (the only format)")] = True,
) -> None:
    """Every result as one JSON list (oldest first), for other tools."""
    with HistoryStore.open(history) as store:
        found = store.records(kind=_kind(kind), since=_since(since))
    _print_json([r.to_json() for r in found])


@app.command("import")
def import_(
    paths: Annotated[
        list[Path],
        typer.Argument(help="journals, report.json files, drill results or directories of them"),
    ],
    history: HistoryPath = None,
    as_json: AsJson = False,
) -> None:
    """Import results already on disk; results already in the history are skipped.

    Exit 3 when a file could not be imported (it is named; the others are imported)."""
    with HistoryStore.open(history) as store:
        report = import_paths(paths, store)
    if as_json:
        _print_json(report.to_json())
    else:
        console.print(f"imported {report.added} result(s), {report.skipped} already there")
        for problem in report.problems:
            console.print(f"  not imported: {problem}", markup=False)
    if report.problems:
        raise typer.Exit(int(ExitCode.INVALID_INPUT))


@app.command("publish")
def publish(
    since: Since = None,
    history: HistoryPath = None,
    region: Annotated[str | None, typer.Option("--region", help="AWS region")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="e.g. moto")] = None,
    as_json: AsJson = False,
) -> None:
    """Put the results as CloudWatch metrics (namespace IaL/Resilience), for dashboards."""
    from ial_resilience.aws._session import AwsTarget
    from ial_resilience.history.cloudwatch import publish as put

    target = AwsTarget.resolve(region, profile, endpoint_url)
    sent = put(_load(history, since), target)
    if as_json:
        _print_json({"metric_data": sent})
    else:
        console.print(f"published {sent} metric data point(s)")


# -- analysis commands (registered at the top level) -----------------------------------------
def register(root: typer.Typer) -> None:
    root.command("analyze")(analyze)
    root.command("kpis")(kpis_command)
    root.command("score")(score_command)


def analyze(
    since: Since = None,
    history: HistoryPath = None,
    as_json: AsJson = False,
) -> None:
    """Trends, change points, regressions and recommendations from the history.

    Exit 1 when a regression was found, else 0."""
    from ial_resilience.history.analyze import analyze as run

    result = run(_load(history, since), time.time())
    if as_json:
        _print_json(result.to_json())
    else:
        _print_analysis(result)
    if result.regressions:
        raise typer.Exit(int(ExitCode.DEVIATED))


def _print_analysis(result: Any) -> None:
    console.print(f"{result.records} results analysed")
    if result.trends:
        table = Table("subject", "figure", "runs", "first", "last", "slope / week", title="trends")
        for t in result.trends:
            table.add_row(
                t.title,
                t.figure,
                str(t.points),
                f"{t.first:.3g}",
                f"{t.last:.3g}",
                f"{t.slope_per_week:+.3g}",
            )
        console.print(table)
    for c in result.change_points:
        mark = "REGRESSION" if c.worse else "improvement"
        console.print(
            f"{mark}: {c.figure} of '{c.title}' {c.before:.3g} → {c.after:.3g} "
            f"from run {c.record_id} (p={c.p_value:.3f})",
            markup=False,
        )
    console.print("recommendations:" if result.recommendations else "no recommendation")
    for r in result.recommendations:
        console.print(f"- [{r.severity}] {r.text}", markup=False)
        for e in r.evidence[:3]:
            console.print(f"    evidence: {e}", markup=False)


def kpis_command(
    window: Annotated[str, typer.Option("--window", help="results of the last …")] = "30d",
    history: HistoryPath = None,
    as_json: AsJson = False,
) -> None:
    """The plan's KPI scorecard from the history, each with its target and sample size.

    Exit 1 when a KPI with enough data misses its target, else 0."""
    from ial_resilience.history.kpis import kpis as compute

    try:
        window_s = parse_duration(window)
    except ValueError as error:
        raise InputError(f"--window {window!r}: {error}", hint="write e.g. 30d") from None
    found = compute(_load(history), time.time(), window_s)
    if as_json:
        _print_json([k.to_json() for k in found])
    else:
        table = Table("KPI", "value", "target", "met", "sample", "note")
        for k in found:
            value = "—" if k.value is None else _kpi_value(k.value, k.unit)
            met = {True: "[green]yes[/]", False: "[red]NO[/]", None: "—"}[k.met]
            table.add_row(k.name, value, k.target, met, str(k.sample_size), k.note)
        console.print(table)
    if any(k.met is False for k in found):
        raise typer.Exit(int(ExitCode.DEVIATED))


def _kpi_value(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{100 * value:.2f} %"
    return f"{value:.3g} {unit}"


def score_command(
    history: HistoryPath = None,
    as_json: AsJson = False,
) -> None:
    """The resilience score (0–100) with its parts and formula."""
    from ial_resilience.history.score import resilience_score

    result = resilience_score(_load(history), time.time())
    if as_json:
        _print_json(result.to_json())
        return
    if result.value is None:
        console.print("no score: no chaos run in the last 30 days (run `ialr gameday`)")
        return
    console.print(f"resilience score {result.value:.1f} / 100 over {result.runs} runs")
    for part in result.parts:
        console.print(
            f"  {part.name:<9} {part.value:6.3f} × {part.weight}  {part.detail}", markup=False
        )
    console.print(f"formula: {result.formula}", markup=False)
