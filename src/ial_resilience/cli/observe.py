"""``ialr observe``: dashboards, alarms and tracing set-up on AWS, its cost, the 00c phase."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ial_resilience.alerting.rules import RuleFile, load_rules
from ial_resilience.aws import observability, phases
from ial_resilience.aws._session import DEFAULT_REGION, AwsTarget
from ial_resilience.aws.obs_burn_rate import dimension_sets
from ial_resilience.aws.obs_costs import PRICE_SOURCE, PRICES_AS_OF, Usage
from ial_resilience.aws.obs_scope import BUSINESS_NAMESPACE, Scope
from ial_resilience.cli._aws_options import Endpoint, Profile, Region
from ial_resilience.errors import ExitCode, InputError

app = typer.Typer(
    help="Observability set-up: dashboards, alarms, sampling rules; render the 00c phase.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)

Rules = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="Alert rule file whose burn_rate rules become SLO alarms "
        "(default: the built-in 99.9 % API availability SLO).",
    ),
]
Environment = Annotated[str, typer.Option(help="Environment: names start ialr-<env>-.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _rules(path: Path | None) -> RuleFile | None:
    return None if path is None else load_rules(path)


def _scope(environment: str, region: str | None, email: str, **names: str | None) -> Scope:
    """Default names for ``environment``; each given name (ALB, ECS…) replaces its default."""
    scope = Scope.for_environment(environment, region or DEFAULT_REGION).with_email(email)
    return replace(scope, **{key: value for key, value in names.items() if value})


Name = Annotated[str | None, typer.Option(help="default: derived from --environment")]


def _usd(price: float) -> str:
    return f"${price:.2f}" if price >= 0.01 else f"${price:g}"


def _print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


@app.command("setup")
def setup(
    aws: Annotated[bool, typer.Option("--aws", help="Create the AWS side (required).")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would change; call no mutating API.")
    ] = False,
    rules: Rules = None,
    environment: Environment = "prod",
    email: Annotated[str, typer.Option(help="E-mail subscribed to the alarm topic.")] = "",
    namespace: Annotated[
        str, typer.Option(help="CloudWatch namespace of the rule files' metrics.")
    ] = BUSINESS_NAMESPACE,
    load_balancer: Annotated[
        str | None, typer.Option(help="ALB full name app/<name>/<id> (default: derived)")
    ] = None,
    ecs_cluster: Name = None,
    ecs_service: Name = None,
    aurora_cluster: Name = None,
    dynamodb_table: Name = None,
    log_group: Annotated[
        str | None, typer.Option(help="Application log group (default: /ialr/<env>/app)")
    ] = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:
    """Create dashboards, queries, alarms, SNS, X-Ray rules and Application Insights on AWS.

    Idempotent: only what differs from the desired state is created or updated, and a second
    run says there is nothing to change.
    """
    if not aws:
        raise InputError(
            "nothing to set up: `ialr observe setup` works on AWS only",
            hint="pass --aws (with --dry-run first to see the plan)",
        )
    target = AwsTarget.resolve(region=region, profile=profile, endpoint_url=endpoint_url)
    scope = _scope(
        environment,
        target.region,
        email,
        load_balancer=load_balancer,
        ecs_cluster=ecs_cluster,
        ecs_service=ecs_service,
        aurora_cluster=aurora_cluster,
        dynamodb_table=dynamodb_table,
        log_group=log_group,
    )
    report = observability.setup(target, scope, _rules(rules), dry_run=dry_run, namespace=namespace)
    if as_json:
        _print_json(report.as_json())
        return
    table = Table("kind", "action", "name", title=report.target, title_justify="left")
    for change in report.changes:
        table.add_row(change.kind.value, change.action.value, change.name)
    console.print(table)
    notes = {c.kind.value: c.detail for c in report.changes if c.detail}
    for kind, note in notes.items():
        console.print(f"note: {kind}: {note}", markup=False)
    console.print(("dry run: " if dry_run else "") + report.summary(), markup=False)


@app.command("cost")
def cost(
    rules: Rules = None,
    environment: Environment = "prod",
    traces_per_month: Annotated[
        float, typer.Option(help="Traces recorded by X-Ray per month.")
    ] = 1_000_000,
    traces_scanned_per_month: Annotated[
        float, typer.Option(help="Traces retrieved or scanned per month.")
    ] = 100_000,
    insights_gb: Annotated[
        float, typer.Option(help="GB scanned by Logs Insights queries per month.")
    ] = 10.0,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Cost optimization report instead: every phase's monthly cost by resource "
            "and concrete savings with their effect (markdown; JSON with --json).",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="With --report: write cost-report.md and .json into this dir."),
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="With --report: another price table (same format)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Monthly cost estimate of what `observe setup --aws` creates (us-east-1 list prices).

    `--report` prices every phase in phases/ (rendered from code, at its defaults) with the
    dated table src/ial_resilience/aws/data/prices.json and lists what to change to pay less.
    """
    if report:
        _cost_report(out, prices, as_json)
        return
    try:
        usage = Usage(traces_per_month, traces_scanned_per_month, insights_gb)
    except ValueError as error:
        raise InputError(str(error), hint="give zero or a positive amount") from None
    result = observability.estimate_cost(_scope(environment, None, ""), _rules(rules), usage)
    if as_json:
        _print_json(result.as_json())
        return
    table = Table(
        "item",
        "quantity",
        "unit",
        "unit price",
        "per month",
        title=f"USD, list prices of {PRICES_AS_OF} ({PRICE_SOURCE})",
        title_justify="left",
    )
    for line in result.lines:
        table.add_row(
            line.item,
            f"{line.quantity:g}",
            line.unit,
            _usd(line.unit_price),
            f"${line.monthly:,.2f}",
        )
    console.print(table)
    console.print(f"total: ${result.total:,.2f} per month (free tier not subtracted)")


