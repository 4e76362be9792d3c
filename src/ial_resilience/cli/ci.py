"""``ialr ci SUITE``: a suite for a pipeline — exit code, JUnit XML, markdown, deploy gate.

Thin: parse, run :func:`ial_resilience.ci.run.run_ci` (the game-day runner, against the lab
by default), print the summary. The gate's score is the history's resilience score (§8).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ial_resilience.ci.gate import GATE_EXIT
from ial_resilience.cli.chaos_run import parse_vars, sigterm_interrupts
from ial_resilience.cli.gameday import observer

HELP = (
    "Run a suite for a CI pipeline: the game day against the lab (started if none runs).\n\n"
    "Writes report.json/report.html, JUnit XML (one testcase per experiment; a failure "
    "carries the reason) and a markdown summary, appended to $GITHUB_STEP_SUMMARY when set.\n\n"
    "Exit code: 0 every hypothesis held; else the worst status's code (1 deviated, 2 aborted, "
    "6 inconclusive; 3 bad input, 4 another suite holds the lock, 5 provider error). "
    f"With --gate the deploy also fails, exit {GATE_EXIT}, when every hypothesis held but the "
    "resilience score of the history (`ialr history`) is below --min-score or cannot be "
    "computed yet.\n\n"
    "Example: ialr ci chaos/quick-suite.yaml --gate --min-score 80 --junit junit.xml"
)


def _duration(text: str) -> float:
    from ial_resilience.errors import InputError
    from ial_resilience.units import parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise InputError(
            f"--alert-drain {text!r} is not a duration", hint="write e.g. 15s"
        ) from None


def register(app: typer.Typer) -> None:
    """Add ``ci`` to the root app."""

    @app.command("ci", help=HELP)
    def ci(
        suite: Annotated[Path, typer.Argument(help="suite file, e.g. chaos/quick-suite.yaml")],
        gate: Annotated[
            bool, typer.Option("--gate", help=f"deploy gate: exit {GATE_EXIT} on a low score")
        ] = False,
        min_score: Annotated[
            float, typer.Option("--min-score", min=0, max=100, help="gate threshold, 0-100")
        ] = 80.0,
        junit: Annotated[
            Path | None, typer.Option("--junit", help="JUnit XML (default OUTPUT/junit.xml)")
        ] = None,
        summary: Annotated[
            Path | None, typer.Option("--summary", help="markdown (default OUTPUT/summary.md)")
        ] = None,
        output: Annotated[
            Path | None, typer.Option("--output", help="report dir (default reports/ci-<time>)")
        ] = None,
        state_dir: Annotated[
            Path | None, typer.Option("--state-dir", help="lab/agent state dir")
        ] = None,
        rate: Annotated[float, typer.Option("--rate", help="load in requests/s")] = 20.0,
        var: Annotated[list[str] | None, typer.Option("--var", help="k=v; repeatable")] = None,
        keep_lab: Annotated[
            bool, typer.Option("--keep-lab", help="leave a lab started here running")
        ] = False,
        alert_drain: Annotated[
            str, typer.Option("--alert-drain", help="evaluate alerts this long after the last")
        ] = "15s",
        history: Annotated[
            Path | None, typer.Option("--history", help="history file (default $IALR_HISTORY)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary only")] = False,
    ) -> None:
        from ial_resilience.ci.run import CiOptions, run_ci

        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        step = os.environ.get("GITHUB_STEP_SUMMARY")
        options = CiOptions(
            suite=suite,
            output=output or Path("reports") / f"ci-{stamp}",
            state_dir=state_dir,
            rate=rate,
            variables=parse_vars(var),
            keep_lab=keep_lab,
            junit=junit,
            summary=summary,
            step_summary=Path(step) if step else None,
            gate=gate,
            min_score=min_score,
            alert_drain_s=_duration(alert_drain),
        )
        console = Console(highlight=False, soft_wrap=True)
        with sigterm_interrupts(), observer(console, as_json) as progress:
            result = run_ci(options, progress, history=history)
        if result.warning:
            typer.echo(f"Warning: {result.warning}", err=True)
        if as_json:
            typer.echo(json.dumps(result.to_json(), indent=1))
        else:
            console.print(result.markdown, markup=False)
            console.print(f"junit: {result.junit}\nsummary: {result.summary}", markup=False)
        raise typer.Exit(result.exit_code)


__all__ = ["register"]
