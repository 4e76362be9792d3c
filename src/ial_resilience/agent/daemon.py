"""The agent process: state files, the control API on 127.0.0.1, clean exit on signals.

Lifecycle: create the state dir (0700) → refuse if a live agent already owns it → repair what
a dead predecessor left (its holdings file: resume the processes it paused, stop the ones it
spawned) → bind 127.0.0.1:PORT → write a fresh ``agent.token`` (0600 from creation) → start
the watchdog (:mod:`ial_resilience.agent.watchdog`) → write ``agent.json`` (url, pid) → serve
→ on SIGTERM/SIGINT: stop serving, revert every fault, stop every link and every spawned
process, remove the holdings file and ``agent.json``. If the agent dies instead (``kill -9``),
its watchdog does the repair at once. Every state-changing request is logged to ``agent.log``
and stderr.

``python -m ial_resilience.agent.daemon --state-dir DIR --port 0`` runs it (tests use this).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import psutil
import uvicorn

from ial_resilience.agent.api import build_app
from ial_resilience.agent.errors import Conflict
from ial_resilience.agent.repair import repair_dead_agents
from ial_resilience.agent.service import Agent
from ial_resilience.agent.state import (
    AgentInfo,
    ensure_state_dir,
    read_agent_info,
    remove_agent_info,
    resolve_state_dir,
    setup_logging,
    write_agent_info,
    write_token,
)
from ial_resilience.agent.watchdog_handle import Watchdog
from ial_resilience.errors import AgentUnreachable, IalrError, InputError

LOOPBACK = "127.0.0.1"
log = logging.getLogger("ialr.agent")


def check_bind_host(host: str) -> None:
    """The control API listens on loopback only; anything else is refused."""
    if host != LOOPBACK:
        raise InputError(
            f"the agent serves its control API on {LOOPBACK} only; {host!r} is refused",
            hint=f"drop --host or pass --host {LOOPBACK}",
        )


def refuse_if_running(state_dir: Path) -> None:
    """A live agent already owns this state dir → :class:`Conflict`; a stale file is ignored."""
    try:
        info = read_agent_info(state_dir)
    except AgentUnreachable:
        return
    if info.pid != os.getpid() and psutil.pid_exists(info.pid) and _answers(info):
        raise Conflict(
            f"an agent already runs for {state_dir} (pid {info.pid}, {info.url})",
            hint="stop it (kill -TERM its pid) or pass another --state-dir",
        )


def _answers(info: AgentInfo) -> bool:
    """True when an agent with that pid answers at that URL (a reused pid is not an agent)."""
    try:
        health = httpx.get(f"{info.url}/v1/health", timeout=1.0).json()
    except (httpx.HTTPError, ValueError):
        return False
    return isinstance(health, dict) and health.get("pid") == info.pid


class _Stopping(Exception):
    """SIGTERM/SIGINT before the server took over signal handling."""


def _interrupt(signum: int, frame: object) -> None:
    raise _Stopping


def repair_predecessors(state_dir: Path) -> None:
    """Repair what agents that died on this state dir left (their watchdog may have died too)."""
    for report in repair_dead_agents(state_dir):
        log.warning(
            "agent %d had died without cleaning up; repaired %d process(es) it held",
            report.agent_pid,
            len(report.items),
        )


def bind(port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP; with proto 0 every response pays Nagle + delayed ACK (40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError as error:
        sock.close()
        reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be bound ({error})"
        raise InputError(
            f"port {port} on {LOOPBACK} {reason}", hint="pass --port 0 to pick a free port"
        ) from error
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def _ignore_signals() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)


def _serve(agent: Agent, token: str, sock: socket.socket) -> None:
    config = uvicorn.Config(
        build_app(agent, token, log),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    # uvicorn handles SIGTERM/SIGINT while it serves, then re-raises the signal that stopped it
    # to the handler it found; a no-op handler makes that harmless so the cleanup always runs.
    _ignore_signals()
    server.run(sockets=[sock])


def run_agent(
    state_dir: Path | None = None,
    port: int = 0,
    host: str = LOOPBACK,
    system: Path | None = None,
) -> int:
    """Run the agent in the foreground until SIGTERM/SIGINT; returns the exit code."""
    check_bind_host(host)
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    for signum in previous:
        signal.signal(signum, _interrupt)
    try:
        _run(resolve_state_dir(state_dir), port, system)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _run(state_dir: Path, port: int, system: Path | None) -> None:
    """Start, serve, and on any exit revert everything and remove ``agent.json``."""
    directory = ensure_state_dir(state_dir)
    refuse_if_running(directory)
    setup_logging(log, directory)
    repair_predecessors(directory)
    sock = bind(port)
    token = write_token(directory)
    watchdog = Watchdog(directory)
    watchdog.start()
    agent = Agent(directory)
    agent.start()
    url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    try:
        if system is not None:
            from ial_resilience.agent.system import apply_system

            apply_system(agent, system)
        write_agent_info(directory, AgentInfo(url=url, pid=os.getpid()))
        log.info("agent %s serving %s (state %s)", os.getpid(), url, directory)
        _serve(agent, token, sock)
    except _Stopping:
        log.info("stopped by a signal while starting")
    finally:
        _ignore_signals()  # a second signal must not cut the cleanup short
        reverted = agent.shutdown()  # if this raises, the watchdog repairs what is left
        remove_agent_info(directory, os.getpid())
        watchdog.close()
        sock.close()
        log.info("agent stopped; reverted %d fault(s)", len(reverted))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ial_resilience.agent.daemon")
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--system", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        return run_agent(args.state_dir, args.port, args.host, args.system)
    except IalrError as error:
        print(f"Error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"Hint: {error.hint}", file=sys.stderr)
        return int(error.exit_code)


if __name__ == "__main__":
    sys.exit(main())
