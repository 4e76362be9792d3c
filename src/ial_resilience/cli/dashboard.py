"""``ialr dashboard``: the history as a local, read-only web UI, or as CloudWatch dashboards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ial_resilience.cli._aws_options import Endpoint, Profile, Region

DEFAULT_PORT = 8765
HELP = """Serve the history as a local, read-only web UI (Ctrl-C stops it).

Three views, each also JSON under /api: chaos monitoring (/chaos: runs, and per run its
timeline — fault windows, probe samples, guardrail events — from its journal), resilience
scoring (/score: score, parts, formula, trend) and insights (/insights: the analyzer's
recommendations with their evidence, and the KPI scorecard). No login, so it listens on
127.0.0.1 unless --host and --allow-remote say otherwise; pages load nothing from outside.

With --aws-setup it serves nothing and puts the same three views as CloudWatch dashboards
(ialr-<environment>-chaos-monitoring, -resilience-scoring, -insights), drawn from the
metrics the history publishes; --dry-run only prints them.

Exit codes: 3 port in use or bad flag, 4 a non-loopback --host without --allow-remote,
5 history store unreadable (corrupt or locked) or an AWS error.
"""


def register(app: typer.Typer) -> None:
    """Add ``dashboard`` to the root app."""

    @app.command("dashboard", help=HELP)
    def dashboard(
        history: Annotated[
            Path | None,
            typer.Option(
                "--history",
                help="history file (default: $IALR_HISTORY, else the "
                "state dir's history/history.db)",
            ),
        ] = None,
        host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option("--port", help="port to listen on (0: a free one, printed)")
        ] = DEFAULT_PORT,
        allow_remote: Annotated[
            bool, typer.Option("--allow-remote", help="allow a --host other machines can reach")
        ] = False,
        aws_setup: Annotated[
            bool,
            typer.Option("--aws-setup", help="put the three views as CloudWatch dashboards"),
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="with --aws-setup: print, put nothing")
        ] = False,
        environment: Annotated[
            str, typer.Option("--environment", help="with --aws-setup: names ialr-<env>-…")
        ] = "prod",
        region: Region = None,
        profile: Profile = None,
        endpoint_url: Endpoint = None,
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    ) -> None:
        if aws_setup:
            _aws_setup(environment, region, profile, endpoint_url, dry_run, as_json)
            return
        if dry_run:
            from ial_resilience.errors import InputError

            raise InputError("--dry-run only goes with --aws-setup", hint="add --aws-setup")
        _serve(history, host, port, allow_remote, as_json)


def _serve(history: Path | None, host: str, port: int, allow_remote: bool, as_json: bool) -> None:
    from ial_resilience.dashboard import server
    from ial_resilience.dashboard.source import DashboardData, history_backend

    server.check_host(host, allow_remote)
    sock = server.bind(host, port)
    try:
        data = DashboardData(history_backend(history))
        snapshot = data.snapshot()  # a corrupt or locked store fails here, before serving
    except BaseException:
        sock.close()
        raise

    def announce(url: str) -> None:
        if as_json:
            line = {"url": url, "history": str(data.path), "runs": len(snapshot.records)}
            typer.echo(json.dumps(line))
        else:
            typer.echo(f"dashboard on {url} ({len(snapshot.records)} runs from {data.path}); "
                       "Ctrl-C stops it")  # fmt: skip

    server.serve(data, sock, announce)


def _aws_setup(
    environment: str,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    from ial_resilience.aws._session import DEFAULT_REGION, AwsTarget
    from ial_resilience.aws.obs_scope import Scope
    from ial_resilience.aws.resilience_dashboards import put_dashboards

    target = AwsTarget.resolve(region, profile, endpoint_url)
    scope = Scope.for_environment(environment, target.region or DEFAULT_REGION)
    done = put_dashboards(target, scope, dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "dashboards": [d.to_json() for d in done]}))
        return
    verb = "would put" if dry_run else "put"
    for dashboard in done:
        widgets = dashboard.to_json()["widgets"]
        typer.echo(f"{verb} dashboard {dashboard.name} ({widgets} widgets) in {target.describe()}")
