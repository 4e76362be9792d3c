"""The agent's state directory: ``agent.json`` (url, pid), ``agent.token`` (0600), logs.

The directory is ``--state-dir``, else ``$IALR_STATE_DIR``, else ``~/.local/state/ialr``. The
token file is created with mode 0600 from the first byte (``os.open`` with a mode), never
chmod-ed after the fact, so no other user can ever read it.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

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
