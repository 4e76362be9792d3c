"""A lab PostgreSQL node: prepare the data directory, then *become* the server (``exec``).

``python -m ial_resilience.lab.pgnode --role primary --data DIR --port P`` runs initdb once;
``--role replica --source HOST:PORT`` takes ``pg_basebackup -R`` from the writer (through the
``db-replica->db-primary`` link) so the node starts as a streaming standby. Either way the
process then execs ``postgres`` in the foreground, so the pid the agent registered is the
postmaster itself: ``process.kill`` on ``db-primary`` kills the real server.

When run as root the server runs as the unprivileged ``embedded_postgres`` user, like every
other server command of :mod:`ial_resilience.postgres`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

from ial_resilience.postgres import (
    PostgresError,
    PostgresInstance,
    _is_root,
    _system_user,
    pg_bin,
    prepare_dir,
    run_pg_tool,
)

BASEBACKUP_DEADLINE_S = 30.0


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ial_resilience.lab.pgnode")
    parser.add_argument("--role", choices=("primary", "replica"), required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source", help="host:port of the writer (replica only)")
    return parser.parse_args(argv)


def template_dir() -> Path:
    """An initdb-ed cluster kept once per machine and copied for each lab (initdb is slow)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "ialr" / f"pg-template-{pg_bin('postgres').parent.parent.name}" / "data"


def _ensure_template() -> Path:
    target = template_dir()
    if (target / "PG_VERSION").exists():
        return target
    building = target.parent / f"building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    PostgresInstance(building / "data").init(
        extra_conf={"wal_keep_size": "'64MB'", "hot_standby": "on"}
    )
    with contextlib.suppress(OSError):  # another lab built it first
        os.replace(building / "data", target)
    shutil.rmtree(building, ignore_errors=True)
    return target


def prepare_primary(node: PostgresInstance) -> None:
    """A fresh writer: a copy of the template cluster (initdb once per machine)."""
    shutil.rmtree(node.data_dir, ignore_errors=True)
    shutil.copytree(_ensure_template(), node.data_dir, symlinks=True)
    os.chmod(node.data_dir, 0o700)
    prepare_dir(node.data_dir)


def prepare_replica(node: PostgresInstance, source: str) -> None:
    """Fresh ``pg_basebackup -R`` from ``source``; retried until the writer accepts it."""
    host, _, port = source.rpartition(":")
    shutil.rmtree(node.data_dir, ignore_errors=True)
    deadline = time.monotonic() + BASEBACKUP_DEADLINE_S
    while True:
        prepare_dir(node.data_dir)
        try:
            run_pg_tool(
                ["pg_basebackup", "-D", node.data_dir, "-h", host, "-p", port, "-U", "postgres",
                 "-R", "-X", "stream", "-c", "fast", "--no-sync"],
                timeout=BASEBACKUP_DEADLINE_S,
            )  # fmt: skip
            os.chmod(node.data_dir, 0o700)
            return
        except PostgresError as error:
            if time.monotonic() > deadline:
                raise
            print(f"pg_basebackup from {source} not possible yet: {error}", flush=True)
            shutil.rmtree(node.data_dir, ignore_errors=True)
            time.sleep(0.2)


def server_argv(node: PostgresInstance) -> list[str]:
    return [
        str(pg_bin("postgres")), "-D", str(node.data_dir), "-p", str(node.port),
        "-h", node.host, "-k", str(node.socket_dir),
    ]  # fmt: skip


def become_server(node: PostgresInstance) -> None:
    """Drop to the server's user when root, then exec the postmaster (never returns)."""
    prepare_dir(node.run_dir)
    argv = server_argv(node)
    if _is_root():
        user = _system_user()
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    os.chdir("/")
    sys.stdout.flush()
    os.execv(argv[0], argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    node = PostgresInstance(args.data, port=args.port)
    if (node.data_dir / "postmaster.pid").exists():
        (node.data_dir / "postmaster.pid").unlink()
    if args.role == "primary":
        prepare_primary(node)
    else:
        if not args.source:
            print("--source HOST:PORT is required for a replica", file=sys.stderr)
            return 2
        prepare_replica(node, args.source)
    print(f"{args.role} ready to start on {node.address}", flush=True)
    become_server(node)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
