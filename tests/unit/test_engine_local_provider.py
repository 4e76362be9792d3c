"""The local provider's mapping from the fault vocabulary to agent fault requests."""

from __future__ import annotations

from typing import Any

import pytest

from ial_resilience.engine.plan import make_plan
from ial_resilience.engine.providers.local import LocalProvider
from ial_resilience.errors import AgentUnreachable
from ial_resilience.spec.models import Experiment

STEPS: list[dict[str, Any]] = [
    {"fault": "network.latency", "target": "db", "with": {"latency": "200ms", "jitter": "20ms"}},
    {"fault": "network.partition", "target": "db", "direction": "upstream"},
    {"fault": "db.connection-drop", "target": "db"},
    {"fault": "dependency.outage", "target": "pay"},
    {"fault": "network.loss", "target": "db", "with": {"probability": 0.3}},
    {"fault": "process.kill", "target": "worker"},
    {"fault": "resource.memory", "target": "box", "with": {"bytes": "64MiB"}},
    {"fault": "http.abort", "target": "pay", "with": {"status": 503, "percentage": 50}},
]


def requests() -> list[dict[str, Any]]:
    experiment = Experiment.model_validate(
        {
            "version": 1,
            "title": "mapping",
            "targets": {
                "db": {"link": "api->db"},
                "pay": {"link": "api->pay"},
                "worker": {"process": "worker"},
                "box": {"host": "local"},
            },
            "steady_state": [{"probe": {"command": {"argv": "true"}}}],
            "method": [{**step, "duration": "2s"} for step in STEPS],
        }
    )
    provider = LocalProvider(None)
    plan = make_plan(experiment, provider, provider.resolve_targets(experiment), "run-1")
    return [provider.requests(planned)[0] for planned in plan.faults]


def test_vocabulary_maps_to_agent_kinds_and_attributes() -> None:
    latency, partition, drop, outage, loss, kill, memory, abort = requests()
    assert latency["kind"] == "latency"
    assert latency["params"] == {"latency_ms": 200.0, "jitter_ms": 20.0}
    assert latency["target"] == {"link": "api->db"}
    assert latency["id"] == "run-1-s0" and latency["duration_ms"] == 2000
    assert partition["kind"] == "timeout" and partition["params"] == {"timeout_ms": 0}
    assert partition["direction"] == "both"
    assert drop["kind"] == "reset" and drop["params"] == {"timeout_ms": 0}
    assert outage["kind"] == "down" and outage["target"] == {"link": "api->pay"}
    assert loss["kind"] == "loss" and loss["params"] == {"probability": 0.3}
    assert kill["kind"] == "kill" and kill["target"] == {"process": "worker"}
    assert kill["params"] == {"signal": "SIGKILL"}
    assert memory["kind"] == "memory" and memory["target"] == {"host": True}
    assert memory["params"] == {"bytes": 64 * 1024 * 1024}
    assert abort["kind"] == "http_abort" and abort["params"]["status"] == 503


def test_lab_faults_are_not_supported_locally() -> None:
    supported = LocalProvider(None).supported_faults()
    for fault in ("lb.health-check-fail", "scaling.capacity-limit", "db.failover"):
        assert fault not in supported
    assert "network.slow-open" in supported


def test_an_offline_provider_says_no_agent_runs() -> None:
    with pytest.raises(AgentUnreachable):
        LocalProvider(None).check_ready()
