"""The link relay: byte-exactness, half-close, resets, dial timeouts, counters, live toxics."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import socket
import threading
import time

import pytest

from ial_resilience.agent.link import Link, LinkError
from ial_resilience.faults.toxics import parse_toxic
from tests.integration.test_link_support import (
    LOOPBACK,
    connect,
    echo,
    free_port,
    recv_all,
    recv_exactly,
    round_trip,
    running_link,
    running_server,
    wait_for,
)


@pytest.mark.parametrize("size", [1, 4096, 65_537, 3_000_001])
def test_relay_is_byte_exact_both_ways(size: int) -> None:
    payload = os.urandom(size)
    with running_server(echo) as server, running_link(server.address) as link:
        client = connect(link)
        sender = threading.Thread(target=client.sendall, args=(payload,))
        sender.start()
        assert recv_exactly(client, size) == payload
        sender.join()
        client.close()


def digest_reply(conn: socket.socket) -> None:
    """Read until the client half-closes, then answer with the length and SHA-256."""
    data = recv_all(conn)
    conn.sendall(f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode())


def test_half_close_delivers_the_reply_after_the_client_shuts_down_writing() -> None:
    payload = os.urandom(500_000)
    with running_server(digest_reply) as server, running_link(server.address) as link:
        client = connect(link)
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        reply = recv_all(client).decode()
    assert reply == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}"


def test_upstream_refused_resets_the_client_at_once() -> None:
    with running_link((LOOPBACK, free_port())) as link:
        start = time.monotonic()
        with pytest.raises(ConnectionResetError):  # at connect or at the first read: a race
            connect(link).recv(1)
        assert time.monotonic() - start < 1.0
        assert wait_for(lambda: link.snapshot()["dial_failures"] == 1)


def test_upstream_dial_times_out_after_dial_timeout() -> None:
    # A listener that never accepts, with its one-slot backlog filled: further SYNs are dropped.
    stuck = socket.socket()
    stuck.bind((LOOPBACK, 0))
    stuck.listen(0)
    fillers = []
    for _ in range(2):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(stuck.getsockname())
        fillers.append(filler)
    time.sleep(0.05)  # let the handshakes complete so the accept queue is really full
    try:
        with running_link(stuck.getsockname(), dial_timeout=0.3) as link:
            client = connect(link)
            start = time.monotonic()
            with pytest.raises(ConnectionResetError):
                client.settimeout(5)
                client.recv(1)
            elapsed = time.monotonic() - start
            assert 0.25 <= elapsed < 3.0
            assert link.snapshot()["dial_failures"] == 1
    finally:
        for sock in [*fillers, stuck]:
            sock.close()


def test_start_on_a_taken_port_names_the_port() -> None:
    with running_server(echo) as server:
        link = Link("busy", server.address, (LOOPBACK, 1))
        with pytest.raises(LinkError, match=str(server.address[1])):
            link.start()


def test_reset_connections_resets_every_open_connection() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        clients = [connect(link) for _ in range(3)]
        for client in clients:
            round_trip(client)
        assert link.reset_connections() == 3
        for client in clients:
            with pytest.raises(ConnectionResetError):
                client.recv(1)
        assert wait_for(lambda: link.snapshot()["connections_active"] == 0)
        assert link.snapshot()["resets"] == 3


def test_snapshot_counts_connections_and_bytes() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        client = connect(link)
        round_trip(client, b"x" * 1000)
        # the pump counts right after the bytes leave, so the counter may trail the echo
        assert wait_for(lambda: link.snapshot()["bytes_down"] == 1000)
        snap = link.snapshot()
        assert snap["connections_active"] == 1
        assert snap["bytes_up"] == 1000
        client.close()
        assert wait_for(lambda: link.snapshot()["connections_active"] == 0)
        snap = link.snapshot()
    assert snap["connections_total"] == 1
    assert (snap["bytes_up"], snap["bytes_down"]) == (1000, 1000)
    assert snap["listen"] == f"{LOOPBACK}:{link.listen_address[1]}"


def test_toxics_added_and_removed_live_lose_and_reorder_nothing() -> None:
    payload = os.urandom(4_000_000)
    toxics = [
        ("latency", {"latency_ms": 5, "jitter_ms": 3}),
        ("slicer", {"average_size": 700, "size_variation": 300}),
        ("bandwidth", {"rate_kbps": 200_000}),
    ]
    with running_server(echo) as server, running_link(server.address) as link:
        client = connect(link)

        def send() -> None:
            for start in range(0, len(payload), 40_000):
                client.sendall(payload[start : start + 40_000])
                time.sleep(0.0005)

        sender = threading.Thread(target=send)
        sender.start()
        rng = random.Random(7)
        active: list[str] = []
        while sender.is_alive():
            if active and rng.random() < 0.5:
                link.remove_toxic(active.pop(rng.randrange(len(active))))
            else:
                kind, attributes = toxics[rng.randrange(len(toxics))]
                direction = rng.choice(["upstream", "downstream", "both"])
                active.append(link.add_toxic(parse_toxic(kind, attributes, direction)))
            time.sleep(0.01)
        for toxic_id in active:
            link.remove_toxic(toxic_id)
        received = recv_exactly(client, len(payload), timeout=30)
        sender.join()
    assert received == payload


def test_stop_closes_connections_and_joins_threads() -> None:
    with running_server(echo) as server:
        link = Link("stopper", (LOOPBACK, 0), server.address)
        link.start()
        client = connect(link)
        round_trip(client)
        before = threading.active_count()
        link.stop()
        assert client.recv(1) == b""
        assert threading.active_count() < before


def test_two_hundred_concurrent_connections_all_relay() -> None:
    with running_server(echo) as server, running_link(server.address) as link:
        clients = [connect(link) for _ in range(200)]
        for index, client in enumerate(clients):
            client.sendall(index.to_bytes(4, "big"))
        for index, client in enumerate(clients):
            assert recv_exactly(client, 4) == index.to_bytes(4, "big")
        assert link.snapshot()["connections_active"] == 200
        for client in clients:
            client.close()


def test_reset_during_a_bulk_transfer_leaves_no_connection_or_thread_behind() -> None:
    def sink(conn: socket.socket) -> None:
        while conn.recv(1 << 20):
            pass

    before = threading.active_count()
    with running_server(sink) as server, running_link(server.address) as link:
        link.add_toxic(parse_toxic("latency", {"latency_ms": 1}, "downstream"))
        client = connect(link)
        errors: list[OSError] = []

        def send() -> None:
            try:
                while True:
                    client.sendall(b"q" * 65536)
            except OSError as exc:
                errors.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        assert wait_for(lambda: link.snapshot()["bytes_up"] > 5_000_000)
        assert link.reset_connections() == 1
        sender.join(5)
        assert errors and isinstance(errors[0], ConnectionResetError | BrokenPipeError)
        assert wait_for(lambda: link.snapshot()["connections_active"] == 0)
    assert wait_for(lambda: threading.active_count() <= before)


def test_stop_with_toxics_and_writers_active_joins_every_thread() -> None:
    before = threading.active_count()
    with running_server(echo) as server:
        link = Link("busy", (LOOPBACK, 0), server.address)
        link.start()
        link.add_toxic(parse_toxic("latency", {"latency_ms": 2000}))
        clients = [connect(link) for _ in range(5)]
        for client in clients:
            client.sendall(b"pending")  # held by the writers when stop() comes
        time.sleep(0.05)
        link.stop()
        for client in clients:
            client.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                assert client.recv(10) == b""
    assert wait_for(lambda: threading.active_count() <= before)


def test_connections_with_zero_copy_toxics_leave_no_fd_behind() -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    with running_server(echo) as server, running_link(server.address) as link:
        round_trip(connect(link))  # warm up: the listener and the first threads exist
        assert wait_for(lambda: link.snapshot()["connections_active"] == 0)
        before = open_fds()
        link.add_toxic(parse_toxic("latency", {"latency_ms": 1}))
        link.add_toxic(parse_toxic("loss", {"probability": 0.0}, "upstream"))
        clients = [connect(link) for _ in range(20)]
        for client in clients:
            round_trip(client, os.urandom(300_000))
            client.close()
        assert wait_for(lambda: link.snapshot()["connections_active"] == 0)
        assert wait_for(lambda: open_fds() <= before)


def test_many_small_delayed_chunks_hold_a_bounded_number_of_pipes() -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    messages = [index.to_bytes(2, "big") * 5 for index in range(300)]
    with running_server(echo) as server, running_link(server.address) as link:
        link.add_toxic(parse_toxic("latency", {"latency_ms": 1500}, "upstream"))
        client = connect(link)
        before = open_fds()
        for message in messages:
            client.sendall(message)
            time.sleep(0.001)  # separate chunks
        assert open_fds() <= before + 2 * 64 + 10  # two fds per held pipe, at most 64 held
        assert recv_exactly(client, 3000) == b"".join(messages)
