"""``ialr gameday``: the whole experiment library against the lab under real traffic.

Thin: parse, run :class:`ial_resilience.gameday.Gameday`, print progress, a summary table and
the report path. Exit code 0 only when every hypothesis held, else the worst status's code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ial_resilience import history
from ial_resilience.cli.chaos_run import parse_vars, sigterm_interrupts
from ial_resilience.engine.model import Event, EventKind
from ial_resilience.gameday import Gameday, GamedayOptions, GamedayResult, default_suite

_SHOWN = (EventKind.FAULT_APPLIED, EventKind.FAULT_REVERTED, EventKind.GUARDRAIL_BREACH)


class LineProgress:
    """One line per experiment boundary and per fault event (output is not a terminal)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.t0 = time.monotonic()

    def _line(self, text: str) -> None:
        self.console.print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", markup=False)

    def experiment_started(self, index: int, total: int, title: str) -> None:
        self._line(f"experiment {index}/{total}: {title}")

    def experiment_ended(self, index: int, journal: Mapping[str, Any]) -> None:
        self._line(f"  -> {journal.get('status')}: {journal.get('reason')}")

    def on_event(self, event: Event) -> None:
        if event.kind in _SHOWN:
            self._line(f"  {event.message}")


class RichProgress(LineProgress):
    """A live bar over the experiments; the current phase in its description."""

    def __init__(self, console: Console, progress: Progress) -> None:
        super().__init__(console)
        self.progress = progress
        self.task: TaskID | None = None
        self.title = ""

    def experiment_started(self, index: int, total: int, title: str) -> None:
        if self.task is None:
            self.task = self.progress.add_task(title, total=total)
        self.title = f"{index}/{total} {title}"
        self.progress.update(self.task, description=self.title)

    def experiment_ended(self, index: int, journal: Mapping[str, Any]) -> None:
        super().experiment_ended(index, journal)
        if self.task is not None:
            self.progress.advance(self.task)

    def on_event(self, event: Event) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=f"{self.title} · {event.phase.value}")
        super().on_event(event)


@contextmanager
def observer(console: Console, quiet: bool) -> Iterator[LineProgress]:
    if quiet:
        yield LineProgress(Console(quiet=True))
    elif console.is_terminal:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            yield RichProgress(console, bar)
    else:
        yield LineProgress(console)


def summary_table(report: Mapping[str, Any]) -> Table:
    table = Table(title=f"game day: {report.get('title')}")
    for column in ("#", "experiment", "status", "time to recover", "avail. during faults"):
        table.add_column(column)
    for e in report["experiments"]:
        ttr = e.get("time_to_recover_s")
        avail = e.get("availability_during_faults")
        table.add_row(
            str(e["index"]),
            e["title"],
            e["status"],
            "–" if ttr is None else f"{ttr:.2f}s",
            "–" if avail is None else f"{100 * avail:.2f}%",
        )
    return table


def print_summary(console: Console, result: GamedayResult) -> None:
    report, kpis = result.report, result.report["kpis"]
    console.print(summary_table(report))
    rate = kpis.get("chaos_pass_rate")
    avail = kpis.get("availability")
    mttr = kpis.get("mttr_mean_s")
    console.print(
        f"chaos pass rate {'–' if rate is None else f'{100 * rate:.0f}%'} "
        f"({kpis['passed']}/{kpis['experiments']}), "
        f"availability {'–' if avail is None else f'{100 * avail:.3f}%'} over "
        f"{kpis['requests']} requests, mean time to recover "
        f"{'–' if mttr is None else f'{mttr:.2f}s'}",
        markup=False,
    )
    console.print(f"report: {result.html_path}", markup=False)


def json_summary(result: GamedayResult) -> dict[str, Any]:
    report = result.report
    return {
        "schema": report["schema"],
        "report_json": str(result.json_path),
        "report_html": str(result.html_path),
        "exit_code": result.exit_code,
        "kpis": report["kpis"],
        "experiments": [
            {k: e[k] for k in ("index", "title", "status", "reason", "time_to_recover_s")}
            for e in report["experiments"]
        ],
    }


def register(app: typer.Typer) -> None:
    """Add ``gameday`` to the root app."""

    @app.command("gameday")
    def gameday(
        suite: Annotated[
            Path | None, typer.Option("--suite", help="suite file (default: chaos/suite.yaml)")
        ] = None,
        quick: Annotated[
            bool, typer.Option("--quick", help="the representative subset (≤ 90 s)")
        ] = False,
        output: Annotated[
            Path | None, typer.Option("--output", help="report dir (default reports/<time>/)")
        ] = None,
        keep_lab: Annotated[
            bool, typer.Option("--keep-lab", help="leave a lab started here running")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary only")] = False,
        rate: Annotated[float, typer.Option("--rate", help="load in requests/s")] = 20.0,
        var: Annotated[
            list[str] | None, typer.Option("--var", help="k=v for ${k}; repeatable")
        ] = None,
        state_dir: Annotated[
            Path | None, typer.Option("--state-dir", help="lab/agent state dir")
        ] = None,
    ) -> None:
        """Run a game day: lab, real traffic, every experiment, report.json + report.html."""
        console = Console(highlight=False, soft_wrap=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        options = GamedayOptions(
            suite=suite or default_suite(quick),
            output=output or Path("reports") / stamp,
            quick=quick,
            keep_lab=keep_lab,
            state_dir=state_dir,
            rate=rate,
            variables=parse_vars(var),
        )
        with sigterm_interrupts(), observer(console, as_json) as progress:
            result = Gameday(options, progress).run()
        history.save(history.record_gameday(result.report, result.json_path))
        if as_json:
            typer.echo(json.dumps(json_summary(result), indent=1))
        else:
            print_summary(console, result)
        raise typer.Exit(result.exit_code)


__all__ = ["register"]
