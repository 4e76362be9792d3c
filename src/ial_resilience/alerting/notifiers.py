"""Notifiers: webhook (Slack-compatible JSON), SNS, file/stdout.

A notifier sends one notification payload (see :func:`ial_resilience.alerting.evaluator.payload`)
or raises :class:`DeliveryFailed`; retries and keeping undelivered notifications are the
outbox's job (:mod:`ial_resilience.alerting.outbox`), never the notifier's.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx

from ial_resilience.errors import IalrError, ProviderError


class DeliveryFailed(ProviderError):
    """A notification could not be delivered now (it stays in the outbox)."""


class Notifier(Protocol):
    name: str

    def send(self, payload: Mapping[str, Any]) -> None: ...


def summary(payload: Mapping[str, Any]) -> str:
    """One line: ``[FIRING] rule-a, rule-b (group …)``."""
    alerts = payload.get("alerts", [])
    names = ", ".join(sorted({str(a.get("rule")) for a in alerts})) or "no alerts"
    group = ", ".join(f"{k}={v}" for k, v in payload.get("group", {}).items())
    return f"[{str(payload.get('status', '')).upper()}] {names}" + (f" ({group})" if group else "")


def slack_body(payload: Mapping[str, Any]) -> dict[str, Any]:
    lines = [summary(payload)]
    for alert in payload.get("alerts", []):
        value = alert.get("value")
        shown = "" if value is None else f" value={value:.4g}"
        lines.append(f"• {alert.get('rule')} {alert.get('state')} [{alert.get('severity')}]{shown}")
        if alert.get("summary"):
            lines.append(f"  {alert['summary']}")
    text = "\n".join(lines)
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "ialr": dict(payload),
    }


class WebhookNotifier:
    """POSTs Slack-compatible JSON; any non-2xx answer or transport error is a failure."""

    def __init__(self, url: str, *, timeout: float = 5.0, name: str = "webhook") -> None:
        self.url = url
        self.timeout = timeout
        self.name = name

    def send(self, payload: Mapping[str, Any]) -> None:
        try:
            response = httpx.post(self.url, json=slack_body(payload), timeout=self.timeout)
        except httpx.HTTPError as error:
            raise DeliveryFailed(
                f"webhook {self.url} unreachable: {error}",
                hint="the notification stays in the outbox and is retried",
            ) from error
        if not response.is_success:
            raise DeliveryFailed(
                f"webhook {self.url} answered {response.status_code}",
                hint="check the webhook URL; the notification stays in the outbox",
            )


class FileNotifier:
    """Appends one JSON line per notification to a file, or writes it to stdout (``-``)."""

    def __init__(self, path: str | Path, *, name: str = "file") -> None:
        self.path = str(path)
        self.name = name
        self._lock = threading.Lock()

    def send(self, payload: Mapping[str, Any]) -> None:
        line = json.dumps(dict(payload), default=str) + "\n"
        with self._lock:
            if self.path == "-":
                sys.stdout.write(line)
                sys.stdout.flush()
                return
            try:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(line)
            except OSError as error:
                raise DeliveryFailed(
                    f"cannot append to {self.path}: {error.strerror}",
                    hint="make the file writable; the notification stays in the outbox",
                ) from error


class SnsNotifier:
    """Publishes to an SNS topic (subject ≤ 100 characters, message = the payload as JSON)."""

    def __init__(self, topic_arn: str, target: Any = None, *, name: str = "sns") -> None:
        from ial_resilience.aws._session import AwsTarget

        self.topic_arn = topic_arn
        self.target = target or AwsTarget.resolve()
        self.name = name

    def send(self, payload: Mapping[str, Any]) -> None:
        from ial_resilience.aws._session import aws_call, client

        try:
            with aws_call("sns:Publish", self.target):
                client("sns", self.target).publish(
                    TopicArn=self.topic_arn,
                    Subject=summary(payload)[:100],
                    Message=json.dumps(dict(payload), default=str),
                )
        except IalrError as error:
            raise DeliveryFailed(
                f"SNS publish to {self.topic_arn} failed: {error.message}", hint=error.hint
            ) from error
