"""``AgentClient``: the agent's control API from Python (httpx), used by the engine's local
provider and by ``ialr agent``.

Errors are translated here, once: nothing answers → :class:`AgentUnreachable`; 401/403 →
:class:`AgentAuthError`; a body that is not the protocol → :class:`AgentProtocolError`; a 4xx on
``/v1/faults`` → :class:`FaultRejected` with the agent's message; any other 4xx →
:class:`InputError`; a 5xx → :class:`ProviderError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from ial_resilience.agent.state import START_HINT, read_agent_info, read_token, resolve_state_dir
from ial_resilience.errors import (
    AgentAuthError,
    AgentProtocolError,
    AgentUnreachable,
    FaultRejected,
    InputError,
    ProviderError,
)


def _need(data: Any, kind: type, what: str, keys: Sequence[str] = ()) -> Any:
    """``data`` if it is a ``kind`` (with ``keys`` for dicts); else :class:`AgentProtocolError`."""
    if not isinstance(data, kind) or (isinstance(data, dict) and any(k not in data for k in keys)):
        raise AgentProtocolError(
            f"the agent answered {what} with an unexpected shape: {str(data)[:200]}",
            hint="is the URL really an ialr agent of the same version?",
        )
    return data


class AgentClient:
    """A connection to one agent. Use as a context manager, or call :meth:`close`."""

    def __init__(self, url: str, token: str, timeout: float = 2.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    @classmethod
    def from_state_dir(cls, path: Path | str | None = None, timeout: float = 2.0) -> AgentClient:
        """Read ``agent.json`` and ``agent.token`` from the state dir (``resolve_state_dir``)."""
        directory = resolve_state_dir(path)
        info = read_agent_info(directory)
        return cls(info.url, read_token(directory), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # transport ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except (httpx.TransportError, httpx.TimeoutException) as error:
            raise AgentUnreachable(
                f"no agent answers at {self.url} ({type(error).__name__}: {error})",
                hint=START_HINT,
            ) from error
        return self._decode(method, path, response)

    def _decode(self, method: str, path: str, response: httpx.Response) -> Any:
        try:
            data = response.json()
        except ValueError as error:
            raise AgentProtocolError(
                f"{method} {self.url}{path} answered HTTP {response.status_code} with a body"
                f" that is not JSON: {response.text[:200]!r}",
                hint="is the URL really an ialr agent?",
            ) from error
        if response.is_success:
            return data
        message = self._error_message(data, response)
        status = response.status_code
        if status in (401, 403):
            raise AgentAuthError(
                f"the agent at {self.url} refused the token: {message}",
                hint="read the token from agent.token in the agent's state dir",
            )
        if 400 <= status < 500 and path.startswith("/v1/faults"):
            raise FaultRejected(message)
        if 400 <= status < 500:
            raise InputError(message)
        raise ProviderError(f"the agent failed on {method} {path} (HTTP {status}): {message}")

    def _error_message(self, data: Any, response: httpx.Response) -> str:
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            raise AgentProtocolError(
                f"the agent answered HTTP {response.status_code} without an error body:"
                f" {str(data)[:200]}"
            )
        return str(error["message"])

    # API ----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = _need(self._call("GET", "/v1/health"), dict, "health", ["ok", "pid"])
        return data

    def status(self) -> dict[str, Any]:
        keys = ["links", "faults", "processes"]
        data: dict[str, Any] = _need(self._call("GET", "/v1/status"), dict, "status", keys)
        return data

    def create_link(
        self, name: str, listen: str, upstream: str, http: bool = False
    ) -> dict[str, Any]:
        body = {"name": name, "listen": listen, "upstream": upstream, "http": http}
        data: dict[str, Any] = _need(
            self._call("POST", "/v1/links", body), dict, "create link", ["name", "listen"]
        )
        return data

    def delete_link(self, name: str) -> None:
        _need(
            self._call("DELETE", f"/v1/links/{quote(name, safe='')}"),
            dict,
            "delete link",
            ["deleted"],
        )

    def update_link(self, name: str, upstream: str) -> dict[str, Any]:
        """Repoint a link: new connections go to ``upstream`` (open ones are kept)."""
        data: dict[str, Any] = _need(
            self._call("PATCH", f"/v1/links/{quote(name, safe='')}", {"upstream": upstream}),
            dict,
            "update link",
            ["name", "upstream"],
        )
        return data

    def respawn_process(self, name: str) -> dict[str, Any]:
        """Start a dead agent-spawned process again; its new pid is in the answer."""
        path = f"/v1/processes/{quote(name, safe='')}/respawn"
        data: dict[str, Any] = _need(self._call("POST", path), dict, "respawn", ["name", "pid"])
        return data

    def remove_process(self, name: str) -> dict[str, Any]:
        """Stop (if spawned) and forget a process."""
        path = f"/v1/processes/{quote(name, safe='')}"
        data: dict[str, Any] = _need(self._call("DELETE", path), dict, "remove", ["name", "pid"])
        return data

    def reset_link(self, name: str) -> int:
        data = _need(
            self._call("POST", f"/v1/links/{quote(name, safe='')}/reset"),
            dict,
            "reset link",
            ["reset"],
        )
        return int(data["reset"])

    def add_process(
        self,
        name: str,
        argv: Sequence[str] | None = None,
        pid: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if argv is not None:
            body.update(argv=list(argv), env=dict(env or {}), cwd=cwd)
        if pid is not None:
            body["pid"] = pid
        keys = ["name", "pid", "alive"]
        data: dict[str, Any] = _need(
            self._call("POST", "/v1/processes", body), dict, "process", keys
        )
        return data

    def processes(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = _need(self._call("GET", "/v1/processes"), list, "processes")
        return data

    def apply_faults(self, faults: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Apply a set of faults atomically; returns the Fault records in order."""
        body = {"faults": [dict(fault) for fault in faults]}
        data = _need(self._call("POST", "/v1/faults", body), dict, "apply faults", ["faults"])
        return self._faults(data["faults"], "apply faults")

    def fault(self, fault_id: str) -> dict[str, Any]:
        return self._fault(self._call("GET", f"/v1/faults/{quote(fault_id, safe='')}"), "fault")

    def faults(self) -> list[dict[str, Any]]:
        return self._faults(self._call("GET", "/v1/faults"), "faults")

    def revert_fault(self, fault_id: str) -> dict[str, Any]:
        return self._fault(
            self._call("DELETE", f"/v1/faults/{quote(fault_id, safe='')}"), "revert fault"
        )

    def revert_all(self) -> list[dict[str, Any]]:
        data = _need(self._call("POST", "/v1/faults/revert-all"), dict, "revert all", ["reverted"])
        return self._faults(data["reverted"], "revert all")

    def metrics(self) -> str:
        """The Prometheus text of ``/metrics``."""
        try:
            response = self._http.get("/metrics")
        except httpx.TransportError as error:
            raise AgentUnreachable(f"no agent answers at {self.url}", hint=START_HINT) from error
        if not response.is_success:
            raise AgentProtocolError(f"/metrics answered HTTP {response.status_code}")
        return response.text

    @staticmethod
    def _fault(data: Any, what: str) -> dict[str, Any]:
        fault: dict[str, Any] = _need(data, dict, what, ["id", "kind", "state", "evidence"])
        return fault

    def _faults(self, data: Any, what: str) -> list[dict[str, Any]]:
        return [self._fault(item, what) for item in _need(data, list, what)]
