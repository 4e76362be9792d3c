"""Bind and serve the dashboard: loopback only unless asked, a taken port said plainly.

The socket is bound here (not by uvicorn) so a port in use is an :class:`InputError` naming
it (exit 3) before anything is served, and ``--port 0`` gets a free port whose number is
printed.
"""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
from collections.abc import Callable

import uvicorn

from ial_resilience.dashboard.app import LOOPBACK_HOSTS, build_app
from ial_resilience.dashboard.source import DashboardData
from ial_resilience.errors import InputError, SafetyRefusal


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """A dashboard reachable from other machines shows the history to anyone who can reach
    it (there is no login): that needs ``--allow-remote``."""
    if not is_loopback(host) and not allow_remote:
        raise SafetyRefusal(
            f"--host {host} would serve the dashboard beyond this machine (it has no login)",
            hint="use the default --host 127.0.0.1 (e.g. through an SSH tunnel), or pass "
            "--allow-remote to serve it on that address anyway",
        )


def bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(
            f"--host {host}: not an address of this machine ({exc.strerror})",
            hint="pass an IP address such as 127.0.0.1",
        ) from exc
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(
                f"port {port} on {host} is already in use",
                hint=f"stop what listens on {port}, pick another with --port N, "
                "or pass --port 0 for a free one",
            ) from exc
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --host or --port (ports below 1024 need root)",
        ) from exc
    sock.set_inheritable(True)
    return sock


def serve(data: DashboardData, sock: socket.socket, announce: Callable[[str], None]) -> None:
    """Serve until Ctrl-C or SIGTERM, then return (exit 0): uvicorn shuts down gracefully and
    re-raises the signal it caught, which lands in the handlers installed here."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(
        build_app(data, LOOPBACK_HOSTS if is_loopback(host) else None),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        announce(f"http://{shown}:{port}/")
        uvicorn.Server(config).run(sockets=[sock])
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


class _Stopped(Exception):
    """The signal that stopped the server, raised again after uvicorn's graceful shutdown."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)