def _cost_report(out: Path | None, prices: Path | None, as_json: bool) -> None:
    from ial_resilience.aws.cost_report import PRICE_FILE, build_report, render_markdown

    result = build_report(prices or PRICE_FILE)
    document, markdown = result.to_json(), render_markdown(result)
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "cost-report.md").write_text(markdown)
            (out / "cost-report.json").write_text(json.dumps(document, indent=1) + "\n")
        except OSError as error:
            raise InputError(f"cannot write the report into {out}: {error}") from error
        console.print(f"wrote {out / 'cost-report.md'} and {out / 'cost-report.json'}")
    if as_json:
        _print_json(document)
    elif out is None:
        typer.echo(markdown, nl=False)


@app.command("render-phase")
def render_phase(
    output_dir: Annotated[Path, typer.Option(help="Where phases/*.yaml live")] = Path("phases"),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when the file drifted.")] = False,
) -> None:
    """Render phases/00c-enhanced-observability.yaml from code (or --check for drift)."""
    name = observability.PHASE_NAME
    if check:
        drifted = phases.drifted(name, output_dir)
        state = "DRIFTED (render it again)" if drifted else "up to date"
        console.print(f"{output_dir / phases.get_phase(name).filename}: {state}", markup=False)
        if drifted:
            raise typer.Exit(int(ExitCode.DEVIATED))
        return
    console.print(f"wrote {phases.write_phase(name, output_dir)}", markup=False)


@app.command("put-emf")
def put_emf(
    source: Annotated[str, typer.Argument(help="File of EMF JSON lines, or - for stdin.")],
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            help="Also publish the dimension sets this rule file's SLO alarms read "
            "(e.g. http.requests by service alone).",
        ),
    ] = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Publish the metrics of EMF log lines with PutMetricData (where no agent extracts them)."""
    target = AwsTarget.resolve(region=region, profile=profile, endpoint_url=endpoint_url)
    if source == "-":
        lines = sys.stdin.read().splitlines()
    else:
        try:
            lines = Path(source).read_text().splitlines()
        except OSError as error:
            raise InputError(
                f"cannot read {source}: {error.strerror}",
                hint="give a readable file of EMF lines or - for stdin",
            ) from None
    loaded = _rules(rules)
    rollups = None if loaded is None else dimension_sets(loaded)
    count = observability.put_emf(target, lines, rollups)
    console.print(f"published {count} metric datum(s) to {target.describe()}", markup=False)
