"""The lab runtime: ``Lab(state_dir).up()`` / ``status()`` / ``down()``.

``up`` starts the agent for the state dir (unless one runs), creates every link, writes the
control plane's fleet file, then starts processes in waves (a process starts once the parts in
its ``after`` are healthy) and waits until every part is healthy: an ``http`` health URL
answers 2xx, a ``health_tcp`` address accepts connections, or (neither given) the process is
alive. Any failure — a part that dies or never becomes healthy within ``timeout`` — stops
everything that was started and raises :class:`LabStartFailed` with the part's last log
lines. ``lab.json`` in the state dir records the running lab (:class:`LabInfo`).

``down`` stops the control plane first (so nothing is restarted meanwhile), then every other
process and its process group at once (PostgreSQL with SIGINT, others SIGTERM, SIGKILL after
2 s), removes the lab's links and processes from the agent and stops the agent if the lab
started it. Data directories under ``<state_dir>/lab`` are recreated by each ``up``.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ial_resilience.agent.client import AgentClient
from ial_resilience.agent.state import ensure_state_dir, resolve_state_dir
from ial_resilience.errors import IalrError, InputError
from ial_resilience.lab._processes import agent_answers, check_health, start_agent, stop_tree
from ial_resilience.lab.control.fleet import FleetConfig
from ial_resilience.lab.model import (
    LAB_FILE,
    LabAlreadyRunning,
    LabInfo,
    LabNotRunning,
    LabStartFailed,
    PartInfo,
    PartState,
    read_lab_info,
)
from ial_resilience.lab.plan import FLEET_FILE, Plan, load_plan
from ial_resilience.postgres import prepare_dir
from ial_resilience.spec.system import ProcessSpec

DEFAULT_TIMEOUT_S = 60.0
POLL_S = 0.05
LOG_LINES = 15
Progress = Callable[[str, PartState], None]


@dataclass
class _Part:
    name: str
    spec: ProcessSpec
    state: PartState = PartState.WAITING
    pid: int = 0

    @property
    def health(self) -> str:
        if self.spec.health:
            return str(self.spec.health)
        if self.spec.health_tcp:
            return f"tcp://{self.spec.health_tcp}"
        return ""


def _replica_names(name: str, spec: ProcessSpec) -> list[str]:
    return [name] if spec.replicas == 1 else [f"{name}-{i}" for i in range(1, spec.replicas + 1)]


def last_log_lines(state_dir: Path, part: str, lines: int = LOG_LINES) -> str:
    path = state_dir / "logs" / f"{part}.log"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class Lab:
    """The lab of one state dir (default: ``$IALR_STATE_DIR`` or ``~/.local/state/ialr``)."""

    def __init__(self, state_dir: Path | str | None = None) -> None:
        self.state_dir = resolve_state_dir(state_dir).absolute()

    # -- queries ---------------------------------------------------------------------------
    def info(self) -> LabInfo | None:
        """The running lab, or None (no record, or its agent is gone)."""
        info = read_lab_info(self.state_dir)
        if info is None:
            return None
        client = agent_answers(self.state_dir)
        if client is None:
            return None
        client.close()
        return info

    def is_running(self) -> bool:
        return self.info() is not None

    def require(self) -> LabInfo:
        info = self.info()
        if info is None:
            raise LabNotRunning(
                f"no lab is running for {self.state_dir}",
                hint="start it with `ialr lab up` (same --state-dir)",
            )
        return info

    def status(self) -> dict[str, Any]:
        """Every part with pid, alive, health; links; the control plane's view when present."""
        info = self.require()
        with AgentClient.from_state_dir(self.state_dir, timeout=5.0) as client:
            agent = client.status()
        processes = {p["name"]: p for p in agent["processes"]}
        parts = []
        for name, process in sorted(processes.items()):
            part = info.parts.get(name)
            health = part.health if part else ""
            healthy = bool(process["alive"]) and (not health or check_health(health))
            state = PartState.HEALTHY if healthy else (
                PartState.UNHEALTHY if process["alive"] else PartState.DEAD
            )  # fmt: skip
            parts.append({"name": name, "pid": process["pid"], "alive": process["alive"],
                          "restarts": process["restarts"], "state": str(state)})  # fmt: skip
        control = self._control_status(info)
        return {
            "name": info.name, "state_dir": info.state_dir, "running": True,
            "exports": info.exports, "parts": parts,
            "links": [{k: link[k] for k in ("name", "listen", "upstream", "connections_active")}
                      for link in agent["links"]],
            "faults": [f for f in agent["faults"] if f.get("state") == "active"],
            "control": control,
        }  # fmt: skip

    @staticmethod
    def _control_status(info: LabInfo) -> dict[str, Any] | None:
        url = info.exports.get("control")
        if not url:
            return None
        import httpx

        try:
            data: dict[str, Any] = httpx.get(f"{url}/v1/status", timeout=3.0).json()
        except (httpx.HTTPError, ValueError):
            return None
        return data

    def logs(self, part: str, lines: int = 50) -> str:
        """The last ``lines`` of a part's log (``agent`` for the agent's own)."""
        logs = self.state_dir / "logs"
        path = self.state_dir / "agent.log" if part == "agent" else logs / f"{part}.log"
        if not path.exists():
            known = sorted(p.stem for p in logs.glob("*.log")) if logs.is_dir() else []
            raise InputError(
                f"no log for part {part!r} in {logs}",
                hint=f"parts with logs: {', '.join(['agent', *known])}",
            )
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:]) if lines > 0 else "\n".join(text)

    # -- up --------------------------------------------------------------------------------
    def up(
        self,
        system_path: Path | str | None = None,
        state_dir: Path | str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        progress: Progress | None = None,
    ) -> LabInfo:
        """Start the lab and wait until it is healthy; :class:`LabAlreadyRunning` if it runs."""
        if state_dir is not None:
            self.state_dir = resolve_state_dir(state_dir).absolute()
        running = self.info()
        if running is not None:
            raise LabAlreadyRunning(
                f"the lab {running.name!r} is already running for {self.state_dir}"
                f" (lb {running.exports.get('lb', '-')})",
                hint="use it as it is, or `ialr lab down` first",
            )
        self._clear_stale()
        ensure_state_dir(self.state_dir)
        plan = load_plan(Path(system_path) if system_path else None, self.state_dir)
        return _Starter(self, plan, timeout, progress or (lambda name, state: None)).run()

    def _clear_stale(self) -> None:
        """A lab record whose agent is gone: stop what it recorded, forget it."""
        stale = read_lab_info(self.state_dir)
        if stale is None:
            return
        stop_tree([p.pid for p in stale.parts.values()] + [stale.agent_pid])
        (self.state_dir / LAB_FILE).unlink(missing_ok=True)

    # -- down ------------------------------------------------------------------------------
    def down(self) -> list[int]:
        """Stop every part (and the agent if the lab started it); the pids left (none)."""
        info = self.require()
        client = agent_answers(self.state_dir)
        names = set(info.parts) | set(info.link_names)
        left = teardown(client, info.agent_pid if info.agent_started else 0, names, info)
        (self.state_dir / LAB_FILE).unlink(missing_ok=True)
        return left


