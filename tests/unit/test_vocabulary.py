"""The fault vocabulary: every fault of the design, typed params, agent translation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ial_resilience.faults.vocabulary import (
    FAULTS,
    HttpAbortParams,
    LatencyParams,
    TargetKind,
    closest_faults,
    fault_kind,
)

DESIGN_FAULTS = [
    "network.latency",
    "network.loss",
    "network.partition",
    "network.bandwidth",
    "network.reset",
    "network.slow-close",
    "process.kill",
    "process.pause",
    "process.restart",
    "resource.cpu",
    "resource.memory",
    "resource.disk",
    "http.abort",
    "http.delay",
    "db.connection-drop",
    "db.failover",
    "dependency.outage",
    "lb.health-check-fail",
    "scaling.capacity-limit",
]
LOCAL_TOXICS = ["network.slicer", "network.slow-open", "network.timeout", "network.down"]
AGENT_KINDS = {
    "latency", "bandwidth", "slicer", "reset", "timeout", "slow_close", "slow_open", "loss",
    "down", "http_abort", "http_delay", "kill", "pause", "restart", "cpu", "memory", "disk",
}  # fmt: skip


def test_every_fault_of_the_design_and_the_local_toxics() -> None:
    assert set(FAULTS) == set(DESIGN_FAULTS) | set(LOCAL_TOXICS)
    for name, kind in FAULTS.items():
        assert kind.name == name and kind.description and kind.target_kinds
        assert kind.params.model_config.get("frozen") is True
        assert kind.params.model_config.get("extra") == "forbid"
        assert kind.agent_kind is None or kind.agent_kind in AGENT_KINDS


@pytest.mark.parametrize(
    ("name", "written", "attributes"),
    [
        ("network.latency", {"latency": "200ms", "jitter": "20ms"},
         {"latency_ms": 200.0, "jitter_ms": 20.0}),
        ("network.loss", {"probability": 0.3}, {"probability": 0.3}),
        ("network.bandwidth", {"rate": "1MiB"}, {"rate_kbps": 1048}),
        ("network.slicer", {"average_size": "64B", "delay": "1ms"},
         {"average_size": 64, "size_variation": 0, "delay_us": 1000}),
        ("network.timeout", {}, {"timeout_ms": 0.0}),
        ("network.partition", {}, {"timeout_ms": 0.0}),
        ("db.connection-drop", {}, {"timeout_ms": 0.0}),
        ("network.slow-open", {"delay": "1s"}, {"delay_ms": 1000.0}),
        ("process.kill", {"signal": "term"}, {"signal": "SIGTERM"}),
        ("resource.cpu", {"workers": 1, "load": 80}, {"workers": 1, "load": 80}),
        ("resource.memory", {"bytes": "64MiB"}, {"bytes": 64 * 2**20}),
        ("resource.disk", {"directory": "/tmp/x", "bytes": 1000},
         {"directory": "/tmp/x", "bytes": 1000}),
        ("http.abort", {"status": 503, "percentage": 50, "path": "/orders", "method": "get"},
         {"status": 503, "percentage": 50, "path": "/orders", "method": "GET"}),
        ("http.delay", {"delay": "2s"}, {"delay_ms": 2000.0, "percentage": 100}),
    ],
)  # fmt: skip
def test_params_parse_and_translate_for_the_agent(
    name: str, written: dict[str, object], attributes: dict[str, object]
) -> None:
    params = fault_kind(name).params.model_validate(written)
    assert params.agent_attributes() == attributes


@pytest.mark.parametrize(
    ("model", "written", "field"),
    [
        (LatencyParams, {"latency": "-1ms"}, "latency"),
        (LatencyParams, {"latency": "2d"}, "latency"),
        (LatencyParams, {}, "latency"),
        (HttpAbortParams, {"status": 700}, "status"),
        (HttpAbortParams, {"percentage": 101}, "percentage"),
        (HttpAbortParams, {"path": "orders"}, "path"),
        (fault_kind("network.loss").params, {"probability": 1.5}, "probability"),
        (fault_kind("process.kill").params, {"signal": "SIGNOPE"}, "signal"),
        (fault_kind("resource.memory").params, {"bytes": "0"}, "bytes"),
        (fault_kind("resource.cpu").params, {"load": 0}, "load"),
    ],
)
def test_bad_params_are_refused(model: type, written: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(written)
    assert caught.value.errors()[0]["loc"] == (field,)


def test_targets_per_fault() -> None:
    assert TargetKind.LINK in FAULTS["network.latency"].target_kinds
    assert FAULTS["db.failover"].target_kinds == {TargetKind.DATABASE}
    assert TargetKind.LINK not in FAULTS["process.kill"].target_kinds


def test_unknown_fault_lists_the_closest_first() -> None:
    assert closest_faults("proces.kil")[0] == "process.kill"
    assert sorted(closest_faults("x")) == sorted(FAULTS)
    with pytest.raises(KeyError, match=r"expected a fault of the vocabulary: network\.loss"):
        fault_kind("network.los")
