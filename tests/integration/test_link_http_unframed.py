"""HTTP links count the connections they could no longer frame (snapshot and /metrics)."""

from __future__ import annotations

from ial_resilience.agent.metrics import AgentMetrics
from tests.integration.test_link_support import (
    connect,
    echo,
    recv_exactly,
    running_link,
    running_server,
    wait_for,
)


def test_unframable_streams_are_counted_by_reason() -> None:
    with running_server(echo) as server, running_link(server.address, http=True) as link:
        tls = connect(link)
        tls.sendall(b"\x16\x03\x01\x00\x05hello")  # TLS sent to an HTTP link
        assert recv_exactly(tls, 10) == b"\x16\x03\x01\x00\x05hello"  # passed on unchanged
        chunked = connect(link)
        broken = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        chunked.sendall(broken)
        assert recv_exactly(chunked, len(broken)) == broken
        assert wait_for(lambda: link.snapshot()["http_unframed"] == {"not_http": 1, "bad_chunk": 1})
        metrics = AgentMetrics(lambda: [link.snapshot()], lambda: 0).render().decode()
        tls.close()
        chunked.close()
    assert 'ialr_link_http_unframed_total{link="test",reason="not_http"} 1.0' in metrics
    assert 'ialr_link_http_unframed_total{link="test",reason="bad_chunk"} 1.0' in metrics
