"""``ialr history publish``: history results as CloudWatch metrics, against the moto server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ial_resilience.aws._session import AwsTarget, client
from ial_resilience.cli.main import main
from ial_resilience.history import HistoryStore, Record, RecordKind
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.aws


def test_publish_puts_one_point_per_figure_and_the_score(
    aws_env: AwsTarget,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = time.time()
    path = tmp_path / "h.db"
    with HistoryStore.open(path) as store:
        store.add_many(
            [
                Record(
                    "r1",
                    RecordKind.CHAOS_RUN,
                    "db-failover",
                    "t",
                    "passed",
                    now - 60,
                    figures={"passed": True, "time_to_recover_s": 2.5},
                    data={"families": ["db"]},
                ),
                Record(
                    "old",
                    RecordKind.CHAOS_RUN,
                    "db-failover",
                    "t",
                    "passed",
                    now - 20 * 86400,
                    figures={"passed": True},
                ),
                Record(
                    "d1",
                    RecordKind.RECOVERY_DRILL,
                    "writer-lost",
                    "t",
                    "passed",
                    now - 30,
                    figures={"rto_s": 6.1, "rpo_s": 0.0},
                ),
            ]
        )
    argv = [
        "history",
        "publish",
        "--history",
        str(path),
        "--endpoint-url",
        str(aws_env.endpoint_url),
        "--region",
        aws_env.region,
        "--json",
    ]
    assert main(argv) == 0
    # r1: passed + TTR; d1: RTO + RPO; the 20-day-old run is too old for CloudWatch; + score
    assert '"metric_data": 5' in capsys.readouterr().out
    cloudwatch = client("cloudwatch", aws_env)
    names = {
        m["MetricName"] for m in cloudwatch.list_metrics(Namespace="IaL/Resilience")["Metrics"]
    }
    assert {"ChaosRunPassed", "TimeToRecover", "RecoveryTime", "ResilienceScore"} <= names
    stats = cloudwatch.get_metric_statistics(
        Namespace="IaL/Resilience",
        MetricName="RecoveryTime",
        Dimensions=[{"Name": "Subject", "Value": "writer-lost"}],
        StartTime=now - 3600,
        EndTime=now + 60,
        Period=60,
        Statistics=["Maximum"],
    )
    assert [p["Maximum"] for p in stats["Datapoints"]] == [6.1]


def test_publish_to_nothing_that_answers_is_exit_5(
    tmp_path: Path,
    aws_env: AwsTarget,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "h.db"
    with HistoryStore.open(path) as store:
        store.add(
            Record(
                "r1",
                RecordKind.CHAOS_RUN,
                "k",
                "t",
                "passed",
                time.time() - 5,
                figures={"passed": True},
            )
        )
    argv = [
        "history",
        "publish",
        "--history",
        str(path),
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--region",
        "us-east-1",
    ]
    assert main(argv) == 5
    assert "127.0.0.1:9" in capsys.readouterr().err