def teardown(
    client: AgentClient | None, agent_pid: int, names: set[str], info: LabInfo | None
) -> list[int]:
    """Stop the lab's processes (control plane first), its links, and the agent if given."""
    processes = client.processes() if client is not None else []
    managed = {p.name for p in info.parts.values() if p.managed} if info else set()
    ours = [
        p for p in processes
        if agent_pid or p["name"] in names or any(p["name"].startswith(m + "-") for m in managed)
    ]  # fmt: skip
    control = [int(p["pid"]) for p in ours if p["name"] == "control"]
    left = stop_tree(control, grace=1.0, first=signal.SIGKILL)  # stateless: no grace needed
    left += stop_tree([int(p["pid"]) for p in ours if p["name"] != "control"])
    if client is not None and not agent_pid:
        _forget(client, ours, names)
    if client is not None:
        client.close()
    if agent_pid:
        left += stop_tree([agent_pid], grace=2.5)
    return left


def _forget(client: AgentClient, processes: list[dict[str, Any]], names: set[str]) -> None:
    """Remove the lab's processes and links from an agent the lab did not start."""
    for process in processes:
        with contextlib.suppress(IalrError):
            client.remove_process(str(process["name"]))
    for link in client.status()["links"]:
        name = str(link["name"])
        if name in names or name.startswith("lb->"):
            with contextlib.suppress(IalrError):
                client.delete_link(name)


