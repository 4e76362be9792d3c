"""The load balancer's target states and round-robin choice (no network)."""

from __future__ import annotations

from ial_resilience.lab.control.lb import HealthCheck, LoadBalancer, TargetState


def state(lb: LoadBalancer) -> str:
    return str(lb.targets()[0]["state"])


def test_a_target_turns_healthy_after_the_threshold_and_leaves_after_failures() -> None:
    lb = LoadBalancer(HealthCheck(healthy_threshold=2, unhealthy_threshold=3))
    target = lb.register("api-1", "127.0.0.1:1")
    lb._record_check(target, True, "")
    assert state(lb) == "initial" and lb._pick() is None
    lb._record_check(target, True, "")
    assert state(lb) == "healthy" and lb._pick() is target
    for _ in range(2):
        lb._record_check(target, False, "HTTP 503")
    assert state(lb) == "healthy"  # two failures are below the threshold
    lb._record_check(target, False, "HTTP 503")
    assert state(lb) == "unhealthy" and lb._pick() is None
    events = [(e["event"], e.get("reason")) for e in lb.events]
    assert events == [("registered", None), ("healthy", None),
                      ("deregistered", "health check failed: HTTP 503")]  # fmt: skip


def test_round_robin_over_healthy_targets_only() -> None:
    lb = LoadBalancer(HealthCheck(healthy_threshold=1))
    a, b, c = (lb.register(n, f"127.0.0.1:{i}") for i, n in enumerate(["a", "b", "c"], 1))
    for target in (a, b):
        lb._record_check(target, True, "")
    picks = [lb._pick() for _ in range(4)]
    assert [t.name for t in picks if t] == ["a", "b", "a", "b"]
    assert c.state is TargetState.INITIAL
    assert lb.deregister("a") and not lb.deregister("a")
    assert {lb._pick().name for _ in range(3)} == {"b"}  # type: ignore[union-attr]


def test_metrics_count_targets_by_state() -> None:
    lb = LoadBalancer(HealthCheck(healthy_threshold=1))
    lb._record_check(lb.register("a", "127.0.0.1:1"), True, "")
    lb.register("b", "127.0.0.1:2")
    text = lb.metrics()
    assert 'lab_lb_targets{state="healthy"} 1' in text
    assert 'lab_lb_targets{state="initial"} 1' in text
    assert "lab_lb_requests_total 0" in text
