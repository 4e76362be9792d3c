"""``ialr agent``: run the local fault agent and talk to it.

Thin: parse, call :class:`~ial_resilience.agent.client.AgentClient` (or the daemon), print.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import InputError
from ial_resilience.units import format_duration, format_size, parse_duration

app = typer.Typer(
    help="The local fault agent: run it, show its links and faults, revert.", no_args_is_help=True
)
link_app = typer.Typer(help="Links: TCP fault proxies the agent owns.", no_args_is_help=True)
fault_app = typer.Typer(help="Faults: apply one by hand, or revert one.", no_args_is_help=True)
process_app = typer.Typer(
    help="Processes the agent may kill, pause or restart.", no_args_is_help=True
)
app.add_typer(link_app, name="link")
app.add_typer(fault_app, name="fault")
app.add_typer(process_app, name="process")

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="agent state dir (default: $IALR_STATE_DIR or ~/.local/state/ialr)",
        file_okay=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


@app.command("run")
def run(
    state_dir: StateDir = None,
    port: Annotated[int, typer.Option(help="control API port on 127.0.0.1 (0: any free)")] = 0,
    host: Annotated[str, typer.Option(help="bind address; only 127.0.0.1 is allowed")] = (
        "127.0.0.1"
    ),
    system: Annotated[
        Path | None,
        typer.Option(help="system file: links, processes and faults to create at start"),
    ] = None,
) -> int:
    """Run the agent in the foreground until SIGTERM or Ctrl-C (which revert every fault).

    If the agent is killed (kill -9), its watchdog resumes what it paused, stops what it spawned.
    """
    from ial_resilience.agent.daemon import run_agent

    return run_agent(state_dir, port, host, system)


@app.command("status")
def status(state_dir: StateDir = None, as_json: AsJson = False) -> None:
    """Show the agent's links, faults (with time left) and processes."""
    with AgentClient.from_state_dir(state_dir) as client:
        data = client.status()
    if as_json:
        _print_json(data)
        return
    console = _console()
    console.print(_links_table(data["links"]))
    console.print(_faults_table(data["faults"]))
    console.print(_processes_table(data["processes"]))


