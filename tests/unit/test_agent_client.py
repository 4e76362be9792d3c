"""AgentClient's error translation, against a real local HTTP server that misbehaves on cue."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ial_resilience.agent.client import AgentClient
from ial_resilience.agent.state import AgentInfo, write_agent_info, write_token
from ial_resilience.errors import (
    AgentAuthError,
    AgentProtocolError,
    AgentUnreachable,
    FaultRejected,
    InputError,
    ProviderError,
)

# path → (status, body) the fake agent answers
ANSWERS: dict[str, tuple[int, bytes]] = {}


class FakeAgent(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        status, body = ANSWERS.get(self.path, (404, b'{"error": {"code": "x", "message": "nope"}}'))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAgent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    ANSWERS.clear()


def error(message: str) -> bytes:
    return json.dumps({"error": {"code": "c", "message": message}}).encode()


def test_nothing_listening_is_unreachable_with_the_hint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        AgentClient(f"http://127.0.0.1:{port}", "t") as client,
        pytest.raises(AgentUnreachable) as caught,
    ):
        client.health()
    assert "no agent answers at" in caught.value.message
    assert "ialr agent run" in caught.value.hint


def test_a_silent_server_times_out_as_unreachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with AgentClient(url, "t", timeout=0.2) as client, pytest.raises(AgentUnreachable):
            client.status()


def test_statuses_and_bodies_are_translated(fake_url: str) -> None:
    ANSWERS.update({
        "/v1/status": (200, b"<html>hello</html>"),
        "/v1/health": (200, b'{"ok": true}'),
        "/v1/faults": (422, error("memory fault: above the bound")),
        "/v1/links": (409, error("a link named 'a' already exists")),
        "/v1/processes": (500, error("internal error")),
        "/v1/faults/revert-all": (401, error("wrong token")),
        "/v1/faults/x": (404, b"not json either"),
    })  # fmt: skip
    with AgentClient(fake_url, "t") as client:
        with pytest.raises(AgentProtocolError, match="not JSON"):
            client.status()
        with pytest.raises(AgentProtocolError, match="unexpected shape"):
            client.health()
        with pytest.raises(FaultRejected, match="above the bound"):
            client.apply_faults([{"kind": "memory"}])
        with pytest.raises(InputError, match="already exists"):
            client.create_link("a", "127.0.0.1:0", "127.0.0.1:1")
        with pytest.raises(ProviderError, match="HTTP 500"):
            client.processes()
        with pytest.raises(AgentAuthError, match="refused the token"):
            client.revert_all()
        with pytest.raises(AgentProtocolError):
            client.fault("x")


def test_wrong_shapes_inside_lists_are_protocol_errors(fake_url: str) -> None:
    ANSWERS["/v1/faults"] = (200, b'[{"id": "a"}]')
    ANSWERS["/v1/faults/revert-all"] = (200, b'{"reverted": 3}')
    with AgentClient(fake_url, "t") as client:
        with pytest.raises(AgentProtocolError):
            client.faults()
        with pytest.raises(AgentProtocolError):
            client.revert_all()


def test_from_state_dir(tmp_path: Path, fake_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AgentUnreachable, match="no agent is running") as caught:
        AgentClient.from_state_dir(tmp_path)
    assert "ialr agent run" in caught.value.hint
    write_agent_info(tmp_path, AgentInfo(url=fake_url, pid=1))
    with pytest.raises(AgentUnreachable, match="agent token"):
        AgentClient.from_state_dir(tmp_path)
    write_token(tmp_path)
    monkeypatch.setenv("IALR_STATE_DIR", str(tmp_path))
    ANSWERS["/v1/health"] = (200, b'{"ok": true, "pid": 1, "version": "0"}')
    with AgentClient.from_state_dir(None) as client:
        assert client.url == fake_url
        assert client.health()["ok"] is True
