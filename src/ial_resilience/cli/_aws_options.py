"""Options every AWS command takes (region, profile, endpoint override), defined once.

``Region``, ``Profile`` and ``Endpoint`` are for commands that always talk to AWS. The
``Repo*`` variants are the same options shown in their own help panel, for ``ialr backup``
commands whose ``--repo`` may be an S3 URL.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

REGION_HELP = "AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)"
PROFILE_HELP = "AWS profile (default: AWS_PROFILE)"
ENDPOINT_HELP = "Endpoint override, e.g. a moto server (AWS_ENDPOINT_URL)"
S3_REPOSITORY_PANEL = "S3 repository (--repo s3://BUCKET/PREFIX)"


def _region(panel: str | None = None) -> Any:
    return typer.Option("--region", help=REGION_HELP, rich_help_panel=panel)


def _profile(panel: str | None = None) -> Any:
    return typer.Option("--profile", help=PROFILE_HELP, rich_help_panel=panel)


def _endpoint(panel: str | None = None) -> Any:
    return typer.Option("--endpoint-url", help=ENDPOINT_HELP, rich_help_panel=panel)


Region = Annotated[str | None, _region()]
Profile = Annotated[str | None, _profile()]
Endpoint = Annotated[str | None, _endpoint()]

RepoRegion = Annotated[str | None, _region(S3_REPOSITORY_PANEL)]
RepoProfile = Annotated[str | None, _profile(S3_REPOSITORY_PANEL)]
RepoEndpoint = Annotated[str | None, _endpoint(S3_REPOSITORY_PANEL)]