def _links_table(links: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Links ({len(links)})", title_justify="left")
    for column in ("name", "listen", "upstream", "conns", "up", "down", "toxics"):
        table.add_column(column, overflow="fold")
    for link in links:
        table.add_row(
            str(link["name"]),
            str(link["listen"]),
            str(link["upstream"]),
            f"{link.get('connections_active', 0)}/{link.get('connections_total', 0)}",
            format_size(int(link.get("bytes_up", 0))),
            format_size(int(link.get("bytes_down", 0))),
            ", ".join(str(t.get("id")) for t in link.get("toxics", [])) or "-",
        )
    return table


def _time_left(fault: dict[str, Any]) -> str:
    if fault["state"] != "active":
        return "-"
    return format_duration(max(0.0, float(fault["expires_at"]) - time.time()))


def _faults_table(faults: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Faults ({len(faults)})", title_justify="left")
    for column in ("id", "kind", "target", "state", "left", "mechanism", "landed"):
        table.add_column(column, overflow="fold")
    for fault in faults:
        target = ", ".join(f"{k}={v}" for k, v in fault["target"].items())
        table.add_row(
            str(fault["id"]),
            str(fault["kind"]),
            target,
            str(fault["state"]),
            _time_left(fault),
            str(fault["mechanism"]),
            "yes" if fault.get("evidence", {}).get("landed") else "no",
        )
    return table


def _processes_table(processes: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Processes ({len(processes)})", title_justify="left")
    for column in ("name", "pid", "alive", "paused", "restarts", "origin"):
        table.add_column(column, overflow="fold")
    for process in processes:
        table.add_row(
            str(process["name"]),
            str(process["pid"]),
            "yes" if process["alive"] else "no",
            "yes" if process["paused"] else "no",
            str(process["restarts"]),
            str(process.get("origin", "")),
        )
    return table


@app.command("revert-all")
def revert_all(state_dir: StateDir = None, as_json: AsJson = False) -> None:
    """Revert every active fault now."""
    with AgentClient.from_state_dir(state_dir) as client:
        reverted = client.revert_all()
    if as_json:
        _print_json({"reverted": reverted})
        return
    ids = ", ".join(str(fault["id"]) for fault in reverted)
    typer.echo(f"Reverted {len(reverted)} fault(s){': ' + ids if ids else ''}.")


@link_app.command("add")
def link_add(
    name: Annotated[str, typer.Argument(help="link name, e.g. api->db")],
    listen: Annotated[str, typer.Option(help="host:port to listen on (port 0: any)")],
    upstream: Annotated[str, typer.Option(help="host:port of the real service")],
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="HTTP-aware link: frames HTTP/1.1 requests (Content-Length or chunked "
            "bodies, pipelined) so that http_abort/http_delay match them by method and path",
        ),
    ] = False,
    state_dir: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Create a link (a TCP fault proxy) in the running agent."""
    with AgentClient.from_state_dir(state_dir) as client:
        link = client.create_link(name, listen, upstream, http=http)
    if as_json:
        _print_json(link)
        return
    typer.echo(f"Link {link['name']}: {link['listen']} -> {link['upstream']}")


@link_app.command("rm")
def link_rm(
    name: Annotated[str, typer.Argument(help="link name")],
    state_dir: StateDir = None,
) -> None:
    """Delete a link: revert its faults, close its connections, stop listening."""
    with AgentClient.from_state_dir(state_dir) as client:
        client.delete_link(name)
    typer.echo(f"Link {name} deleted.")


@process_app.command("add")
def process_add(
    name: Annotated[str, typer.Argument(help="process name, e.g. api-1")],
    argv: Annotated[
        list[str] | None, typer.Argument(help="command the agent starts (after --)")
    ] = None,
    pid: Annotated[int | None, typer.Option(help="adopt this running process instead")] = None,
    state_dir: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Register a process: the agent starts ARGV (after --), or adopts --pid."""
    if bool(argv) == (pid is not None):
        raise InputError("give either a command after -- (the agent starts it) or --pid (adopt)")
    with AgentClient.from_state_dir(state_dir) as client:
        process = client.add_process(name, argv=argv or None, pid=pid)
    if as_json:
        _print_json(process)
        return
    how = "adopted" if pid is not None else "started"
    typer.echo(f"Process {process['name']} {how}, pid {process['pid']}.")


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["latency_ms=200", "path=/x"]`` → ``{"latency_ms": 200, "path": "/x"}`` (JSON values)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--param {pair!r} is not KEY=VALUE (for example latency_ms=200)")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def _target(link: str | None, process: str | None, host: bool) -> dict[str, Any]:
    given = [
        t for t in ({"link": link}, {"process": process}, {"host": host}) if next(iter(t.values()))
    ]
    if len(given) != 1:
        raise InputError("give exactly one target: --link NAME, --process NAME or --host")
    return given[0]


@fault_app.command("add")
def fault_add(
    kind: Annotated[str, typer.Option(help="latency, loss, down, kill, pause, cpu, disk, …")],
    duration: Annotated[str, typer.Option(help="how long, e.g. 30s (the agent reverts then)")],
    link: Annotated[str | None, typer.Option(help="target link name")] = None,
    process: Annotated[str | None, typer.Option(help="target process name")] = None,
    host: Annotated[bool, typer.Option("--host", help="target the host (cpu/memory/disk)")] = False,
    param: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable")] = None,
    direction: Annotated[str, typer.Option(help="upstream, downstream or both")] = "both",
    toxicity: Annotated[float, typer.Option(help="share of connections affected")] = 1.0,
    fault_id: Annotated[
        str | None, typer.Option("--id", help="fault id (default: generated)")
    ] = None,
    state_dir: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Apply one fault now; it is reverted after --duration even if nobody asks."""
    try:
        seconds = parse_duration(duration)
    except ValueError as error:
        raise InputError(f"--duration: {error}") from error
    request: dict[str, Any] = {
        "kind": kind,
        "target": _target(link, process, host),
        "params": parse_params(param or []),
        "direction": direction,
        "toxicity": toxicity,
        "duration_ms": max(1, round(seconds * 1000)),
    }
    if fault_id:
        request["id"] = fault_id
    with AgentClient.from_state_dir(state_dir) as client:
        [fault] = client.apply_faults([request])
    if as_json:
        _print_json(fault)
        return
    typer.echo(f"Applied {fault['id']} ({fault['kind']}), reverted in {format_duration(seconds)}.")


@fault_app.command("rm")
def fault_rm(
    fault_id: Annotated[str, typer.Argument(help="the fault id")],
    state_dir: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Revert one fault now and show its final evidence."""
    with AgentClient.from_state_dir(state_dir) as client:
        fault = client.revert_fault(fault_id)
    if as_json:
        _print_json(fault)
        return
    evidence = ", ".join(f"{k}={v}" for k, v in fault["evidence"].items())
    typer.echo(f"Fault {fault['id']} {fault['state']}. Evidence: {evidence or 'none'}")
