"""PostgreSQL plumbing for backups: connections with translated errors, tools run as the
server's user (blocking or in the background), DSN redaction, WAL segment arithmetic.

This module is the one boundary where ``psycopg.Error`` and ``PostgresError`` become
:class:`~ial_resilience.errors.BackupError` or :class:`~ial_resilience.errors.InputError`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ial_resilience import postgres as pg
from ial_resilience.errors import BackupError, InputError

_AUTH_FAILURES = re.compile(
    r"password authentication failed|no password supplied|authentication failed"
    r'|no pg_hba\.conf entry|role "[^"]*" does not exist'
)
_NO_DATABASE = re.compile(r'database "[^"]*" does not exist')


def redact(dsn: str) -> str:
    """The DSN without its password, for messages and manifests."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return re.sub(r":[^:@/]*@", ":***@", dsn)
    host, port, db = params.get("host", ""), params.get("port", ""), params.get("dbname", "")
    user = params.get("user", "")
    return f"postgresql://{user}@{host}:{port}/{db}"


def dsn_with_db(dsn: str, dbname: str) -> str:
    return make_conninfo(dsn, dbname=dbname)


def translate(error: Exception, dsn: str, action: str) -> Exception:
    """A psycopg or tool error as the most specific own error."""
    text = str(error)
    missing = _NO_DATABASE.search(text)
    if missing:
        return InputError(f"{missing.group(0)} on {redact(dsn)} (while trying to {action})",
                          hint="check the database name in the DSN")  # fmt: skip
    if _AUTH_FAILURES.search(text):
        return InputError(
            f"PostgreSQL at {redact(dsn)} refused the credentials while trying to {action}: "
            f"{text.strip().splitlines()[-1]}",
            hint="check the user and password in the DSN (or PGPASSWORD / ~/.pgpass)",
        )
    return BackupError(f"cannot {action} at {redact(dsn)}: {text.strip()[-1500:]}")


def connect(dsn: str, *, action: str = "connect", autocommit: bool = True) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as error:
        raise translate(error, dsn, action) from error


def run_tool(
    argv: Sequence[str | os.PathLike[str]], *, dsn: str = "", action: str, timeout: float = 3600
) -> subprocess.CompletedProcess[str]:
    """``run_pg_tool`` with its failure translated (credentials → InputError)."""
    try:
        return pg.run_pg_tool(argv, timeout=timeout)
    except pg.PostgresError as error:
        raise translate(error, dsn, action) from error


def run_unchecked(
    argv: Sequence[str | os.PathLike[str]], *, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a tool as the server's user and return whatever it did (no exit-code check)."""
    full = [str(pg.pg_bin(str(argv[0]))), *(str(a) for a in argv[1:])]
    env = {**os.environ, "TZ": "UTC"}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        full, capture_output=True, text=True, timeout=timeout, env=env, cwd="/",
        **pg.server_user_kwargs(),
    )  # fmt: skip


def spawn(argv: Sequence[str | os.PathLike[str]], *, log: Path) -> subprocess.Popen[bytes]:
    """Start a long-running tool (``pg_receivewal``) as the server's user, output to ``log``."""
    full = [str(pg.pg_bin(str(argv[0]))), *(str(a) for a in argv[1:])]
    with log.open("ab") as out:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            full, stdout=out, stderr=subprocess.STDOUT, cwd="/", **pg.server_user_kwargs()
        )


def tool_version(tool: str) -> str:
    result = run_unchecked([tool, "--version"], timeout=30)
    return result.stdout.strip()


# -- WAL segment names -------------------------------------------------------------------
def parse_lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def segment_name(timeline: int, lsn: int, segment_size: int) -> str:
    return segment_from_number(timeline, lsn // segment_size, segment_size)


def segment_from_number(timeline: int, segno: int, segment_size: int) -> str:
    per_id = 0x100000000 // segment_size
    return f"{timeline:08X}{segno // per_id:08X}{segno % per_id:08X}"


def segment_number(name: str, segment_size: int) -> int:
    per_id = 0x100000000 // segment_size
    return int(name[8:16], 16) * per_id + int(name[16:24], 16)


SEGMENT_RE = re.compile(r"^([0-9A-F]{24})(\.partial)?$")