def discard(directory: Path) -> None:
    """Move an old lab directory aside at once and delete it in the background (it holds
    PostgreSQL data directories; deleting them inline would slow `lab up` by seconds)."""
    trash = directory.parent.parent / f".{directory.parent.name}-trash-{time.time_ns()}"
    try:
        directory.rename(trash)
    except OSError:
        shutil.rmtree(directory, ignore_errors=True)
        return
    subprocess.Popen(
        ["rm", "-rf", "--", str(trash)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


class _Starter:
    """One ``lab up``: agent, links, fleet file, processes in waves, health."""

    def __init__(self, lab: Lab, plan: Plan, timeout: float, progress: Progress) -> None:
        self.lab, self.plan, self.timeout, self.progress = lab, plan, timeout, progress
        self.parts: dict[str, _Part] = {}
        self.client: AgentClient | None = None
        self.agent_pid = 0
        self.links: dict[str, dict[str, Any]] = {}
        self.started = time.monotonic()

    def run(self) -> LabInfo:
        try:
            return self._run()
        except BaseException:
            self._undo()
            raise

    def _run(self) -> LabInfo:
        self._agent()
        self._prepare_dirs()
        self._create_links()
        self._write_fleet()
        for name, spec in self.plan.started().items():
            for replica in _replica_names(name, spec):
                self.parts[replica] = _Part(replica, spec)
        self._start_and_wait()
        info = self._info()
        info.write(self.lab.state_dir)
        return info

    def _agent(self) -> None:
        self.client = agent_answers(self.lab.state_dir)
        if self.client is None:
            self.progress("agent", PartState.STARTING)
            self.client, self.agent_pid = start_agent(self.lab.state_dir)
        self.progress("agent", PartState.HEALTHY)

    def _prepare_dirs(self) -> None:
        lab_dir = self.plan.lab_dir
        if lab_dir.exists():
            discard(lab_dir)
        prepare_dir(lab_dir)
        # the services' shared telemetry store, created (WAL) before its writers start; imported
        # here: the telemetry modules (OpenTelemetry, Starlette) would slow every `ialr lab` command
        from ial_resilience.lab.telemetry import store_path
        from ial_resilience.observability.store import TelemetryStore

        TelemetryStore(store_path(self.plan.state_dir)).close()

    def _create_links(self) -> None:
        assert self.client is not None
        for name, link in self.plan.system.links.items():
            listen = self.plan.link_listen.get(name, str(link.listen))
            snapshot = self.client.create_link(name, listen, str(link.upstream), link.http)
            self.links[name] = {"listen": snapshot["listen"], "upstream": str(link.upstream),
                                "http": link.http}  # fmt: skip

    def _write_fleet(self) -> None:
        for name, spec in self.plan.managed().items():
            minimum = spec.min_replicas or spec.replicas
            FleetConfig(
                service=name, command=tuple(spec.command), env=dict(spec.env),
                min_replicas=minimum, max_replicas=max(minimum, spec.max_replicas or minimum),
            ).write(self.plan.lab_dir / FLEET_FILE)  # fmt: skip

    def _start_and_wait(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            self._start_ready()
            self._check()
            if all(p.state is PartState.HEALTHY for p in self.parts.values()):
                return
            if time.monotonic() > deadline:
                self._fail(next(p for p in self.parts.values() if p.state is not PartState.HEALTHY),
                           f"did not become healthy within {self.timeout:.0f}s")  # fmt: skip
            time.sleep(POLL_S)

    def _start_ready(self) -> None:
        assert self.client is not None
        for part in self.parts.values():
            if part.state is not PartState.WAITING:
                continue
            needed = [p for p in self.parts.values() if p.name in part.spec.after
                      or any(p.name.startswith(a + "-") for a in part.spec.after)]  # fmt: skip
            if all(p.state is PartState.HEALTHY for p in needed):
                process = self.client.add_process(
                    part.name, list(part.spec.command), env=dict(part.spec.env), cwd=part.spec.cwd
                )
                part.pid, part.state = int(process["pid"]), PartState.STARTING
                self.progress(part.name, part.state)

    def _check(self) -> None:
        assert self.client is not None
        alive = {p["name"]: bool(p["alive"]) for p in self.client.processes()}
        for part in self.parts.values():
            if part.state is not PartState.STARTING:
                continue
            if not alive.get(part.name, False):
                part.state = PartState.DEAD
                self._fail(part, "exited during start-up")
            if not part.health or check_health(part.health, timeout=0.3):
                part.state = PartState.HEALTHY
                self.progress(part.name, part.state)

    def _fail(self, part: _Part, why: str) -> None:
        self.progress(
            part.name, PartState.DEAD if part.state is PartState.DEAD else PartState.UNHEALTHY
        )
        lines = last_log_lines(self.lab.state_dir, part.name)
        check = f" (health: {part.health})" if part.health else ""
        raise LabStartFailed(
            f"lab part {part.name!r}{check} {why}; nothing was left running."
            f" Last log lines of {part.name}:\n{lines}",
            hint=f"see {self.lab.state_dir / 'logs' / (part.name + '.log')}",
        )

    def _undo(self) -> None:
        names = set(self.parts) | set(self.links)
        managed = {n: PartInfo(n, 0, "", True) for n in self.plan.managed()}
        info = LabInfo(self.plan.system.name, "", "", "", 0, False, {}, {}, managed, 0.0, 0.0)
        teardown(self.client, self.agent_pid, names, info)
        self.client = None

    def _info(self) -> LabInfo:
        assert self.client is not None
        parts = {n: PartInfo(n, p.pid, p.health) for n, p in self.parts.items()}
        parts.update({n: PartInfo(n, 0, "", managed=True) for n in self.plan.managed()})
        return LabInfo(
            name=self.plan.system.name, system=str(self.plan.path),
            state_dir=str(self.lab.state_dir), agent_url=self.client.url,
            agent_pid=self.agent_pid or _agent_pid(self.client), agent_started=bool(self.agent_pid),
            exports=dict(self.plan.system.exports), links=self.links, parts=parts,
            started_at=time.time(), up_seconds=round(time.monotonic() - self.started, 3),
            link_names=tuple(self.links),
        )  # fmt: skip


def _agent_pid(client: AgentClient) -> int:
    return int(client.health()["pid"])
