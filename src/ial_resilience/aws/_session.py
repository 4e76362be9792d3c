"""boto3 clients for every AWS part, and the one boundary where botocore errors are translated.

``AwsTarget`` says where to talk to (region, profile, endpoint override); ``client()`` builds a
client for it; ``aws_call()`` is the only place botocore exceptions become
:mod:`ial_resilience.errors` types, each with a message naming what to set or do::

    ProviderError
    └── AwsError                 an AWS API call failed (``code`` holds the AWS error code)
        ├── AwsCredentialsError  no credentials / profile not found / credentials refused
        └── AwsUnreachable       nothing answers at the endpoint
    InputError                   a value AWS would refuse (botocore parameter validation)
    └── AwsNotFound              the table, bucket, key or backup named does not exist
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from ial_resilience.errors import InputError, ProviderError

DEFAULT_REGION = "us-east-1"
CREDENTIALS_HINT = (
    "set AWS_PROFILE to a profile in ~/.aws/config (or pass --profile), or set "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
    "credentials); with SSO run `aws sso login` first"
)
_NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "TableNotFoundException",
        "SourceTableNotFoundException",
        "BackupNotFoundException",
        "NoSuchBucket",
        "NoSuchKey",
        "NoSuchVersion",
        "NoSuchEntity",
        "404",
    }
)
_AUTH_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "AccessDenied",
        "AccessDeniedException",
    }
)


class AwsError(ProviderError):
    """An AWS API call failed; ``code`` is the AWS error code (empty when there is none)."""

    def __init__(self, message: str, *, code: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.code = code


class AwsCredentialsError(AwsError):
    pass


class AwsUnreachable(AwsError):
    pass


class AwsNotFound(InputError):
    def __init__(self, message: str, *, code: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.code = code


@dataclass(frozen=True)
class AwsTarget:
    """Where AWS calls go. ``endpoint_url`` overrides AWS (moto, LocalStack, VPC endpoints)."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def resolve(
        cls, region: str | None = None, profile: str | None = None, endpoint_url: str | None = None
    ) -> AwsTarget:
        """Flags first, then ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``."""
        env_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return cls(
            region=region or env_region or None,
            profile=profile or None,
            endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
        )

    def in_region(self, region: str) -> AwsTarget:
        return AwsTarget(region=region, profile=self.profile, endpoint_url=self.endpoint_url)

    def describe(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"{where} (region {self.region or DEFAULT_REGION})"


_CONFIG = Config(
    retries={"max_attempts": 4, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="ial-resilience",
)


_ENVIRONMENT_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)
_clients: dict[tuple[str, AwsTarget, tuple[str | None, ...]], Any] = {}
_clients_lock = threading.Lock()


def client(service: str, target: AwsTarget) -> Any:
    """A boto3 client for ``service`` at ``target``, reused while the AWS environment is the
    same (clients are thread-safe; building one costs tens of milliseconds)."""
    key = (service, target, tuple(os.environ.get(name) for name in _ENVIRONMENT_KEYS))
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = _new_client(service, target)
        return found


def _new_client(service: str, target: AwsTarget) -> Any:
    with aws_call(f"open an AWS session for {service}", target):
        session: Any = boto3.session.Session(profile_name=target.profile)
        region = target.region or session.region_name or DEFAULT_REGION
        return session.client(
            service, region_name=region, endpoint_url=target.endpoint_url, config=_CONFIG
        )


@contextmanager
def aws_call(action: str, target: AwsTarget) -> Iterator[None]:
    """Run AWS calls; translate every botocore error into our tree (``raise … from``)."""
    try:
        yield
    except ClientError as error:
        raise _from_client_error(error, action, target) from error
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise AwsCredentialsError(
            f"cannot {action}: no usable AWS credentials for {target.describe()} ({error})",
            hint=CREDENTIALS_HINT,
        ) from error
    except ProfileNotFound as error:
        raise AwsCredentialsError(
            f"cannot {action}: {error}",
            hint="set AWS_PROFILE/--profile to a profile listed by `aws configure list-profiles`",
        ) from error
    except NoRegionError as error:
        raise AwsError(
            f"cannot {action}: no AWS region configured",
            hint="pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)",
        ) from error
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as error:
        raise AwsUnreachable(
            f"cannot {action}: nothing answers at {target.describe()} ({error})",
            hint="check --endpoint-url / AWS_ENDPOINT_URL, the network and the region",
        ) from error
    except ParamValidationError as error:
        raise InputError(
            f"cannot {action}: {error}", hint="correct the value named above and try again"
        ) from error
    except BotoCoreError as error:
        raise AwsError(f"cannot {action} at {target.describe()}: {error}") from error


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _from_client_error(
    error: ClientError, action: str, target: AwsTarget
) -> AwsError | AwsNotFound:
    code = error_code(error)
    text = error.response.get("Error", {}).get("Message", "") or str(error)
    message = f"cannot {action}: {code}: {text} ({target.describe()})"
    if code in _NOT_FOUND_CODES:
        return AwsNotFound(message, code=code, hint="check the name and the region (--region)")
    if code in _AUTH_CODES:
        return AwsCredentialsError(
            message,
            code=code,
            hint=f"the credentials were refused or lack permission; {CREDENTIALS_HINT}",
        )
    return AwsError(message, code=code, hint="see the AWS error code above")
