"""Structured JSON logs (stdlib ``logging``) carrying the current trace and span ids.

``setup_json_logging("orders")`` makes every record one JSON line: ``ts``, ``level``,
``logger``, ``message``, ``service``, ``trace_id``/``span_id`` (when a span is current), the
``extra={…}`` fields, and ``exception`` text. ``trace_id`` in X-Ray form is added as
``xray_trace_id`` when the id came from the X-Ray generator (its first 8 hex are a time).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from ial_resilience.observability.tracing import current_ids

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.service:
            document["service"] = self.service
        ids = current_ids()
        if ids is not None:
            document["trace_id"], document["span_id"] = ids
            document["xray_trace_id"] = f"1-{ids[0][:8]}-{ids[0][8:]}"
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def setup_json_logging(
    service: str = "", *, level: int = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send the root logger's records to ``stream`` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return handler
