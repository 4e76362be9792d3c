"""``ialr lab``: start, inspect and stop the lab (or any system file).

Thin: parse, call :class:`~ial_resilience.lab.Lab`, print.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ial_resilience.lab import Lab, LabAlreadyRunning, LabInfo, PartState

app = typer.Typer(
    help="The lab: a small copy of IaL's production shape on loopback (or your system file).",
    no_args_is_help=True,
)

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="state dir of the agent and the lab (default: $IALR_STATE_DIR or ~/.local/state/ialr)",
        file_okay=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
STYLE = {
    PartState.HEALTHY: "green",
    PartState.STARTING: "yellow",
    PartState.WAITING: "dim",
    PartState.UNHEALTHY: "red",
    PartState.DEAD: "red",
}


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def _addresses(console: Console, info: LabInfo) -> None:
    table = Table(title=f"lab {info.name}", show_edge=False)
    table.add_column("name")
    table.add_column("address")
    for name, value in info.exports.items():
        table.add_row(f"${{{name}}}", value)
    for name, link in info.links.items():
        table.add_row(f"link {name}", f"{link['listen']} -> {link['upstream']}")
    console.print(table)


@app.command("up")
def up(
    system: Annotated[
        Path | None,
        typer.Option("--system", help="system file (default: the bundled lab)", dir_okay=False),
    ] = None,
    state_dir: StateDir = None,
    timeout: Annotated[float, typer.Option(help="seconds every part gets to become healthy")] = 60,
    as_json: AsJson = False,
) -> None:
    """Start the agent and every part; wait until all are healthy; print the addresses."""
    console = _console()
    lab = Lab(state_dir)

    def progress(part: str, state: PartState) -> None:
        if not as_json:
            console.print(f"  {part:<14} [{STYLE[state]}]{state}[/]")

    try:
        info = lab.up(system, timeout=timeout, progress=progress)
    except LabAlreadyRunning as running:
        current = lab.require()
        if as_json:
            _print_json({**current.to_json(), "already_running": True})
        else:
            console.print(f"[yellow]{running.message}[/]")
            _addresses(console, current)
        return
    if as_json:
        _print_json(info.to_json())
        return
    console.print(f"[green]lab {info.name} is up[/] in {info.up_seconds:.1f}s")
    _addresses(console, info)


@app.command("status")
def status(state_dir: StateDir = None, as_json: AsJson = False) -> None:
    """Parts (pid, alive, health, restarts), links, active faults, LB targets."""
    data = Lab(state_dir).status()
    if as_json:
        _print_json(data)
        return
    console = _console()
    table = Table(title=f"lab {data['name']}", show_edge=False)
    for column in ("part", "pid", "state", "restarts"):
        table.add_column(column)
    for part in data["parts"]:
        state = PartState(part["state"])
        table.add_row(part["name"], str(part["pid"]), f"[{STYLE[state]}]{state}[/]",
                      str(part["restarts"]))  # fmt: skip
    console.print(table)
    control = data.get("control") or {}
    for target in control.get("lb", {}).get("targets", []):
        console.print(f"  lb target {target['name']:<8} {target['state']:<10} {target['address']}")
    for fault in data["faults"]:
        console.print(f"  fault {fault['id']} {fault['kind']} on {fault['target']}")


@app.command("logs")
def logs(
    part: Annotated[str, typer.Argument(help="a part (api-1, db-primary, control …) or agent")],
    lines: Annotated[int, typer.Option("-n", "--lines", help="last N lines (0: all)")] = 50,
    state_dir: StateDir = None,
) -> None:
    """The last lines of a part's log."""
    typer.echo(Lab(state_dir).logs(part, lines))


@app.command("down")
def down(state_dir: StateDir = None, as_json: AsJson = False) -> None:
    """Stop every part and the agent the lab started; nothing is left listening."""
    lab = Lab(state_dir)
    info = lab.require()
    started = time.monotonic()
    left = lab.down()
    seconds = round(time.monotonic() - started, 3)
    if as_json:
        _print_json({"stopped": info.name, "left": left, "seconds": seconds})
        return
    if left:
        _console().print(f"[red]lab {info.name}: processes still present: {left}[/]")
        raise typer.Exit(5)
    _console().print(f"lab {info.name} is down")
