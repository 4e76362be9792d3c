"""Table content checksums on a real PostgreSQL: every column of every row counts, the column
form agrees with itself after a dump and restore, and the older whole-row form still works."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ial_resilience.backup import snapshot
from ial_resilience.backup.models import MANIFEST_NAME, Manifest, SourceKind, TableSnapshot
from ial_resilience.backup.repository import LocalRepository
from ial_resilience.backup.sources import BackupRequest, run_backup
from ial_resilience.backup.table_checksum import ChecksumForm, column_hashes, form_of
from ial_resilience.backup.verify import CheckStatus, verify
from tests.pg_fixtures import pg_database, postgres  # noqa: F401

pytestmark = pytest.mark.postgres

_SCHEMA = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TABLE wide (
  gone int,
  i int, b bigint, n numeric, t text, v varchar(20), c char(8), flag bool, raw bytea,
  at timestamptz, u uuid, ints int[], m mood, r int4range, p pair, d positive, doc json,
  spot point
);
ALTER TABLE wide DROP COLUMN gone;
INSERT INTO wide SELECT g, g::bigint * 1000000000, g / 7.0, 'text ' || g, 'v' || g, 'c' || (g % 10),
  g % 2 = 0, decode(md5(g::text), 'hex'), '2026-01-01'::timestamptz + g * interval '1 hour',
  md5(g::text)::uuid, ARRAY[g, g + 1], (ARRAY['sad', 'ok', 'happy'])[g % 3 + 1]::mood,
  int4range(g, g + 10), ROW(g, 'p' || g)::pair, g, json_build_object('n', g), point(g, -g)
FROM generate_series(1, 40) g;
INSERT INTO wide (i) VALUES (NULL);
"""

_COLUMNS = [
    "i",
    "b",
    "n",
    "t",
    "v",
    "c",
    "flag",
    "raw",
    "at",
    "u",
    "ints",
    "m",
    "r",
    "p",
    "d",
    "doc",
    "spot",
]


@pytest.fixture
def repo() -> Iterator[LocalRepository]:
    # under /tmp, traversable by the server's user (pytest's tmp root is re-chmodded 0700)
    path = Path(tempfile.mkdtemp(prefix="ialr-snapshot-test-"))
    try:
        yield LocalRepository(path / "repo")
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def wide(pg_database: str) -> Iterator[str]:  # noqa: F811
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(_SCHEMA)
    yield pg_database


def _checksum(dsn: str, form: ChecksumForm = ChecksumForm.COLUMNS) -> str:
    (table,) = [t for t in snapshot.postgres_database(dsn, form=form) if t.name == "public.wide"]
    return table.checksum


def _changed(dsn: str, statement: str) -> str:
    """The checksum after ``statement``, rolled back afterwards."""
    with psycopg.connect(dsn) as conn:
        conn.execute(statement)
        found = snapshot.postgres_tables(conn)
        conn.rollback()
    return next(t.checksum for t in found if t.name == "public.wide")


def test_each_column_uses_its_types_own_hash_function(wide: str) -> None:
    with psycopg.connect(wide) as conn:
        conn.execute("CREATE TEMP TABLE other (x bigint, y text)")
        found = conn.execute("SELECT 'wide'::regclass::oid::bigint, 'other'::regclass::oid::bigint")
        relids = found.fetchone()
        assert relids is not None
        columns = column_hashes(conn, list(relids))  # one query, both tables
    rows = columns[relids[0]]
    assert columns[relids[1]] == [
        ("x", "pg_catalog", "hashint8extended"),
        ("y", "pg_catalog", "hashtextextended"),
    ]
    functions = {name: function for name, _schema, function in rows}
    assert list(functions) == list(_COLUMNS)  # live columns only, in order
    assert functions["i"] == "hashint4extended" and functions["d"] == "hashint4extended"
    assert functions["v"] == "hashtextextended"  # varchar through text's class
    assert functions["c"] == "hashbpcharextended"
    assert functions["ints"] == "hash_array_extended"
    assert functions["r"] == "hash_range_extended"
    assert functions["doc"] is None and functions["spot"] is None  # no hash: text form
    # an enum hashes its OID, which a logical restore renumbers; composites may hold enums
    assert functions["m"] is None and functions["p"] is None


@pytest.mark.parametrize("column", _COLUMNS)
def test_a_change_in_any_column_of_one_row_changes_the_checksum(wide: str, column: str) -> None:
    before = _checksum(wide)
    assert before.startswith("cols:")
    swap = sql.SQL("UPDATE wide SET {c} = (SELECT {c} FROM wide WHERE i = 2) WHERE i = 1").format(
        c=sql.Identifier(column)
    )
    with psycopg.connect(wide) as conn:
        statement = swap.as_string(conn)
    assert _changed(wide, statement) != before
    nulled = sql.SQL("UPDATE wide SET {} = NULL WHERE i = 3").format(sql.Identifier(column))
    with psycopg.connect(wide) as conn:
        statement = nulled.as_string(conn)
    assert _changed(wide, statement) != before


