"""Free ports chosen ahead of binding, outside the kernel's ephemeral range.

The lab decides ports before the processes that bind them start (``${ports.NAME}``,
``${links.NAME}``, replica ports). A port the kernel hands out for ``bind(0)`` comes from the
ephemeral range, which outgoing connections also draw from, so between choosing and binding
a client socket could take it. Ports below that range are only ever taken by explicit binds.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10_000
ATTEMPTS = 200


def _ephemeral_low() -> int:
    try:
        return int(RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port free on 127.0.0.1 now, below the ephemeral range when there is room."""
    low = _ephemeral_low()
    if low - LOWEST > 1_000:
        for _ in range(ATTEMPTS):
            port = random.randrange(LOWEST, low)
            if _bindable(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
