"""The agent's state directory: ``agent.json`` (url, pid), ``agent.token`` (0600), logs, and
``held/`` (what each agent holds that a crash would leave broken).

The directory is ``--state-dir``, else ``$IALR_STATE_DIR``, else ``~/.local/state/ialr``. The
token file is created with mode 0600 from the first byte (``os.open`` with a mode), never
chmod-ed after the fact, so no other user can ever read it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ial_resilience.errors import AgentUnreachable, InputError

AGENT_FILE = "agent.json"
TOKEN_FILE = "agent.token"
LOG_FILE = "agent.log"
LOGS_DIR = "logs"
START_HINT = "start it with `ialr agent run` (or pass the state dir it uses with --state-dir)"


def resolve_state_dir(path: Path | str | None = None) -> Path:
    """The state directory: the argument, else ``$IALR_STATE_DIR``, else ``~/.local/state/ialr``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("IALR_STATE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "state" / "ialr"


def recovery_history_dir(state: Path | str | None = None) -> Path:
    """Where recovery drills (PostgreSQL and AWS) record their results: one history."""
    return resolve_state_dir(state) / "history" / "recovery"


def setup_logging(logger: logging.Logger, state_dir: Path) -> None:
    """Log INFO and above to ``<state>/agent.log`` and stderr (the agent and its watchdog)."""
    logger.setLevel(logging.INFO)
    logger.propagate = False
    formatter = logging.Formatter("%(asctime)s %(levelname)s ialr-agent: %(message)s")
    for handler in (logging.FileHandler(state_dir / LOG_FILE), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(formatter)
        logger.addHandler(handler)


def ensure_state_dir(path: Path) -> Path:
    """Create the directory (owner only) and its ``logs`` subdirectory."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        (path / LOGS_DIR).mkdir(mode=0o700, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"cannot create the agent state directory {path}: {error.strerror}",
            hint="choose a writable directory with --state-dir or $IALR_STATE_DIR",
        ) from error
    return path


def write_token(state_dir: Path) -> str:
    """Write a fresh random token to ``agent.token``, created with mode 0600; return it."""
    token = secrets.token_urlsafe(32)
    path = state_dir / TOKEN_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    return token


@dataclass(frozen=True)
class AgentInfo:
    """What ``agent.json`` says: where the agent answers and which process it is."""

    url: str
    pid: int


def write_agent_info(state_dir: Path, info: AgentInfo) -> None:
    """Write ``agent.json`` atomically (temporary file, then rename)."""
    path = state_dir / AGENT_FILE
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps({"url": info.url, "pid": info.pid}) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def remove_agent_info(state_dir: Path, pid: int) -> None:
    """Remove ``agent.json`` if it still names this process (a newer agent may own it)."""
    try:
        current = read_agent_info(state_dir)
    except AgentUnreachable:
        return
    if current.pid == pid:
        (state_dir / AGENT_FILE).unlink(missing_ok=True)


def read_agent_info(state_dir: Path) -> AgentInfo:
    """Read ``agent.json``; missing or unreadable → :class:`AgentUnreachable` with the hint."""
    path = state_dir / AGENT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return AgentInfo(url=str(data["url"]), pid=int(data["pid"]))
    except FileNotFoundError as error:
        raise AgentUnreachable(
            f"no agent is running: {path} does not exist", hint=START_HINT
        ) from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AgentUnreachable(f"cannot read {path}: {error}", hint=START_HINT) from error


def read_token(state_dir: Path) -> str:
    """Read ``agent.token``; missing → :class:`AgentUnreachable` with the hint."""
    path = state_dir / TOKEN_FILE
    try:
        token = path.read_text(encoding="ascii").strip()
    except OSError as error:
        raise AgentUnreachable(
            f"cannot read the agent token {path}: {error}", hint=START_HINT
        ) from error
    if not token:
        raise AgentUnreachable(f"the agent token file {path} is empty", hint=START_HINT)
    return token


# What the agent holds ------------------------------------------------------------------------
# ``held/agent-<pid>.json``: the processes a crash of that agent would leave broken (the ones it
# paused, the ones it spawned), each with its create time so nobody signals a reused pid. The
# agent rewrites it (atomic rename) before it pauses anything and after it spawns,
# and removes it at a clean exit; its watchdog, the next agent on the state dir and ``ialr
# chaos cleanup`` repair what a dead agent's file still names (:mod:`.repair`).

HELD_DIR = "held"
HELD_VERSION = 1


class HeldKind(StrEnum):
    PAUSED = "paused"  # SIGSTOP-ed by the agent: resume it (SIGCONT)
    SPAWNED = "spawned"  # started by the agent: stop it (TERM, then KILL after a grace)


@dataclass(frozen=True)
class HeldProcess:
    kind: HeldKind
    name: str
    pid: int
    create_time: float


@dataclass(frozen=True)
class Holdings:
    """One agent's holdings: who it is (pid + create time) and the processes it holds."""

    agent_pid: int
    agent_create_time: float
    processes: tuple[HeldProcess, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "version": HELD_VERSION,
            "agent": {"pid": self.agent_pid, "create_time": self.agent_create_time},
            "processes": [
                {"kind": str(p.kind), "name": p.name, "pid": p.pid, "create_time": p.create_time}
                for p in self.processes
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Holdings:
        agent = data["agent"]
        processes = tuple(
            HeldProcess(HeldKind(p["kind"]), str(p["name"]), int(p["pid"]), float(p["create_time"]))
            for p in data["processes"]
        )
        return cls(int(agent["pid"]), float(agent["create_time"]), processes)


def held_dir(state_dir: Path) -> Path:
    return state_dir / HELD_DIR


def held_path(state_dir: Path, agent_pid: int) -> Path:
    return held_dir(state_dir) / f"agent-{agent_pid}.json"


def write_holdings(state_dir: Path, holdings: Holdings) -> None:
    """Replace the agent's holdings file atomically (temporary file, then rename).

    No fsync, on purpose: the file is read after the agent *process* dies, and the page cache
    outlives a process. It would only help after a kernel crash, which no process it names
    survives (a reboot also gives their pids to others, and the create times tell).
    """
    directory = held_dir(state_dir)
    directory.mkdir(mode=0o700, exist_ok=True)
    path = held_path(state_dir, holdings.agent_pid)
    temporary = path.with_suffix(".json.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(holdings.to_json()) + "\n").encode())
    finally:
        os.close(fd)
    os.replace(temporary, path)


def read_holdings(path: Path) -> Holdings | None:
    """One holdings file; None when it is gone or unreadable (a torn write never renames)."""
    try:
        return Holdings.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def holdings_files(state_dir: Path) -> list[Path]:
    directory = held_dir(state_dir)
    return sorted(directory.glob("agent-*.json")) if directory.is_dir() else []


def remove_holdings(state_dir: Path, agent_pid: int) -> None:
    held_path(state_dir, agent_pid).unlink(missing_ok=True)


@contextmanager
def holdings_lock(state_dir: Path) -> Iterator[None]:
    """Hold ``held/.lock`` (flock): one repair at a time (watchdog, next agent, cleanup)."""
    directory = held_dir(state_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
