"""The agent's named links (TCP fault proxies, :mod:`ial_resilience.agent.link`) and the
injector that turns a link fault into a toxic on its link.

The link runtime is imported only when a link is created, so an agent with no links works
even where the proxy cannot run.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ial_resilience.agent.errors import Conflict, NotFound
from ial_resilience.agent.injector import Mechanism
from ial_resilience.agent.models import FaultRequest, LinkRequest
from ial_resilience.errors import FaultRejected, InputError

if TYPE_CHECKING:
    from ial_resilience.agent.link import Link


def parse_address(text: str, what: str) -> tuple[str, int]:
    """``"host:port"`` (``[::1]:80`` for IPv6) → ``(host, port)``; else :class:`InputError`."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"{what} {text!r} is not host:port (for example 127.0.0.1:5432)")
    return host, int(port)


class ToxicFault:
    """A link fault: one toxic on one link, the fault id as the toxic id."""

    mechanism = Mechanism.PROXY

    def __init__(self, link: Link, spec: Any) -> None:
        self._link, self._spec = link, spec

    def apply(self) -> None:
        self._link.add_toxic(self._spec)

    def evidence(self) -> dict[str, Any]:
        return dict(self._link.toxic_evidence(self._spec.id))

    def revert(self) -> dict[str, Any]:
        return dict(self._link.remove_toxic(self._spec.id))


class LinkTable:
    """Named links. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._links: dict[str, Link] = {}

    def create(self, request: LinkRequest) -> dict[str, Any]:
        listen = parse_address(request.listen, "listen address")
        upstream = parse_address(request.upstream, "upstream address")
        from ial_resilience.agent.link import Link, LinkError

        with self._lock:
            if request.name in self._links:
                raise Conflict(f"a link named {request.name!r} already exists; delete it first")
            link = Link(name=request.name, listen=listen, upstream=upstream, http=request.http)
            try:
                link.start()
            except LinkError as error:
                raise Conflict(f"link {request.name!r}: {error}") from error
            except OSError as error:
                raise Conflict(
                    f"link {request.name!r}: cannot listen on {request.listen}: {error.strerror}"
                ) from error
            self._links[request.name] = link
        return dict(link.snapshot())

    def get(self, name: str) -> Link:
        with self._lock:
            link = self._links.get(name)
        if link is None:
            raise NotFound(f"no link named {name!r}; create it with POST /v1/links first")
        return link

    def delete(self, name: str) -> None:
        with self._lock:
            link = self._links.pop(name, None)
        if link is None:
            raise NotFound(f"no link named {name!r}")
        link.stop()

    def repoint(self, name: str, upstream: str) -> dict[str, Any]:
        """Send the link's new connections to ``upstream`` (open ones keep their server)."""
        link = self.get(name)
        link.upstream = parse_address(upstream, "upstream address")
        return dict(link.snapshot())

    def reset(self, name: str) -> int:
        return int(self.get(name).reset_connections())

    def snapshots(self) -> list[dict[str, Any]]:
        with self._lock:
            links = list(self._links.values())
        return [dict(link.snapshot()) for link in links]

    def stop_all(self) -> None:
        with self._lock:
            links = list(self._links.values())
            self._links.clear()
        for link in links:
            link.stop()

    def toxic_injector(self, name: str, request: FaultRequest, fault_id: str) -> ToxicFault:
        """Validate a link fault into a ToxicSpec (nothing applied yet)."""
        from ial_resilience.faults.toxics import ToxicError, parse_toxic

        link = self.get(name)
        try:
            spec = parse_toxic(
                request.kind,
                request.params,
                request.direction,
                request.toxicity,
                fault_id,
                http_link=link.http,
            )
        except ToxicError as error:
            raise FaultRejected(f"link {name!r}: {error}") from error
        return ToxicFault(link, spec)
