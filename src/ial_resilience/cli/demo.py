"""``ialr demo``: the main job on the embedded default (what ``make demo`` runs).

Starts a small real system in a temporary directory, runs two bundled experiments — 20 ms
latency to the database (should pass) and 200 ms (deviates: the honest finding) — prints each
result with its evidence and where the journals are, and stops everything it started.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ial_resilience.cli.chaos_run import execute_run, sigterm_interrupts
from ial_resilience.engine.model import RunStatus
from ial_resilience.report.summary import render_result

EXPECTED = (RunStatus.PASSED, RunStatus.DEVIATED)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root app."""

    @app.command("demo")
    def demo(
        journals: Annotated[
            Path, typer.Option("--journals", help="directory for the journals")
        ] = Path("journals"),
    ) -> None:
        """Run two real experiments against a demo orders service, then stop everything."""
        from ial_resilience.demo.runner import demo_system, experiment_files

        console = Console(highlight=False, soft_wrap=True)
        started = time.monotonic()
        statuses: list[RunStatus] = []
        with sigterm_interrupts(), demo_system(console) as system:
            for number, file in enumerate(experiment_files(), start=1):
                console.rule(f"experiment {number}: {file.name}")
                result = execute_run(
                    file,
                    variables={"api": system.api_url},
                    system_file=None,
                    dry_run=False,
                    journal=journals / f"{result_name(number, file)}.json",
                    policy_file=None,
                    allow_production=False,
                    state_dir=system.state_dir,
                    observers=[],
                )
                render_result(console, result.journal, str(result.journal_path))
                if not result.journal.get("complete"):
                    console.print("interrupted: faults reverted; stopping the demo")
                    raise typer.Exit(130)
                statuses.append(result.status)
        console.rule("demo summary")
        ok = tuple(statuses) == EXPECTED
        console.print(f"experiment 1 (20 ms to the DB): {statuses[0].value} — expected passed")
        console.print(
            f"experiment 2 (200 ms to the DB): {statuses[1].value} — expected deviated: "
            "200 ms per query cannot fit a 150 ms p95; this is the finding the demo shows"
        )
        console.print(f"journals in {journals.resolve()}/", markup=False)
        console.print(
            f"demo {'worked' if ok else 'did NOT give the expected results'} "
            f"in {time.monotonic() - started:.0f}s"
        )
        raise typer.Exit(0 if ok else 1)


def result_name(number: int, file: Path) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-demo-{number}-{file.stem}"


__all__ = ["register"]
