"""Options every AWS command takes (region, profile, endpoint override), defined once."""

from __future__ import annotations

from typing import Annotated

import typer

Region = Annotated[
    str | None, typer.Option(help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)")
]
Profile = Annotated[str | None, typer.Option(help="AWS profile (default: AWS_PROFILE)")]
Endpoint = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Endpoint override, e.g. a moto server (AWS_ENDPOINT_URL)"),
]
