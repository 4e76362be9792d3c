"""The API replica's payments call: bounded attempts, one retry, a deadline, a breaker."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from ial_resilience.lab.api import (
    BREAKER_FAIL_MAX,
    PAYMENT_ATTEMPT_TIMEOUT_S,
    PAYMENT_DEADLINE_S,
    Metrics,
    Payments,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def blackhole() -> Iterator[tuple[str, list[socket.socket]]]:
    """Accepts connections and never answers (a partitioned dependency)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    server.close()
    for conn in accepted:
        conn.close()


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_hanging_payments_call_is_retried_once_within_the_deadline(
    blackhole: tuple[str, list[socket.socket]],
) -> None:
    url, accepted = blackhole
    payments = Payments(url, Metrics())
    started = time.monotonic()
    assert payments.charge(1, 1.0) == "failed"
    took = time.monotonic() - started
    assert took >= 2 * PAYMENT_ATTEMPT_TIMEOUT_S * 0.9  # two attempts really waited
    assert took < PAYMENT_DEADLINE_S + 0.5  # the deadline bounds the call (slack: load)
    assert len(accepted) == 2  # exactly one retry


def test_the_breaker_opens_after_consecutive_failures_and_then_fails_fast() -> None:
    payments = Payments(refused_url(), Metrics())
    outcomes = [payments.charge(i, 1.0) for i in range(BREAKER_FAIL_MAX)]
    assert outcomes == ["failed"] * (BREAKER_FAIL_MAX - 1) + ["breaker_open"]
    assert payments.state() == "open"
    assert payments.charge(99, 1.0) == "breaker_open"
