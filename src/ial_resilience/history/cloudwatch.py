"""History results as CloudWatch metrics (``ialr history publish``), so dashboards on AWS show
what the local history shows. Namespace ``IaL/Resilience``; one metric per figure below,
dimension ``Subject`` (the record's key: experiment, suite, scenario, service):

| kind | metric (unit) |
|---|---|
| chaos_run | ``ChaosRunPassed`` (1/0), ``TimeToRecover`` (Seconds) |
| gameday | ``GamedayAvailability``, ``ChaosPassRate``, ``AlertAccuracy`` (None: 0–1) |
| recovery_drill | ``RecoveryTime`` (Seconds), ``RecoveryPointLoss`` (Seconds) |
| rollout | ``RollbackSucceeded`` (1/0), ``TimeToRollback`` (Seconds) |
| (all runs) | ``ResilienceScore`` (None: 0–100, no dimension) |

CloudWatch refuses points older than two weeks, so only those newer are sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from ial_resilience.aws._session import AwsTarget, aws_call, client
from ial_resilience.history.model import Record, RecordKind
from ial_resilience.history.score import resilience_score
from ial_resilience.observability.metrics import RESILIENCE_NAMESPACE

MAX_AGE_S = 14 * 86400.0
BATCH = 20
METRICS: dict[RecordKind, tuple[tuple[str, str, str], ...]] = {
    RecordKind.CHAOS_RUN: (
        ("passed", "ChaosRunPassed", "None"),
        ("time_to_recover_s", "TimeToRecover", "Seconds"),
    ),
    RecordKind.GAMEDAY: (
        ("availability", "GamedayAvailability", "None"),
        ("chaos_pass_rate", "ChaosPassRate", "None"),
        ("alert_accuracy", "AlertAccuracy", "None"),
    ),
    RecordKind.RECOVERY_DRILL: (
        ("rto_s", "RecoveryTime", "Seconds"),
        ("rpo_s", "RecoveryPointLoss", "Seconds"),
    ),
    RecordKind.ROLLOUT: (
        ("rollback_ok", "RollbackSucceeded", "None"),
        ("time_to_rollback_s", "TimeToRollback", "Seconds"),
    ),
}


def metric_data(records: Sequence[Record], now: float) -> Iterator[dict[str, Any]]:
    for record in records:
        if now - record.started_at > MAX_AGE_S:
            continue
        stamp = datetime.fromtimestamp(record.ended_at or record.started_at, UTC)
        for figure, name, unit in METRICS.get(record.kind, ()):
            value = record.figure(figure)
            if value is None:
                continue
            yield {
                "MetricName": name,
                "Dimensions": [{"Name": "Subject", "Value": record.key}],
                "Timestamp": stamp,
                "Value": value,
                "Unit": unit,
            }
    score = resilience_score(records, now).value
    if score is not None:
        yield {
            "MetricName": "ResilienceScore",
            "Timestamp": datetime.fromtimestamp(now, UTC),
            "Value": score,
            "Unit": "None",
        }


def publish(records: Sequence[Record], target: AwsTarget) -> int:
    """Send the metric data; returns how many points were sent."""
    data = list(metric_data(records, time.time()))
    cloudwatch = client("cloudwatch", target)
    for start in range(0, len(data), BATCH):
        with aws_call("putting the history's metrics into CloudWatch", target):
            cloudwatch.put_metric_data(
                Namespace=RESILIENCE_NAMESPACE, MetricData=data[start : start + BATCH]
            )
    return len(data)
