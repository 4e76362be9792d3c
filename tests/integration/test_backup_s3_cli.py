"""``ialr backup run|list|verify|restore|prune --repo s3://BUCKET/PREFIX`` through the CLI entry
point, over HTTP against a moto server: round trips, damaged objects, missing bucket, missing
credentials, and an upload killed before its manifest (never listed as complete)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from ial_resilience.agent.link import Link
from ial_resilience.aws._session import AwsTarget, client
from ial_resilience.cli.main import main
from ial_resilience.faults.toxics import parse_toxic
from ial_resilience.postgres import PostgresInstance
from tests.aws_fixtures import REGION, aws_env, moto_endpoint  # noqa: F401
from tests.integration.test_aws_credentials import CREDENTIAL_VARIABLES
from tests.pg_fixtures import pg_database, postgres  # noqa: F401
from tests.unit.test_backup_repository import make_tree

pytestmark = pytest.mark.aws
Capture = pytest.CaptureFixture[str]
PREFIX = "team/site"
COMMANDS = [
    ["run", "SOURCE"],
    ["list"],
    ["verify", "latest"],
    ["restore", "latest", "--target", "TARGET"],
    ["prune", "--keep-last", "1"],
]


@pytest.fixture
def bucket(aws_env: AwsTarget) -> str:  # noqa: F811
    name = f"repo-{uuid.uuid4().hex[:10]}"
    client("s3", aws_env).create_bucket(Bucket=name)
    return name


def _cli(capsys: Capture, target: AwsTarget, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--endpoint-url", str(target.endpoint_url), "--region", REGION])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys: Capture, target: AwsTarget, *args: str) -> object:
    code, out, err = _cli(capsys, target, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def _keys(target: AwsTarget, bucket: str) -> list[str]:
    listed = client("s3", target).list_objects_v2(Bucket=bucket)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def _argv(command: list[str], tmp_path: Path) -> list[str]:
    values = {"SOURCE": str(make_tree(tmp_path / "src")), "TARGET": str(tmp_path / "out")}
    return ["backup", *[values.get(arg, arg) for arg in command]]


def test_every_command_round_trips_a_directory_through_s3(
    aws_env: AwsTarget,  # noqa: F811
    bucket: str,
    tmp_path: Path,
    capsys: Capture,
) -> None:
    repo = f"s3://{bucket}/{PREFIX}"
    source = make_tree(tmp_path / "src")
    made = [_json(capsys, aws_env, "backup", "run", str(source), "--repo", repo)
            for _ in range(2)]  # fmt: skip
    ids = [str(m["id"]) for m in made if isinstance(m, dict)]
    listed = _json(capsys, aws_env, "backup", "list", "--repo", repo)
    assert isinstance(listed, list) and [b["id"] for b in listed] == ids
    assert all(key.startswith(f"{PREFIX}/backups/") for key in _keys(aws_env, bucket))

    report = _json(capsys, aws_env, "backup", "verify", ids[0], "--repo", repo)
    assert isinstance(report, dict) and report["backup"] == ids[0] and report["passed"]
    assert [(c["name"], c["status"]) for c in report["checks"]] == [
        ("checksums", "passed"), ("restore", "passed")]  # fmt: skip

    code, out, err = _cli(capsys, aws_env, "backup", "restore", ids[0], "--repo", repo,
                          "--target", str(tmp_path / "out"))  # fmt: skip
    assert code == 0, err
    assert f"restored {ids[0]}" in out
    assert (tmp_path / "out" / "sub" / "deeper" / "c.json").read_text() == '{"k": 1}'

    plan = _json(capsys, aws_env, "backup", "prune", "--repo", repo, "--keep-last", "1",
                 "--dry-run")  # fmt: skip
    assert isinstance(plan, dict) and plan["remove"] == [ids[0]] and list(plan["keep"]) == [ids[1]]
    code, out, _ = _cli(capsys, aws_env, "backup", "prune", "--repo", repo, "--keep-last", "1")
    assert code == 0 and f"removed {ids[0]}" in out
    code, out, _ = _cli(capsys, aws_env, "backup", "list", "--repo", repo)
    assert code == 0 and ids[1] in out and ids[0] not in out
    assert not [key for key in _keys(aws_env, bucket) if ids[0] in key]  # every object removed


def test_verify_downloads_the_objects_and_names_a_damaged_one(
    aws_env: AwsTarget,  # noqa: F811
    bucket: str,
    tmp_path: Path,
    capsys: Capture,
) -> None:
    repo = f"s3://{bucket}"
    made = _json(capsys, aws_env, "backup", "run", str(make_tree(tmp_path / "src")),
                 "--repo", repo)  # fmt: skip
    assert isinstance(made, dict)
    key = f"backups/{made['id']}/tree.tar"
    s3 = client("s3", aws_env)
    data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[100] ^= 0xFF  # one byte flipped in the stored object
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    code, out, err = _cli(capsys, aws_env, "backup", "verify", "--repo", repo)
    assert code == 5
    assert "tree.tar: SHA-256 differs" in err and "failed" in out


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_missing_bucket_exits_3_and_says_which(
    command: list[str],
    aws_env: AwsTarget,  # noqa: F811
    tmp_path: Path,
    capsys: Capture,
) -> None:
    missing = f"gone-{uuid.uuid4().hex[:8]}"
    argv = [*_argv(command, tmp_path), "--repo", f"s3://{missing}/x"]
    code, _, err = _cli(capsys, aws_env, *argv)
    assert code == 3, err
    assert f"bucket '{missing}' does not exist at {aws_env.endpoint_url}" in err
    assert "Hint:" in err and f"aws s3 mb s3://{missing}" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_missing_credentials_exit_5_with_the_credentials_hint(
    command: list[str],
    aws_env: AwsTarget,  # noqa: F811
    bucket: str,
    tmp_path: Path,
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    code, _, err = _cli(capsys, aws_env, *_argv(command, tmp_path), "--repo", f"s3://{bucket}")
    assert code == 5, err
    assert "no usable AWS credentials" in err and "AWS_ACCESS_KEY_ID" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backup", "list", "--repo", "REPO_DIR", "--region", "eu-west-1"],
         "--region only apply to an S3 repository"),
        (["backup", "list", "--repo", "s3:///prefix"], "is not an S3 repository URL"),
        (["backup", "run", "SOURCE", "--repo", "s3://b", "--max-bytes", "1G"],
         "--max-bytes applies to local repositories only"),
        (["backup", "wal-receive", "postgresql://localhost/x", "--repo", "s3://b"],
         "wal-receive needs a local repository directory"),
        (["backup", "list", "--repo", "A_FILE"], "is a file, not a repository directory"),
    ],
)  # fmt: skip
def test_bad_repository_options_exit_3(
    argv: list[str], message: str, tmp_path: Path, capsys: Capture
) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "file").write_text("x")
    values = {"REPO_DIR": str(tmp_path / "repo"), "A_FILE": str(tmp_path / "file"),
              "SOURCE": str(make_tree(tmp_path / "src"))}  # fmt: skip
    assert main([values.get(arg, arg) for arg in argv]) == 3
    assert message in capsys.readouterr().err


# -- an upload interrupted between the files and the manifest ------------------------------
@pytest.fixture
def slow_puts(moto_endpoint: str) -> Iterator[str]:  # noqa: F811
    """An HTTP-aware agent link in front of moto that holds every PUT for 2 s: a backup's file
    lands, and its manifest follows 2 s later (the window in which the backup is killed)."""
    moto = urlsplit(moto_endpoint)
    link = Link("ialr->s3", ("127.0.0.1", 0), (str(moto.hostname), int(moto.port or 80)),
                http=True)  # fmt: skip
    link.start()
    link.add_toxic(parse_toxic("http_delay", {"delay_ms": 2000, "method": "PUT"}, "upstream",
                               http_link=True))  # fmt: skip
    try:
        host, port = link.listen_address
        yield f"http://{host}:{port}"
    finally:
        link.stop()


def _wait_for_key(target: AwsTarget, bucket: str, suffix: str, proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [key for key in _keys(target, bucket) if key.endswith(suffix)]
        if found:
            return found[0]
        if proc.poll() is not None:
            raise AssertionError(f"the backup ended early: {proc.communicate()[1]}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for an object ending in {suffix}")


def test_a_backup_killed_before_its_manifest_is_never_listed(
    aws_env: AwsTarget,  # noqa: F811
    bucket: str,
    slow_puts: str,
    tmp_path: Path,
    capsys: Capture,
) -> None:
    repo = f"s3://{bucket}/{PREFIX}"
    argv = ["backup", "run", str(make_tree(tmp_path / "src")), "--repo", repo,
            "--endpoint-url", slow_puts, "--region", REGION]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "ial_resilience.cli.main", *argv], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    try:
        uploaded = _wait_for_key(aws_env, bucket, "/tree.tar", proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    backup_id = uploaded.split("/")[-2]
    assert _keys(aws_env, bucket) == [uploaded]  # the file is there, its manifest is not …
    assert _json(capsys, aws_env, "backup", "list", "--repo", repo) == []  # … never listed
    code, _, err = _cli(capsys, aws_env, "backup", "restore", backup_id, "--repo", repo,
                        "--target", str(tmp_path / "out"))  # fmt: skip
    assert code == 3 and f"no complete backup '{backup_id}'" in err
    made = _json(capsys, aws_env, "backup", "run", str(tmp_path / "src"), "--repo", repo)
    listed = _json(capsys, aws_env, "backup", "list", "--repo", repo)
    assert isinstance(made, dict) and isinstance(listed, list)
    assert [b["id"] for b in listed] == [made["id"]]


# -- PostgreSQL physical backups in S3 ---------------------------------------------------------
@pytest.mark.postgres
def test_a_physical_backup_in_s3_verifies_and_restores(
    aws_env: AwsTarget,  # noqa: F811
    bucket: str,
    pg_database: str,  # noqa: F811
    tmp_path: Path,
    capsys: Capture,
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS item "
                     "FROM generate_series(1, 500) g")  # fmt: skip
        before = conn.execute("SELECT count(*), string_agg(item, ',' ORDER BY id) FROM orders")
        expected = before.fetchone()
    repo = f"s3://{bucket}/pg"
    made = _json(capsys, aws_env, "backup", "run", pg_database, "--repo", repo)
    assert isinstance(made, dict) and made["kind"] == "postgres-physical"
    report = _json(capsys, aws_env, "backup", "verify", "latest", "--repo", repo)
    assert isinstance(report, dict) and report["passed"], report
    assert {c["name"] for c in report["checks"]} == {"checksums", "pg_verifybackup", "restore"}
    data = tmp_path / "restored"
    code, _, err = _cli(capsys, aws_env, "backup", "restore", "latest", "--repo", repo,
                        "--target", str(data))  # fmt: skip
    assert code == 0, err
    restored = PostgresInstance(data).start()
    try:
        dbname = str(psycopg.conninfo.conninfo_to_dict(pg_database)["dbname"])
        with psycopg.connect(restored.dsn(dbname), autocommit=True) as conn:
            after = conn.execute("SELECT count(*), string_agg(item, ',' ORDER BY id) FROM orders")
            assert after.fetchone() == expected
    finally:
        restored.stop(mode="immediate")
