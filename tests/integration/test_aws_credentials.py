"""Missing AWS credentials and an endpoint that does not answer: clear errors, right exit codes."""

from __future__ import annotations

import socket

import pytest

from ial_resilience.aws import dynamodb
from ial_resilience.aws._session import AwsCredentialsError, AwsTarget, AwsUnreachable
from ial_resilience.cli.main import main
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.aws
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                        "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
                        "AWS_ROLE_ARN")  # fmt: skip


@pytest.fixture
def no_credentials(aws_env: AwsTarget, monkeypatch: pytest.MonkeyPatch) -> AwsTarget:  # noqa: F811
    """The moto target, with every credential source emptied (config files are empty)."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return aws_env


def test_missing_credentials_name_what_to_set(no_credentials: AwsTarget) -> None:
    with pytest.raises(AwsCredentialsError) as caught:
        dynamodb.pitr_status(no_credentials, "orders")
    assert "no usable AWS credentials" in caught.value.message
    assert "AWS_PROFILE" in caught.value.hint and "AWS_ACCESS_KEY_ID" in caught.value.hint


def test_cli_without_credentials_exits_5_with_a_hint(
    no_credentials: AwsTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backup", "aws", "audit", "--endpoint-url", str(no_credentials.endpoint_url)])
    err = capsys.readouterr().err
    assert code == 5
    assert "Error: cannot list buckets: no usable AWS credentials" in err
    assert "Hint:" in err and "AWS_ACCESS_KEY_ID" in err
    assert "Traceback" not in err


def test_unknown_profile_is_a_credentials_error(
    no_credentials: AwsTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["recovery", "aws", "dynamodb", "orders", "--profile", "nope",
                 "--endpoint-url", str(no_credentials.endpoint_url)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 5 and "nope" in err and "list-profiles" in err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_endpoint_that_does_not_answer(aws_env: AwsTarget) -> None:  # noqa: F811
    dead = AwsTarget(region="us-east-1", endpoint_url=f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(AwsUnreachable) as caught:
        dynamodb.pitr_status(dead, "orders")
    assert dead.endpoint_url is not None and dead.endpoint_url in caught.value.message
    assert "--endpoint-url" in caught.value.hint
