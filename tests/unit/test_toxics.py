"""Toxic validation and the stages as pure functions (no sockets)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ial_resilience.errors import ExitCode, InputError
from ial_resilience.faults.toxics import TOXIC_KINDS, ToxicError, ToxicSpec, build_kind, parse_toxic
from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._spec import Direction
from ial_resilience.faults.toxics._stage import Chunk
from ial_resilience.faults.toxics.bandwidth import BandwidthStage
from ial_resilience.faults.toxics.latency import LatencyStage
from ial_resilience.faults.toxics.loss import LossStage
from ial_resilience.faults.toxics.slicer import SlicerStage
from ial_resilience.faults.toxics.timeout import BlackholeStage


@pytest.mark.parametrize(
    ("kind", "attributes", "extra", "fragment"),
    [
        (
            "latency",
            {"latency_ms": -1},
            {},
            "'latency_ms' is -1; expected a number of milliseconds",
        ),
        ("latency", {"latency_ms": 5}, {"toxicity": 2}, "toxicity is 2; expected a probability"),
        ("latency", {"latency_ms": 5, "lag": 1}, {}, "unknown attribute 'lag'"),
        ("jitter", {}, {}, "unknown toxic kind 'jitter'; expected one of"),
        ("latency", {}, {}, "'latency_ms' is missing"),
        ("latency", {"latency_ms": "5ms"}, {}, "'latency_ms' is '5ms'"),
        ("latency", {"latency_ms": True}, {}, "'latency_ms' is True"),
        ("latency", {"latency_ms": math.nan}, {}, "'latency_ms' is nan"),
        ("latency", {"latency_ms": 5}, {"direction": "sideways"}, "direction is 'sideways'"),
        ("bandwidth", {"rate_kbps": 0}, {}, "'rate_kbps' is 0; expected a number of kilobytes"),
        ("loss", {"probability": 1.5}, {}, "'probability' is 1.5; expected a probability"),
        ("http_abort", {"status": 700}, {}, "'status' is 700; expected an HTTP status code"),
        ("http_delay", {"delay_ms": 1, "percentage": 101}, {}, "'percentage' is 101"),
        ("http_abort", {"status": 500, "method": ""}, {}, "'method' is ''"),
        ("http_abort", {"status": 500}, {"http_link": False}, "needs an HTTP-aware link"),
    ],
)
def test_bad_toxics_name_the_attribute_and_the_expected_form(
    kind: str, attributes: dict[str, Any], extra: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ToxicError) as caught:
        parse_toxic(kind, attributes, **extra)
    assert fragment in str(caught.value)
    assert caught.value.hint
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, InputError)
    assert caught.value.exit_code is ExitCode.INVALID_INPUT


def test_parse_fills_defaults_and_freezes() -> None:
    spec = parse_toxic("slicer", {"average_size": 10}, "downstream", 0.5, "cut")
    assert spec == ToxicSpec("cut", "slicer", spec.attributes, Direction.DOWNSTREAM, 0.5)
    assert dict(spec.attributes) == {"average_size": 10.0, "size_variation": 0.0, "delay_us": 0.0}
    with pytest.raises(TypeError):
        spec.attributes["average_size"] = 3  # type: ignore[index]
    assert spec.to_dict()["direction"] == "downstream"
    assert parse_toxic("down").id.startswith("down-")


def test_every_kind_accepts_its_documented_attributes() -> None:
    examples: dict[str, dict[str, Any]] = {
        "latency": {"latency_ms": 1, "jitter_ms": 0},
        "bandwidth": {"rate_kbps": 1},
        "slicer": {"average_size": 1, "size_variation": 0, "delay_us": 0},
        "reset": {"timeout_ms": 0},
        "timeout": {"timeout_ms": 0},
        "slow_close": {"delay_ms": 0},
        "slow_open": {"delay_ms": 0},
        "loss": {"probability": 0},
        "down": {},
        "http_abort": {"status": 100, "percentage": 0, "method": "GET", "path": "/"},
        "http_delay": {"delay_ms": 0, "percentage": 100, "method": "GET", "path": "/"},
    }
    assert set(examples) == set(TOXIC_KINDS)
    for kind, attributes in examples.items():
        assert build_kind(parse_toxic(kind, attributes, http_link=True)).name == kind


def test_hand_built_specs_are_validated_when_applied() -> None:
    with pytest.raises(ToxicError, match="latency_ms"):
        build_kind(ToxicSpec("x", "latency", {"latency_ms": -5}))


def chunk(data: bytes, at: float = 100.0) -> Chunk:
    return Chunk(data, at, at)


def test_latency_stage_delays_relative_to_arrival() -> None:
    evidence = Evidence()
    stage = LatencyStage(0.2, 0.0, evidence)
    late = chunk(b"a", at=100.0)
    [out] = stage.process(late, now=100.15)  # its turn came late: still due at arrival + 0.2
    assert out.due == pytest.approx(100.2)
    assert evidence in out.measured_by and evidence.chunks == 1


def test_latency_jitter_stays_within_bounds() -> None:
    stage = LatencyStage(0.05, 0.02, Evidence())
    dues = [stage.process(chunk(b"a"), 100.0)[0].due - 100.0 for _ in range(300)]
    assert min(dues) >= 0.03 - 1e-9 and max(dues) <= 0.07 + 1e-9
    assert max(dues) - min(dues) > 0.02


def test_bandwidth_stage_spaces_bytes_at_the_rate() -> None:
    stage = BandwidthStage(10_000.0, Evidence())  # 10 kB/s
    pieces = stage.process(chunk(b"x" * 1000), now=100.0)
    assert b"".join(p.data for p in pieces) == b"x" * 1000
    assert pieces[-1].due == pytest.approx(100.1)
    more = stage.process(chunk(b"y" * 500, at=100.0), now=100.0)
    assert more[-1].due == pytest.approx(100.15)  # queued behind the first kilobyte


def test_slicer_stage_cuts_within_the_size_range() -> None:
    stage = SlicerStage(10, 3, 0.001, Evidence())
    pieces = stage.process(chunk(bytes(range(256)) * 4), now=100.0)
    assert b"".join(p.data for p in pieces) == bytes(range(256)) * 4
    assert all(7 <= len(p.data) <= 13 for p in pieces[:-1])
    assert pieces[1].due - pieces[0].due == pytest.approx(0.001)


def test_loss_and_blackhole_stages_drop_and_count() -> None:
    evidence = Evidence()
    assert LossStage(1.0, evidence).process(chunk(b"abc"), 0.0) == []
    assert LossStage(0.0, evidence).process(chunk(b"abc"), 0.0) != []
    assert BlackholeStage(evidence).process(chunk(b"de"), 0.0) == []
    assert evidence.bytes_dropped == 5 and evidence.landed()


def test_evidence_percentiles_and_landed() -> None:
    evidence = Evidence()
    assert evidence.to_dict()["landed"] is False
    for ms in range(1, 101):
        evidence.record_delay(ms / 1000)
    evidence.add(chunks=100)
    report = evidence.to_dict()
    assert report["added_delay_ms"]["p50"] == pytest.approx(50.0)
    assert report["added_delay_ms"]["p99"] == pytest.approx(99.0)
    assert report["added_delay_ms"]["max"] == pytest.approx(100.0)
    assert report["landed"] is True
