"""Request models: every fault must expire, targets are exactly one kind."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ial_resilience.agent.models import MAX_DURATION_MS, FaultRequest, HostTarget, LinkTarget


def fault(**fields: Any) -> dict[str, Any]:
    return {"kind": "latency", "target": {"link": "a"}, "duration_ms": 1000, **fields}


def test_defaults_and_targets() -> None:
    request = FaultRequest.model_validate(fault())
    assert isinstance(request.target, LinkTarget) and request.direction == "both"
    assert request.toxicity == 1.0 and request.params == {} and request.id is None
    host = FaultRequest.model_validate(fault(target={"host": True}))
    assert isinstance(host.target, HostTarget)


@pytest.mark.parametrize(
    "fields",
    [
        {"duration_ms": 0},
        {"duration_ms": -1},
        {"duration_ms": MAX_DURATION_MS + 1},
        {"duration_ms": "30s"},
        {"duration_ms": 1.5},
        {"toxicity": 1.5},
        {"direction": "sideways"},
        {"target": {"link": "a", "process": "b"}},
        {"target": {"host": False}},
        {"id": "has space"},
        {"surprise": 1},
    ],
)
def test_invalid_requests_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FaultRequest.model_validate(fault(**fields))


def test_duration_is_required() -> None:
    body = fault()
    del body["duration_ms"]
    with pytest.raises(ValidationError, match="duration_ms"):
        FaultRequest.model_validate(body)
