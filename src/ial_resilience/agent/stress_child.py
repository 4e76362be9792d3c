"""The child side of resource faults: ``python -m ial_resilience.agent.stress_child KIND …``.

Standard library only, so a stress child starts in milliseconds. Each child stops on SIGTERM or
SIGINT, at ``--lifetime`` seconds, or as soon as its parent (the agent, ``--parent``) is gone;
the disk child removes its filler file whichever way it stops.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

PERIOD_S = 0.1
CHUNK = 1 << 20
PAGE = 4096
KINDS = ("cpu", "memory", "disk")


class _Stop(Exception):
    pass


def _should_stop(parent: int, deadline: float) -> bool:
    return os.getppid() != parent or time.monotonic() >= deadline


def _idle(parent: int, deadline: float) -> None:
    while not _should_stop(parent, deadline):
        time.sleep(0.2)


def burn_cpu(load: float, parent: int, deadline: float) -> None:
    """Busy ``load`` % of every 100 ms period, sleep the rest."""
    busy = PERIOD_S * load / 100
    while not _should_stop(parent, deadline):
        start = time.monotonic()
        while time.monotonic() - start < busy:
            pass
        rest = PERIOD_S - (time.monotonic() - start)
        if rest > 0:
            time.sleep(rest)


def hold_memory(size: int, parent: int, deadline: float) -> None:
    """Allocate ``size`` bytes and write one byte per page so every page is resident."""
    held = bytearray(size)
    held[::PAGE] = b"\x01" * len(range(0, size, PAGE))
    _idle(parent, deadline)
    del held


def fill_disk(path: Path, size: int, parent: int, deadline: float) -> None:
    """Write ``size`` bytes (incompressible) to ``path``, fsync, hold; remove it at the end."""
    chunk = os.urandom(CHUNK)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            written = 0
            while written < size and not _should_stop(parent, deadline):
                written += os.write(fd, chunk[: min(CHUNK, size - written)])
            os.fsync(fd)
        finally:
            os.close(fd)
        _idle(parent, deadline)
    finally:
        path.unlink(missing_ok=True)


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ial_resilience.agent.stress_child")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--load", type=float, default=100.0)
    parser.add_argument("--bytes", type=int, default=0)
    parser.add_argument("--path", default="")
    parser.add_argument("--lifetime", type=float, required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.lifetime
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stop)
    try:
        if args.kind == "cpu":
            burn_cpu(args.load, args.parent, deadline)
        elif args.kind == "memory":
            hold_memory(args.bytes, args.parent, deadline)
        else:
            fill_disk(Path(args.path), args.bytes, args.parent, deadline)
    except _Stop:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
