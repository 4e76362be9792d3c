"""AWS side of ial-resilience: boto3 clients, CloudFormation phases, DynamoDB, S3.

Public API::

    AwsTarget.resolve(region, profile, endpoint_url)   where calls go (moto: endpoint_url)
    client(service, target)                            a boto3 client (reused per environment)
    aws_call(action, target)                           the botocore → ial_resilience.errors boundary
    AwsError, AwsCredentialsError, AwsUnreachable, AwsNotFound
    cfn.Template, cfn.render_yaml                      CloudFormation builder and renderer
    phases.register_phase(name, build), phases.render_phase(name)
"""

from ial_resilience.aws._session import (
    AwsCredentialsError,
    AwsError,
    AwsNotFound,
    AwsTarget,
    AwsUnreachable,
    aws_call,
    client,
)

__all__ = [
    "AwsCredentialsError",
    "AwsError",
    "AwsNotFound",
    "AwsTarget",
    "AwsUnreachable",
    "aws_call",
    "client",
]
