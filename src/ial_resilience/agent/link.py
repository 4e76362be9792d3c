"""The link runtime: a TCP fault proxy (listen → upstream) with live toxics.

Public API (docs/INTERFACES.md §1)::

    link = Link(name="api->db", listen=("127.0.0.1", 0), upstream=("127.0.0.1", 5432))
    link.start()                       # LinkError when the port cannot be bound
    toxic_id = link.add_toxic(parse_toxic("latency", {"latency_ms": 200}))
    evidence = link.remove_toxic(toxic_id)
    link.stop()

Threads: one accept thread per link; per connection one thread per direction (the
connection's own thread dials and pumps client → server); a writer thread per direction only
while toxics are active. See :mod:`ial_resilience.agent._splice` for the zero-copy path.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from typing import Any

from ial_resilience.agent._http_frame import Unframed
from ial_resilience.agent._link_conn import Connection
from ial_resilience.agent._link_sock import abort, raise_nofile_limit, spawn
from ial_resilience.errors import ProviderError
from ial_resilience.faults.toxics import ToxicError, ToxicSpec, build_kind
from ial_resilience.faults.toxics._runtime import ActiveToxic

__all__ = ["Link", "LinkError"]

_BACKLOG = 4096
_STOP_GRACE = 1.0  # seconds connections get to close cleanly at stop() before being reset


class LinkError(ProviderError):
    """A link cannot do what was asked: its port cannot be bound, an unknown toxic id."""


class Link:
    """A named TCP proxy. Thread-safe: every public method may be called from any thread."""

    def __init__(
        self,
        name: str,
        listen: tuple[str, int],
        upstream: tuple[str, int],
        http: bool = False,
        dial_timeout: float = 2.0,
    ) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.http = http
        self.dial_timeout = dial_timeout
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._bound: tuple[str, int] | None = None
        self._accept_thread: threading.Thread | None = None
        self._stopping = False
        self._conns: set[Connection] = set()
        self._toxics: dict[str, ActiveToxic] = {}
        self._removed: dict[str, dict[str, Any]] = {}
        self._totals = {"connections": 0, "resets": 0, "dial_failures": 0, "up": 0, "down": 0}
        self._unframed: Counter[str] = Counter()  # HTTP links: connections gone pass-through

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Bind and listen; raises :class:`LinkError` naming the address when that fails."""
        if self._listener is not None:
            raise LinkError(f"link {self.name!r} is already started", hint="start it once")
        raise_nofile_limit()
        family = socket.AF_INET6 if ":" in self.listen[0] else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(self.listen)
            listener.listen(_BACKLOG)
        except OSError as exc:
            listener.close()
            host, port = self.listen
            raise LinkError(
                f"link {self.name!r}: cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint=f"port {port} is taken or not allowed; pick another port (0 = any free)",
            ) from exc
        self._listener = listener
        host, port = listener.getsockname()[:2]
        self._bound = (str(host), int(port))
        self._accept_thread = spawn(self._accept_loop, f"link-accept-{self.name}")

    @property
    def listen_address(self) -> tuple[str, int]:
        if self._bound is None:
            raise LinkError(f"link {self.name!r} is not started", hint="call start() first")
        return self._bound

    def stop(self) -> None:
        """Close the listener and every connection (cleanly, then by reset), join threads."""
        with self._lock:
            self._stopping = True
            conns = list(self._conns)
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            if self._accept_thread is not None:
                self._accept_thread.join()
            self._listener.close()
        for conn in conns:
            conn.close()
        deadline = time.monotonic() + _STOP_GRACE
        for conn in conns:
            if conn.thread is not None:
                conn.thread.join(max(0.0, deadline - time.monotonic()))
        for conn in conns:
            if conn.thread is not None and conn.thread.is_alive():
                conn.reset()
                conn.thread.join()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                if self._stopping:
                    return
                time.sleep(0.01)  # EMFILE and the like: back off instead of spinning
                continue
            conn = Connection(self, client)
            conn.thread = spawn(conn.run, f"link-conn-{self.name}")

    # called by connections ---------------------------------------------------------------
    def attach(self, conn: Connection) -> None:
        with self._lock:
            if self._stopping:
                toxics = None
            else:
                self._conns.add(conn)
                self._totals["connections"] += 1
                toxics = list(self._toxics.values())
        if toxics is None:
            abort(conn.client)
            conn.ended.set()
            return
        for toxic in toxics:
            conn.meet(toxic)

    def detach(self, conn: Connection) -> None:
        with self._lock:
            if conn in self._conns:
                self._conns.discard(conn)
                self._totals["up"] += conn.bytes_up
                self._totals["down"] += conn.bytes_down

    def count(self, *, resets: int = 0, dial_failures: int = 0) -> None:
        with self._lock:
            self._totals["resets"] += resets
            self._totals["dial_failures"] += dial_failures

    def count_unframed(self, reason: Unframed) -> None:
        """An HTTP connection stopped being framed: its later requests go unmatched."""
        with self._lock:
            self._unframed[reason.value] += 1

    # toxics ----------------------------------------------------------------------------
    def add_toxic(self, spec: ToxicSpec) -> str:
        """Apply a toxic to every open and future connection; returns ``spec.id``."""
        kind = build_kind(spec)
        if kind.http_only and not self.http:
            raise ToxicError(
                f"toxic {spec.kind!r} needs an HTTP-aware link; link {self.name!r} is plain TCP",
                hint="create the link with http=true, or use a TCP toxic such as 'latency'",
            )
        toxic = ActiveToxic(spec, kind)
        with self._lock:
            if spec.id in self._toxics:
                raise ToxicError(
                    f"link {self.name!r} already has a toxic with id {spec.id!r}",
                    hint="remove it first or use another id",
                )
            self._toxics[spec.id] = toxic
            conns = list(self._conns)
        for conn in conns:
            conn.meet(toxic)
        return spec.id

    def remove_toxic(self, toxic_id: str) -> dict[str, Any]:
        """Remove a toxic (idempotent) and return its final evidence."""
        with self._lock:
            toxic = self._toxics.pop(toxic_id, None)
            if toxic is None:
                return dict(self._removed.get(toxic_id, {"landed": False}))
            toxic.active = False
            conns = list(self._conns)
        for conn in conns:
            conn.forget(toxic_id)
        evidence = toxic.evidence.to_dict()
        with self._lock:
            self._removed[toxic_id] = evidence
        return dict(evidence)

    def toxic_evidence(self, toxic_id: str) -> dict[str, Any]:
        """Evidence so far for an active toxic (or the final one for a removed toxic)."""
        with self._lock:
            toxic = self._toxics.get(toxic_id)
            removed = self._removed.get(toxic_id)
        if toxic is not None:
            return toxic.evidence.to_dict()
        if removed is not None:
            return dict(removed)
        raise LinkError(
            f"link {self.name!r} has no toxic {toxic_id!r}",
            hint="list the link's toxics with snapshot()",
        )

    def reset_connections(self) -> int:
        """Reset (RST) every open connection; returns how many."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.reset()
        return len(conns)

    # observation -----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """A JSON-able view: addresses, counters and active toxics."""
        with self._lock:
            conns = list(self._conns)
            toxics = [t.spec for t in self._toxics.values()]
            totals = dict(self._totals)
            unframed = dict(self._unframed)
        listen = self._bound or self.listen
        return {
            "name": self.name,
            "listen": f"{listen[0]}:{listen[1]}",
            "upstream": f"{self.upstream[0]}:{self.upstream[1]}",
            "http": self.http,
            "enabled": not any(spec.kind == "down" for spec in toxics),
            "connections_active": len(conns),
            "connections_total": totals["connections"],
            "bytes_up": totals["up"] + sum(c.bytes_up for c in conns),
            "bytes_down": totals["down"] + sum(c.bytes_down for c in conns),
            "resets": totals["resets"],
            "dial_failures": totals["dial_failures"],
            "http_unframed": unframed,
            "toxics": [spec.to_dict() for spec in toxics],
        }