def test_rows_are_bound_together_and_columns_keep_their_places(wide: str) -> None:
    before = _checksum(wide)
    # the same values, recombined across rows: per-column sums would not see it
    assert _changed(wide, "UPDATE wide SET t = CASE i WHEN 1 THEN 'text 2' ELSE 'text 1' END "
                          "WHERE i IN (1, 2)") != before  # fmt: skip
    # two columns of one type swapping values in a row
    assert _changed(wide, "UPDATE wide SET t = v, v = t WHERE i = 5") != before
    # the row order does not count
    assert _changed(wide, "UPDATE wide SET i = i WHERE i < 20") == before


def test_a_type_without_hashing_inside_an_array_falls_back_to_the_text_form(
    pg_database: str,  # noqa: F811
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE docs (id int, parts json[])")
        conn.execute("INSERT INTO docs SELECT g, ARRAY[json_build_object('n', g)] "
                     "FROM generate_series(1, 5) g")  # fmt: skip
    (docs,) = snapshot.postgres_database(pg_database)
    assert docs.rows == 5 and docs.checksum.startswith("cols:")
    assert docs == snapshot.postgres_database(pg_database)[0]
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("UPDATE docs SET parts = ARRAY['{\"n\": 9}'::json] WHERE id = 1")
    assert snapshot.postgres_database(pg_database)[0].checksum != docs.checksum


def _backup(dsn: str, repo: LocalRepository) -> Manifest:
    return run_backup(repo, BackupRequest(dsn, SourceKind.POSTGRES_LOGICAL))


def _with_snapshot(
    repo: LocalRepository, manifest: Manifest, tables: list[TableSnapshot]
) -> Manifest:
    """The manifest as if its snapshot had been ``tables`` (rewritten in the repository)."""
    changed = manifest.model_copy(update={"snapshot": tuple(tables)})
    (repo.backup_dir(manifest.id) / MANIFEST_NAME).write_text(changed.model_dump_json(indent=2))
    return repo.manifest(manifest.id)


@pytest.mark.parametrize("form", list(ChecksumForm))
def test_verify_by_restore_compares_in_the_form_the_manifest_was_written_in(
    wide: str, repo: LocalRepository, form: ChecksumForm
) -> None:
    # a logical restore renumbers the columns (the dropped one leaves no gap): same checksums
    manifest = _with_snapshot(repo, _backup(wide, repo),
                              snapshot.postgres_database(wide, form=form))  # fmt: skip
    assert form_of(manifest.snapshot) == form
    report = verify(repo, manifest)
    assert report.passed, report.as_json()
    # one row differs between the snapshot and the backed-up data: verify names the table
    with psycopg.connect(wide) as conn:
        conn.execute("UPDATE wide SET t = 'changed' WHERE i = 7")
        after = snapshot.postgres_tables(conn, form=form)
        conn.rollback()
    report = verify(repo, _with_snapshot(repo, manifest, after))
    restored = {c.name: c for c in report.checks}["restore"]
    assert restored.status == CheckStatus.FAILED
    assert "public.wide: content checksum differs" in restored.detail


def test_the_older_whole_row_form_is_what_earlier_manifests_hold(wide: str) -> None:
    with psycopg.connect(wide, autocommit=True) as conn:
        conn.execute("CREATE TABLE plain AS SELECT i, v, ints FROM wide")  # no column "t"
        row = conn.execute(
            "SELECT coalesce(sum(hash_record_extended(t, 0)), 0)::text FROM plain t"
        ).fetchone()
    assert row is not None
    tables = {t.name: t for t in snapshot.postgres_database(wide, form=ChecksumForm.ROWS)}
    assert tables["public.plain"].checksum == row[0]
    with psycopg.connect(wide) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM wide t"
        ).fetchone()  # json has no hash function: the old code summed the rows' text form
    assert row is not None
    legacy = _checksum(wide, ChecksumForm.ROWS)
    assert legacy == row[0]  # no prefix, the old query's own number
    tables = snapshot.postgres_database(wide, form=ChecksumForm.ROWS)
    assert form_of(tables) == ChecksumForm.ROWS
    assert form_of(snapshot.postgres_database(wide)) == ChecksumForm.COLUMNS


def test_a_logical_backup_of_enums_verifies_though_the_restore_renumbers_them(
    pg_database: str,  # noqa: F811
    repo: LocalRepository,
) -> None:
    # enum values are OIDs: the whole-row form hashed them and failed this verify
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TYPE state AS ENUM ('new', 'paid')")
        conn.execute("CREATE TABLE orders (id int, state state, tags state[])")
        conn.execute("INSERT INTO orders SELECT g, 'paid', ARRAY['new'::state] "
                     "FROM generate_series(1, 10) g")  # fmt: skip
    report = verify(repo, _backup(pg_database, repo))
    assert report.passed, report.as_json()
    assert {c.name: c.status for c in report.checks}["restore"] == CheckStatus.PASSED
