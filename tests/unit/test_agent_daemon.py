"""Daemon helpers: the control socket, the bind address rule."""

from __future__ import annotations

import re
import socket

import pytest

from ial_resilience.agent.daemon import bind, check_bind_host
from ial_resilience.errors import InputError


def test_control_socket_is_tcp_on_loopback_so_asyncio_sets_nodelay() -> None:
    sock = bind(0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio skips TCP_NODELAY when proto is 0
        assert sock.getsockname()[0] == "127.0.0.1"
        with pytest.raises(
            InputError, match=re.escape(f"port {sock.getsockname()[1]} on 127.0.0.1 is in use")
        ):
            bind(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.1", "localhost"])
def test_only_loopback_127_0_0_1_is_accepted(host: str) -> None:
    with pytest.raises(InputError, match=re.escape("127.0.0.1 only")):
        check_bind_host(host)
    check_bind_host("127.0.0.1")
