"""The one botocore boundary: every foreign error becomes ours, with a message that helps."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ProfileNotFound,
)

from ial_resilience.aws._session import (
    AwsCredentialsError,
    AwsError,
    AwsNotFound,
    AwsTarget,
    AwsUnreachable,
    aws_call,
)
from ial_resilience.errors import ExitCode, InputError

TARGET = AwsTarget(region="eu-west-1", endpoint_url="http://127.0.0.1:1")


def _client_error(code: str, message: str = "boom") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeTable")


def _raise(error: Exception) -> None:
    with aws_call("describe table 'orders'", TARGET):
        raise error


def test_missing_credentials_name_what_to_set() -> None:
    with pytest.raises(AwsCredentialsError) as caught:
        _raise(NoCredentialsError())
    assert "describe table 'orders'" in caught.value.message
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert name in caught.value.hint
    assert caught.value.exit_code is ExitCode.PROVIDER_ERROR
    assert isinstance(caught.value.__cause__, NoCredentialsError)


def test_unknown_profile_says_how_to_list_profiles() -> None:
    with pytest.raises(AwsCredentialsError) as caught:
        _raise(ProfileNotFound(profile="nope"))
    assert "nope" in caught.value.message
    assert "list-profiles" in caught.value.hint


def test_refused_credentials_are_credential_errors() -> None:
    with pytest.raises(AwsCredentialsError) as caught:
        _raise(_client_error("UnrecognizedClientException", "The security token is invalid"))
    assert caught.value.code == "UnrecognizedClientException"
    assert "AWS_PROFILE" in caught.value.hint


def test_not_found_is_input_error_naming_the_region() -> None:
    with pytest.raises(AwsNotFound) as caught:
        _raise(_client_error("ResourceNotFoundException", "Requested resource not found"))
    assert caught.value.exit_code is ExitCode.INVALID_INPUT
    assert "eu-west-1" in caught.value.message
    assert "--region" in caught.value.hint


def test_other_client_errors_keep_their_code() -> None:
    with pytest.raises(AwsError) as caught:
        _raise(_client_error("InvalidRestoreTimeException", "too late"))
    assert caught.value.code == "InvalidRestoreTimeException"
    assert "too late" in caught.value.message


def test_unreachable_endpoint_names_the_endpoint() -> None:
    with pytest.raises(AwsUnreachable) as caught:
        _raise(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert "http://127.0.0.1:1" in caught.value.message
    assert "--endpoint-url" in caught.value.hint


def test_missing_region_says_how_to_set_it() -> None:
    with pytest.raises(AwsError) as caught:
        _raise(NoRegionError())
    assert "AWS_REGION" in caught.value.hint


def test_resolve_prefers_flags_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    from_env = AwsTarget.resolve()
    assert (from_env.region, from_env.endpoint_url) == ("ap-south-1", "http://127.0.0.1:9")
    flags = AwsTarget.resolve(region="us-west-2", endpoint_url="http://127.0.0.1:8")
    assert (flags.region, flags.endpoint_url) == ("us-west-2", "http://127.0.0.1:8")
    assert flags.in_region("eu-north-1").endpoint_url == "http://127.0.0.1:8"


def test_parameter_validation_is_invalid_input() -> None:
    with pytest.raises(InputError, match="BackupName"):
        _raise(ParamValidationError(report="Invalid length for parameter BackupName"))
