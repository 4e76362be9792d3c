"""The load generator's open-loop scheduling, on a fake clock (no sockets, no real time)."""

from __future__ import annotations

import asyncio

import pytest

from ial_resilience.errors import InputError
from ial_resilience.lab.loadgen import LoadConfig, LoadGenerator
from ial_resilience.lab.loadgen_record import (
    BoundedSample,
    Outcome,
    RollingWindow,
    SkewTracker,
    nearest_rank,
)
from ial_resilience.lab.loadgen_schedule import (
    FakeClock,
    MixCycle,
    RequestKind,
    Timetable,
    parse_mix,
)

URL = "http://127.0.0.1:9"


def slow_transport(clock: FakeClock, seconds: float, status: int = 200):  # type: ignore[no-untyped-def]
    sent: list[tuple[float, str, str]] = []

    async def transport(method: str, path: str, body: bytes | None) -> int:
        sent.append((clock.now(), method, path))
        await clock.sleep_until(clock.now() + seconds)
        return status

    return transport, sent


async def run_for(generator: LoadGenerator, clock: FakeClock, seconds: float) -> dict[str, object]:
    stop = asyncio.Event()
    task = asyncio.ensure_future(generator.run(stop))
    await clock.advance(seconds)
    stop.set()
    await clock.advance(1.0)  # let in-flight requests finish
    return await task


def test_slow_responses_do_not_lower_the_offered_rate() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        transport, sent = slow_transport(clock, 0.5)
        outcomes: list[Outcome] = []
        config = LoadConfig(URL, rate=20.0, mix=(RequestKind("GET", "/orders"),))
        generator = LoadGenerator(config, clock=clock, transport=transport, sink=outcomes.append)
        await run_for(generator, clock, 1.0)
        send_times = [t - 1000.0 for t, _, _ in sent]
        # 20 req/s for 1 s: 21 due times 0, 0.05, … 1.0 — all sent although none had answered
        # before 0.5 s: the schedule never waits for a response (open loop).
        assert len(sent) >= 20
        assert send_times[:10] == pytest.approx([i * 0.05 for i in range(10)], abs=0.003)
        assert all(o.latency_ms == pytest.approx(500.0, abs=2.0) for o in outcomes)

    asyncio.run(scenario())


def test_a_stall_is_caught_up_and_counted_as_skew_and_latency() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        transport, sent = slow_transport(clock, 0.01)
        outcomes: list[Outcome] = []
        config = LoadConfig(URL, rate=100.0, mix=(RequestKind("GET", "/orders"),))
        generator = LoadGenerator(config, clock=clock, transport=transport, sink=outcomes.append)
        stop = asyncio.Event()
        task = asyncio.ensure_future(generator.run(stop))
        await clock.advance(0.1)
        clock.t += 0.3  # the process was descheduled for 300 ms: nothing ran meanwhile
        await clock.advance(0.1)
        stop.set()
        await clock.advance(0.5)
        await task
        # every request due during the stall was sent at once when it ended (none skipped) ...
        assert len(sent) >= 50
        assert sum(1 for t, _, _ in sent if t == pytest.approx(1000.4)) >= 29
        late = [o for o in outcomes if o.skew_ms > 100]
        assert len(late) >= 19
        # ... and its latency counts the time users waited from the due time, stall included
        assert all(o.latency_ms >= o.skew_ms + 9.0 for o in late)
        assert max(o.skew_ms for o in outcomes) == pytest.approx(300.0, abs=15.0)

    asyncio.run(scenario())


def test_in_flight_cap_records_saturation_instead_of_waiting() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        transport, sent = slow_transport(clock, 5.0)
        outcomes: list[Outcome] = []
        config = LoadConfig(URL, rate=10.0, max_in_flight=3, timeout=30.0)
        generator = LoadGenerator(config, clock=clock, transport=transport, sink=outcomes.append)
        stop = asyncio.Event()
        task = asyncio.ensure_future(generator.run(stop))
        await clock.advance(0.95)
        saturated = [o for o in outcomes if o.status == "saturated"]
        assert len(sent) == 3
        assert len(saturated) == generator.totals.scheduled - 3 >= 6
        assert not any(o.ok for o in saturated)
        stop.set()
        await clock.advance(6.0)
        await task

    asyncio.run(scenario())


def test_failures_are_classified_and_not_available() -> None:
    async def scenario() -> None:
        clock = FakeClock()

        async def refused(method: str, path: str, body: bytes | None) -> int:
            raise ConnectionRefusedError("refused")

        outcomes: list[Outcome] = []
        generator = LoadGenerator(
            LoadConfig(URL, rate=10.0), clock=clock, transport=refused, sink=outcomes.append
        )
        summary = await run_for(generator, clock, 0.5)
        assert {o.status for o in outcomes} == {"connect"}
        assert summary["availability"] == 0.0

    asyncio.run(scenario())


def test_duration_bounds_the_timetable() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        transport, sent = slow_transport(clock, 0.001)
        generator = LoadGenerator(
            LoadConfig(URL, rate=50.0, duration=1.0), clock=clock, transport=transport
        )
        task = asyncio.ensure_future(generator.run())
        await clock.advance(1.5)
        summary = await task
        assert len(sent) == summary["scheduled"] == 50

    asyncio.run(scenario())


def test_mix_is_exact_and_interleaved() -> None:
    cycle = MixCycle(parse_mix("GET /orders=4,POST /orders=1"))
    picks = [cycle.next().label for _ in range(10)]
    assert picks.count("POST /orders") == 2
    assert picks[:5].count("POST /orders") == 1


@pytest.mark.parametrize("text", ["GET orders=1", "FETCH /orders", "GET /orders=0", ""])
def test_bad_mix_is_refused_with_the_form(text: str) -> None:
    with pytest.raises(InputError, match=r"METHOD /path=weight|empty"):
        parse_mix(text)


def test_bad_config_is_refused() -> None:
    with pytest.raises(InputError, match="http://host:port"):
        LoadConfig("ftp://x")
    with pytest.raises(InputError, match="rate"):
        LoadConfig(URL, rate=0)


def test_timetable_due_count() -> None:
    table = Timetable(start=10.0, rate=4.0)
    assert table.due(3) == 10.75
    assert table.due_count(9.99) == 0
    assert table.due_count(10.0) == 1
    assert table.due_count(10.75) == 4


def test_rolling_window_and_skew_summaries() -> None:
    window = RollingWindow(1.0)
    window.add(0.0, True, 10.0)
    window.add(0.5, False, 30.0)
    window.add(1.2, True, 20.0)
    stats = window.stats(1.2)
    assert stats["requests"] == 2.0
    assert stats["availability"] == 0.5
    assert stats["p95_ms"] == 30.0
    tracker = SkewTracker()
    assert tracker.add(100.2, 1.0) == []
    assert tracker.add(100.7, 3.0) == []
    points = tracker.add(101.1, 2.0)
    assert {p.labels["stat"]: p.value for p in points} == {"p50": 1.0, "p99": 3.0, "max": 3.0}
    assert all(p.ts == 101.0 for p in points)
    assert nearest_rank([], 50) is None


def test_bounded_sample_stays_bounded_and_evenly_spread() -> None:
    sample = BoundedSample(cap=100)
    for value in range(99):
        sample.add(float(value))
    assert sample.exact and len(sample.values) == 99
    for value in range(99, 10_000):
        sample.add(float(value))
    assert not sample.exact and len(sample.values) < 100
    assert sample.seen == 10_000 and sample.maximum == 9999.0  # exact whatever was dropped
    median = nearest_rank(sample.values, 50)
    assert median is not None and abs(median - 5000) < 300
