"""A real moto server on a free loopback port for the whole test session.

Use in a test module with ``from tests.aws_fixtures import aws_env, moto_endpoint  # noqa``.
boto3 talks HTTP to it like to AWS (no ``mock_aws`` patching). ``aws_env`` gives each test fake
credentials and an isolated AWS config (no real profile or credential file is read) and yields
an :class:`AwsTarget` pointing at the server; the environment is restored after the test.
"""

from __future__ import annotations

import atexit
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from moto.server import ThreadedMotoServer

from ial_resilience.aws._session import AwsTarget

REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(endpoint: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=1.0)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


_shared: dict[str, str] = {}
_shared_lock = threading.Lock()


def shared_moto_endpoint() -> str:
    """Start the one moto server of this test process (first call) and return its endpoint.

    Test modules import the fixtures below, so pytest sees one session fixture per module;
    the server itself is started once and stopped when the process exits.
    """
    with _shared_lock:
        if "endpoint" not in _shared:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
            port = _free_port()
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            atexit.register(server.stop)
            endpoint = f"http://127.0.0.1:{port}"
            _wait_until_serving(endpoint)
            _shared["endpoint"] = endpoint
        return _shared["endpoint"]


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    """The endpoint URL of the moto server shared by every AWS test of the session."""
    return shared_moto_endpoint()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsTarget]:
    """Fake credentials and an empty AWS config for one test; yields the moto target."""
    with tempfile.TemporaryDirectory(prefix="ialr-aws-") as home:
        config = Path(home) / "config"
        credentials = Path(home) / "credentials"
        config.write_text("")
        credentials.write_text("")
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield AwsTarget(region=REGION, endpoint_url=moto_endpoint)
