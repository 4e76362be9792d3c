"""A system file made ready to start: ports chosen, references filled, problems found.

``load_plan(path, state_dir)`` reads the file once raw to learn its named ports (``ports:``,
0 = a free port now) and its links' listen addresses (port 0 = a free port now), then loads it
with :func:`ial_resilience.spec.load_system` and these variables:

- ``${ports.NAME}`` → the port number, ``${links.NAME}`` → the link's ``host:port``;
- ``${state_dir}`` (the agent's), ``${lab_dir}`` (``<state_dir>/lab``), ``${system_dir}`` (the
  system file's directory, for scripts kept beside it), ``${python}`` (this interpreter),
  ``${fleet}`` (the control plane's fleet file).

Then the lab's own checks, each with file:line: a process named in ``after`` that does not
exist (unknown part), ``after`` cycles, links that proxy into each other in a cycle, and a
fixed port already in use (with the pid and name of the process holding it).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from ial_resilience.errors import Problem, SpecError
from ial_resilience.lab.ports import free_port
from ial_resilience.postgres import bin_dir
from ial_resilience.spec import load_system
from ial_resilience.spec.document import Document, read_document
from ial_resilience.spec.system import ProcessSpec, System

BUNDLED = Path(__file__).with_name("system.yaml")
PG_NODE = "ial_resilience.lab.pgnode"
FLEET_FILE = "fleet.json"


@dataclass(frozen=True)
class Plan:
    """A loaded system with every port and link address decided."""

    system: System
    path: Path
    state_dir: Path
    ports: dict[str, int]
    link_listen: dict[str, str]
    variables: dict[str, str]

    @property
    def lab_dir(self) -> Path:
        return self.state_dir / "lab"

    def managed(self) -> dict[str, ProcessSpec]:
        return {n: p for n, p in self.system.processes.items() if p.managed}

    def started(self) -> dict[str, ProcessSpec]:
        """Processes `lab up` starts itself, in file order."""
        return {n: p for n, p in self.system.processes.items() if not p.managed}


def _raw_ports(document: Document) -> dict[str, int]:
    data = document.data if isinstance(document.data, dict) else {}
    raw = data.get("ports")
    if not isinstance(raw, dict):
        return {}
    ports = {}
    for name, value in raw.items():
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535:
            ports[str(name)] = value or free_port()
    return ports


def _raw_links(document: Document) -> dict[str, str]:
    data = document.data if isinstance(document.data, dict) else {}
    raw = data.get("links")
    listen: dict[str, str] = {}
    if not isinstance(raw, dict):
        return listen
    for name, link in raw.items():
        text = str(link.get("listen", "")) if isinstance(link, dict) else ""
        host, sep, port = text.rpartition(":")
        if sep and host and "${" not in text and port.isdigit():
            listen[str(name)] = f"{host}:{port if int(port) else free_port()}"
    return listen


def load_plan(path: Path | None, state_dir: Path) -> Plan:
    """Load ``path`` (the bundled lab when None); :class:`SpecError` with every problem."""
    source = Path(path) if path is not None else BUNDLED
    document = read_document(source)
    ports, links = _raw_ports(document), _raw_links(document)
    lab_dir = state_dir / "lab"
    variables = {
        **{f"ports.{k}": str(v) for k, v in ports.items()},
        **{f"links.{k}": v for k, v in links.items()},
        "state_dir": str(state_dir),
        "lab_dir": str(lab_dir),
        "system_dir": str(source.resolve().parent),
        "python": sys.executable,
        "fleet": str(lab_dir / FLEET_FILE),
    }
    system = load_system(source, variables)
    problems = [*_after_problems(document, system), *_link_cycles(document, system, links)]
    problems += _port_problems(document, system, ports, links)
    if problems:
        raise SpecError(problems, hint="fix the system file and run `ialr lab up` again")
    if any(PG_NODE in spec.command for spec in system.processes.values()):
        bin_dir()  # InputError naming what is missing, before anything starts
    return Plan(system, source, state_dir, ports, links, variables)


def _after_problems(document: Document, system: System) -> Iterator[Problem]:
    names = set(system.processes)
    for name, spec in system.processes.items():
        for index, other in enumerate(spec.after):
            if other not in names:
                yield document.problem(
                    ("processes", name, "after", index),
                    f"unknown part {other!r}",
                    f"one of the processes of this file ({', '.join(sorted(names))})",
                )
    cycle = _cycle({n: [a for a in s.after if a in names] for n, s in system.processes.items()})
    if cycle:
        yield document.problem(
            ("processes", cycle[0], "after"),
            f"a cycle of start dependencies: {' -> '.join(cycle)}",
            "processes that can start in some order (remove one `after` entry)",
        )


def _link_cycles(document: Document, system: System, links: dict[str, str]) -> Iterator[Problem]:
    by_listen = {listen: name for name, listen in links.items()}
    edges = {
        name: [by_listen[str(link.upstream)]] if str(link.upstream) in by_listen else []
        for name, link in system.links.items()
    }
    cycle = _cycle(edges)
    if cycle:
        yield document.problem(
            ("links", cycle[0], "upstream"),
            f"cyclic links: {' -> '.join(cycle)} (each link's upstream is the next one)",
            "links that end at a real service",
        )


def _cycle(edges: dict[str, list[str]]) -> list[str]:
    """One cycle of the graph (names, first repeated at the end), or []."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in edges:
        if node not in state and (found := visit(node)):
            return found
    return []


def port_holder(port: int) -> str | None:
    """``"pid 123 (postgres)"`` when something listens on ``port``; None when it is free."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))
        return None
    except OSError:
        pass
    try:
        connections: list[Any] = psutil.net_connections(kind="tcp")
    except psutil.Error:
        connections = []
    for conn in connections:
        listening = conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
        if listening and conn.pid:
            try:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return "an unknown process"


def _port_problems(
    document: Document, system: System, ports: dict[str, int], links: dict[str, str]
) -> Iterator[Problem]:
    fixed: list[tuple[tuple[Any, ...], int]] = [
        (("ports", name), port) for name, port in system.ports.items() if port
    ]
    fixed += [(("links", name, "listen"), link.listen.port) for name, link in system.links.items()
              if link.listen.port]  # fmt: skip
    for name, spec in system.processes.items():
        fixed += [(("processes", name, "ports", i), port) for i, port in enumerate(spec.ports)]
    for path, port in fixed:
        holder = port_holder(port)
        if holder is not None:
            yield document.problem(
                path,
                f"port {port} already in use by {holder}",
                "a free port (stop that process, or choose another port / 0 for any)",
            )
