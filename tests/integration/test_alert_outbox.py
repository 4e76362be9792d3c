"""Notifications survive an outage: kept in the outbox, retried with backoff, delivered once.
Webhook over a real HTTP server on loopback; SNS over a moto server (to an SQS subscriber)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ial_resilience.alerting.notifiers import (
    DeliveryFailed,
    FileNotifier,
    SnsNotifier,
    WebhookNotifier,
)
from ial_resilience.alerting.outbox import Outbox, backoff
from ial_resilience.aws._session import AwsTarget, client
from ial_resilience.observability.store import TelemetryStore
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

T0 = 1_700_000_000.0
PAYLOAD = {
    "status": "firing",
    "group": {"rule": "orders-errors"},
    "alerts": [
        {
            "rule": "orders-errors",
            "state": "firing",
            "severity": "critical",
            "value": 0.31,
            "summary": "orders fail",
        }
    ],
    "sent_at": T0,
}


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(port: int) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", port), Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)

    Hook.received = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_webhook_down_then_up_is_delivered_exactly_once(tmp_path: Path, serve: Any) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    port = free_port()
    outbox = Outbox(
        store,
        [WebhookNotifier(f"http://127.0.0.1:{port}/hook", timeout=2)],
        base_delay=1.0,
        max_delay=8.0,
    )
    outbox.enqueue(PAYLOAD, now=T0)
    first = outbox.deliver_due(now=T0)
    assert (first.delivered, first.failed, first.pending) == (0, 1, 1)
    assert "unreachable" in first.errors[0]
    second = outbox.deliver_due(now=T0 + 1.5)  # 1 s backoff passed: tried again, still down
    assert (second.failed, second.pending) == (1, 1)
    assert outbox.deliver_due(now=T0 + 2.0).failed == 0  # next try only after 2 s more
    (row,) = outbox.rows()
    assert row["attempts"] == 2 and row["next_attempt_at"] == T0 + 1.5 + 2.0
    serve(port)
    third = outbox.deliver_due(now=T0 + 4.0)
    assert (third.delivered, third.pending) == (1, 0)
    assert outbox.deliver_due(now=T0 + 100).delivered == 0
    (body,) = Hook.received
    assert body["text"].startswith("[FIRING] orders-errors")
    assert body["blocks"][0]["type"] == "section" and body["ialr"]["alerts"][0]["value"] == 0.31


def test_outbox_survives_a_restart(tmp_path: Path, serve: Any) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    first = Outbox(TelemetryStore(tmp_path / "t.db"), [WebhookNotifier(hook, timeout=2)])
    first.enqueue(PAYLOAD, now=T0)
    assert first.deliver_due(now=T0).pending == 1
    serve(port)
    again = Outbox(TelemetryStore(tmp_path / "t.db"), [WebhookNotifier(hook, timeout=2)])
    assert again.deliver_due(now=T0 + 60).delivered == 1
    assert len(Hook.received) == 1


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_file_notifier_and_a_failing_file(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    target = tmp_path / "notes.jsonl"
    outbox = Outbox(store, [FileNotifier(target), FileNotifier(tmp_path / "no" / "x", name="bad")])
    outbox.enqueue(PAYLOAD, now=T0)
    result = outbox.deliver_due(now=T0)
    assert (result.delivered, result.failed, result.pending) == (1, 1, 1)
    assert json.loads(target.read_text())["group"] == {"rule": "orders-errors"}


@pytest.mark.aws
def test_sns_publish_reaches_a_subscriber(aws_env: AwsTarget, tmp_path: Path) -> None:  # noqa: F811
    sns, sqs = client("sns", aws_env), client("sqs", aws_env)
    topic = sns.create_topic(Name="ialr-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="ialr-alerts-sub")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    outbox = Outbox(TelemetryStore(tmp_path / "t.db"), [SnsNotifier(topic, aws_env)])
    outbox.enqueue(PAYLOAD, now=T0)
    assert outbox.deliver_due(now=T0).delivered == 1
    (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == "[FIRING] orders-errors (rule=orders-errors)"
    assert json.loads(envelope["Message"])["alerts"][0]["severity"] == "critical"


@pytest.mark.aws
def test_sns_unreachable_is_a_delivery_failure(aws_env: AwsTarget) -> None:  # noqa: F811
    dead = AwsTarget(region="us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DeliveryFailed, match="SNS publish"):
        SnsNotifier("arn:aws:sns:us-east-1:123456789012:x", dead).send(PAYLOAD)
