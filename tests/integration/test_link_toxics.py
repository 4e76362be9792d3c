"""Each toxic's effect on real connections through a link, with the evidence it reports."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ial_resilience.faults.toxics import parse_toxic
from tests.integration.test_link_support import (
    connect,
    echo,
    recv_all,
    recv_exactly,
    round_trip,
    running_link,
    running_server,
    wait_for,
)


def test_latency_delays_each_message_by_at_least_the_configured_time() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        client = connect(link)
        round_trip(client)
        toxic = link.add_toxic(parse_toxic("latency", {"latency_ms": 60}, "upstream"))
        trips = [round_trip(client) for _ in range(3)]
        evidence = link.remove_toxic(toxic)
        after = round_trip(client)
    assert min(trips) >= 0.060
    assert after < 0.060
    assert evidence["landed"] is True
    assert evidence["chunks"] == 3
    assert 60.0 <= evidence["added_delay_ms"]["p50"] < 80.0
    assert evidence["added_delay_ms"]["max"] >= evidence["added_delay_ms"]["p99"]


def test_latency_on_both_directions_adds_twice() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        link.add_toxic(parse_toxic("latency", {"latency_ms": 40}))
        client = connect(link)
        assert round_trip(client) >= 0.080


def test_jitter_keeps_delays_within_latency_plus_minus_jitter() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        toxic = link.add_toxic(
            parse_toxic("latency", {"latency_ms": 30, "jitter_ms": 20}, "upstream")
        )
        client = connect(link)
        trips = [round_trip(client) for _ in range(12)]
        evidence = link.toxic_evidence(toxic)
    assert min(trips) >= 0.010  # never less than latency - jitter (the bounds: unit tests)
    assert max(trips) - min(trips) > 0.002  # jitter really varies the delay
    assert evidence["added_delay_ms"]["p50"] >= 10.0


def test_bandwidth_limits_the_rate() -> None:
    payload = b"b" * 60_000
    with running_server(echo) as server, running_link(server.address) as link:
        toxic = link.add_toxic(parse_toxic("bandwidth", {"rate_kbps": 100}, "downstream"))
        client = connect(link)
        start = time.monotonic()
        client.sendall(payload)
        assert recv_exactly(client, len(payload)) == payload
        elapsed = time.monotonic() - start
        evidence = link.remove_toxic(toxic)
    assert elapsed >= 0.55  # 60 kB at 100 kB/s is 0.6 s
    assert evidence["landed"] is True


def test_bandwidth_pushes_back_on_the_sender_instead_of_buffering() -> None:
    def slow_sink(conn: socket.socket) -> None:
        while conn.recv(65536):
            pass

    with running_server(slow_sink) as server, running_link(server.address) as link:
        link.add_toxic(parse_toxic("bandwidth", {"rate_kbps": 100}, "upstream"))
        client = connect(link)
        client.settimeout(1.0)
        with pytest.raises(TimeoutError):  # 20 MB cannot leave the client at 100 kB/s in 1 s
            client.sendall(b"p" * 20_000_000)


def test_slicer_cuts_messages_into_small_pieces() -> None:
    sizes: list[int] = []

    def record(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            sizes.append(len(data))

    with running_server(record) as server, running_link(server.address) as link:
        toxic = link.add_toxic(
            parse_toxic("slicer", {"average_size": 10, "size_variation": 4, "delay_us": 3000})
        )
        client = connect(link)
        client.sendall(b"s" * 200)
        assert wait_for(lambda: sum(sizes) == 200)
        evidence = link.toxic_evidence(toxic)
    assert len(sizes) >= 5
    assert max(sizes) <= 14 * 3  # pieces may merge at the receiver, never grow beyond that
    assert evidence["chunks"] >= 14


def test_reset_gives_econnreset_after_its_timeout() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        toxic = link.add_toxic(parse_toxic("reset", {"timeout_ms": 150}))
        client = connect(link)
        start = time.monotonic()
        round_trip(client)
        with pytest.raises(ConnectionResetError):
            client.settimeout(5)
            client.recv(1)
        elapsed = time.monotonic() - start
        evidence = link.remove_toxic(toxic)
    assert elapsed >= 0.14
    assert evidence["resets"] == 1 and evidence["landed"] is True


def test_timeout_blackholes_then_closes() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        client = connect(link)
        round_trip(client)
        toxic = link.add_toxic(parse_toxic("timeout", {"timeout_ms": 300}))
        start = time.monotonic()
        client.sendall(b"lost" * 10)
        client.settimeout(5)
        assert client.recv(10) == b""  # nothing came back; the link closed after the timeout
        elapsed = time.monotonic() - start
        evidence = link.remove_toxic(toxic)
    assert elapsed >= 0.28
    assert evidence["bytes_dropped"] == 40
    assert evidence["connections_closed"] == 1


def test_timeout_zero_blackholes_until_removed() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        client = connect(link)
        toxic = link.add_toxic(parse_toxic("timeout", {"timeout_ms": 0}, "upstream"))
        client.sendall(b"dropped")
        client.settimeout(0.3)
        with pytest.raises(TimeoutError):
            client.recv(10)
        link.remove_toxic(toxic)
        client.settimeout(5)
        assert round_trip(client, b"after") < 1.0


def test_loss_drops_every_chunk_at_probability_one_and_counts_bytes() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        toxic = link.add_toxic(parse_toxic("loss", {"probability": 1.0}, "upstream"))
        client = connect(link)
        for _ in range(3):
            client.sendall(b"z" * 100)
            time.sleep(0.02)  # separate chunks
        assert wait_for(lambda: link.toxic_evidence(toxic)["bytes_dropped"] == 300)
        client.settimeout(0.2)
        with pytest.raises(TimeoutError):
            client.recv(1)
        evidence = link.remove_toxic(toxic)
    assert evidence["landed"] is True


def test_loss_at_probability_zero_drops_nothing() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        toxic = link.add_toxic(parse_toxic("loss", {"probability": 0.0}))
        client = connect(link)
        for _ in range(5):
            round_trip(client)
        evidence = link.remove_toxic(toxic)
    assert evidence["bytes_dropped"] == 0 and evidence["landed"] is False


def test_down_resets_existing_and_new_connections_until_removed() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        existing = connect(link)
        round_trip(existing)
        toxic = link.add_toxic(parse_toxic("down"))
        with pytest.raises(ConnectionResetError):
            existing.recv(1)
        with pytest.raises(ConnectionResetError):  # at connect or at the first read: a race
            connect(link).recv(1)
        assert link.snapshot()["enabled"] is False
        evidence = link.remove_toxic(toxic)
        assert round_trip(connect(link)) < 1.0
    assert evidence["resets"] == 2
    assert server.accepted == 2  # the first and the last; the one made while down never did


def test_slow_close_delays_the_end_of_stream() -> None:
    def answer_and_close(conn: socket.socket) -> None:
        conn.sendall(b"bye")

    with running_server(answer_and_close) as server, running_link(server.address) as link:
        toxic = link.add_toxic(parse_toxic("slow_close", {"delay_ms": 250}, "downstream"))
        client = connect(link)
        start = time.monotonic()
        assert recv_all(client) == b"bye"
        elapsed = time.monotonic() - start
        evidence = link.remove_toxic(toxic)
    assert elapsed >= 0.24
    assert evidence["closes_delayed"] == 1


def test_slow_open_delays_the_upstream_dial() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        toxic = link.add_toxic(parse_toxic("slow_open", {"delay_ms": 200}))
        client = connect(link)
        start = time.monotonic()
        round_trip(client)
        elapsed = time.monotonic() - start
        evidence = link.remove_toxic(toxic)
    assert elapsed >= 0.19
    assert evidence["opens_delayed"] == 1


@pytest.mark.parametrize(("toxicity", "affected"), [(0.0, 0), (1.0, 6)])
def test_toxicity_zero_never_applies_and_one_always_does(toxicity: float, affected: int) -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        toxic = link.add_toxic(
            parse_toxic("latency", {"latency_ms": 50}, "upstream", toxicity=toxicity)
        )
        clients = [connect(link) for _ in range(6)]
        trips = [round_trip(client) for client in clients]
        evidence = link.remove_toxic(toxic)
    assert evidence["connections_met"] == 6
    assert evidence["connections_affected"] == affected
    assert sum(trip >= 0.05 for trip in trips) == affected


def test_toxicity_half_splits_connections() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        toxic = link.add_toxic(parse_toxic("slow_open", {"delay_ms": 1}, toxicity=0.5))
        for _ in range(60):
            connect(link).close()
        assert wait_for(lambda: link.toxic_evidence(toxic)["connections_met"] == 60)
        affected = link.toxic_evidence(toxic)["connections_affected"]
    assert 10 <= affected <= 50  # binomial(60, 0.5) leaves this range with p < 1e-6


def test_removing_a_toxic_releases_held_bytes_at_once() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        client = connect(link)
        toxic = link.add_toxic(parse_toxic("latency", {"latency_ms": 5000}, "upstream"))
        client.sendall(b"held")
        time.sleep(0.05)
        start = time.monotonic()
        done = threading.Thread(target=link.remove_toxic, args=(toxic,))
        done.start()
        assert recv_exactly(client, 4) == b"held"
        done.join()
    assert time.monotonic() - start < 1.0


def test_evidence_of_a_toxic_that_met_no_connection_has_not_landed() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        toxic = link.add_toxic(parse_toxic("latency", {"latency_ms": 10}))
        assert link.toxic_evidence(toxic)["landed"] is False
        final = link.remove_toxic(toxic)
        assert link.remove_toxic(toxic) == final  # idempotent
    assert final["connections_met"] == 0
