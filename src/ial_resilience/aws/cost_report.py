"""The cost optimization report: what each phase costs per month, by resource, and what to
change to pay less, each saving with its estimated effect.

Every figure comes from the phases' own templates (rendered from code, at their parameters'
defaults) and the one dated price table ``aws/data/prices.json`` (prices and the usage the
templates cannot know: requests per month, GB stored…). Resource types that cost nothing by
themselves (IAM, SNS topics, X-Ray groups…) are listed at $0; a type the table does not price
is listed as "not priced", never silently left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ial_resilience.aws import phases
from ial_resilience.aws.cfn import And, Equals, GetAtt, If, Not, Ref, Sub, Template
from ial_resilience.aws.obs_costs import (
    ANOMALY_ALARM_METRICS,
    PRICE_FILE,
    alarm_metrics,
    high_resolution,
    load_prices,
)
from ial_resilience.errors import InputError

__all__ = ["PRICE_FILE", "Report", "build_report", "render_markdown"]

FREE = frozenset(
    {
        "AWS::SNS::Topic",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::KMS::Alias",
        "AWS::S3::BucketPolicy",
        "AWS::Backup::BackupVault",
        "AWS::Backup::BackupSelection",
        "AWS::XRay::Group",
        "AWS::XRay::SamplingRule",
        "AWS::ApplicationInsights::Application",
        "AWS::ResourceGroups::Group",
        "AWS::Logs::QueryDefinition",
        "AWS::Scheduler::Schedule",
    }
)
DAYS = 30.0
NEVER_EXPIRE_DAYS = 365.0  # a log group without retention: a year of logs, as a horizon


@dataclass(frozen=True)
class Line:
    phase: str
    resource: str
    type: str
    monthly: float | None  # None: not priced
    basis: str

    def to_json(self) -> dict[str, Any]:
        monthly = None if self.monthly is None else round(self.monthly, 2)
        return {"resource": self.resource, "type": self.type, "monthly_usd": monthly,
                "basis": self.basis}  # fmt: skip


@dataclass(frozen=True)
class Saving:
    phase: str
    resource: str
    what: str
    change: str
    before: float
    after: float

    @property
    def effect(self) -> float:
        return self.before - self.after

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase, "resource": self.resource, "what": self.what,
                "change": self.change, "monthly_before_usd": round(self.before, 2),
                "monthly_after_usd": round(self.after, 2),
                "saves_usd_per_month": round(self.effect, 2)}  # fmt: skip


@dataclass
class Report:
    table: dict[str, Any]
    lines: list[Line] = field(default_factory=list)
    savings: list[Saving] = field(default_factory=list)

    def phase_total(self, phase: str) -> float:
        return sum(line.monthly or 0.0 for line in self.lines if line.phase == phase)

    @property
    def total(self) -> float:
        return sum(line.monthly or 0.0 for line in self.lines)

    @property
    def phases(self) -> list[str]:
        return list(dict.fromkeys(line.phase for line in self.lines))

    def to_json(self) -> dict[str, Any]:
        saved = sum(s.effect for s in self.savings)
        return {
            "currency": self.table.get("currency", "USD"),
            "prices_as_of": self.table["prices_as_of"],
            "region": self.table.get("region"),
            "price_source": self.table["source"],
            "usage": self.table["usage"],
            "phases": [
                {
                    "phase": phase,
                    "monthly_total_usd": round(self.phase_total(phase), 2),
                    "resources": [ln.to_json() for ln in self.lines if ln.phase == phase],
                }
                for phase in self.phases
            ],
            "monthly_total_usd": round(self.total, 2),
            "savings": [s.to_json() for s in sorted(self.savings, key=lambda s: -s.effect)],
            "savings_total_usd": round(saved, 2),
            "monthly_total_after_savings_usd": round(self.total - saved, 2),
        }


# -- resolving a template at its defaults ---------------------------------------------------
class _Resolver:
    def __init__(self, template: Template) -> None:
        self.defaults = {k: v.get("Default") for k, v in template.parameters.items()}
        self.conditions = template.conditions

    def value(self, item: Any) -> Any:
        if isinstance(item, Ref):
            return self.defaults.get(item.name, item.name)
        if isinstance(item, If):
            chosen = item.then if self.truth(self.conditions[item.condition]) else item.otherwise
            return self.value(chosen)
        if isinstance(item, Sub):
            return re.sub(r"\$\{([\w:]+)\}", lambda m: str(self.defaults.get(m[1]) or m[0]),
                          item.text)  # fmt: skip
        if isinstance(item, GetAtt):
            return f"{item.resource}.{item.attribute}"
        if isinstance(item, Mapping):
            return {k: self.value(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [self.value(v) for v in item]
        return item

    def truth(self, expression: Any) -> bool:
        if isinstance(expression, Equals):
            return str(self.value(expression.left)) == str(self.value(expression.right))
        if isinstance(expression, Not):
            return not self.truth(expression.condition)
        if isinstance(expression, And):
            return all(self.truth(c) for c in expression.conditions)
        if isinstance(expression, str):
            return self.truth(self.conditions[expression])
        return bool(expression)


def _number(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


# -- prices per resource type ----------------------------------------------------------------
Pricer = Callable[[dict[str, Any], dict[str, float], dict[str, Any]], tuple[float, str]]


def _dashboard(props: dict[str, Any], p: dict[str, float], u: dict[str, Any]) -> tuple[float, str]:
    return p["cloudwatch_dashboard_month"], "1 dashboard-month"


def _alarm(props: dict[str, Any], p: dict[str, float], u: dict[str, Any]) -> tuple[float, str]:
    count = ANOMALY_ALARM_METRICS if "ThresholdMetricId" in props else alarm_metrics(props)
    if high_resolution(props):
        price, kind = p["cloudwatch_high_resolution_alarm_metric_month"], "high-resolution"
    else:
        price, kind = p["cloudwatch_alarm_metric_month"], "standard"
    return count * price, f"{count} {kind} alarm metric(s)"


def _composite(props: dict[str, Any], p: dict[str, float], u: dict[str, Any]) -> tuple[float, str]:
    return p["cloudwatch_composite_alarm_month"], "1 composite alarm-month"


def log_gb_per_day(name: str, usage: Mapping[str, Any]) -> float:
    """GB a log group ingests per day: ``usage.log_gb_ingested_per_day`` maps log group name
    prefixes to GB/day (the longest matching prefix wins; ``*`` for every other group)."""
    table = usage["log_gb_ingested_per_day"]
    if not isinstance(table, Mapping):
        return float(table)
    prefixes = [k for k in table if k != "*" and name.startswith(k)]
    return float(table[max(prefixes, key=len)] if prefixes else table["*"])


def log_group_cost(
    retention_days: float | None, p: Mapping[str, float], u: Mapping[str, Any], name: str = ""
) -> tuple[float, str]:
    """(monthly $, basis) of a log group: ingestion plus what its retention keeps stored."""
    per_day = log_gb_per_day(name, u)
    kept = NEVER_EXPIRE_DAYS if retention_days is None else retention_days
    ingest = per_day * DAYS * p["logs_ingest_per_gb"]
    stored = per_day * kept * p["logs_storage_per_gb_month"]
    keep = "never expire (a year counted)" if retention_days is None else f"{kept:g} days kept"
    return ingest + stored, f"{per_day:g} GB/day ingested, {keep}"


def _log_group(props: dict[str, Any], p: dict[str, float], u: dict[str, Any]) -> tuple[float, str]:
    days = props.get("RetentionInDays")
    kept = None if days is None else _number(days, NEVER_EXPIRE_DAYS)
    return log_group_cost(kept, p, u, str(props.get("LogGroupName", "")))


def _bucket(props: dict[str, Any], p: dict[str, float], u: dict[str, Any]) -> tuple[float, str]:
    gb, share = float(u["s3_data_gb"]), float(u["s3_noncurrent_share"])
    versioned = props.get("VersioningConfiguration", {}).get("Status") == "Enabled"
    stored = gb * (1 + share) if versioned else gb
    basis = f"{gb:g} GB current" + (f" + {share:.0%} noncurrent versions" if versioned else "")
    return stored * p["s3_standard_per_gb_month"], basis + " in S3 Standard"


def backup_points(props: dict[str, Any]) -> tuple[float, float]:
    """(warm, cold) recovery points a backup plan keeps at steady state."""
    warm = cold = 0.0
    for rule in props.get("BackupPlan", {}).get("BackupPlanRule", []):
        expression = str(rule.get("ScheduleExpression", ""))
        every = 30.0 if " 1 * ? *" in expression else 7.0 if "?" in expression.split()[2] else 1.0
        keep = _number(rule.get("Lifecycle", {}).get("DeleteAfterDays"), 35.0)
        to_cold = rule.get("Lifecycle", {}).get("MoveToColdStorageAfterDays")
        if to_cold is None:
            warm += keep / every
        else:
            days_warm = _number(to_cold, keep)
            warm += days_warm / every
            cold += max(keep - days_warm, 0.0) / every
    return warm, cold


def _backup_plan(
    props: dict[str, Any], p: Mapping[str, float], u: Mapping[str, Any]
) -> tuple[float, str]:
    warm, cold = backup_points(props)
    gb = float(u["backup_source_gb"])
    cost = gb * (warm * p["backup_dynamodb_warm_per_gb_month"]
                 + cold * p["backup_dynamodb_cold_per_gb_month"])  # fmt: skip
    return cost, f"{warm:.0f} warm + {cold:.0f} cold recovery points of {gb:g} GB (full copies)"


def _table(props: dict[str, Any], p: dict[str, float], u: dict[str, Any]) -> tuple[float, str]:
    gb = float(u["dynamodb_table_gb"])
    pitr = bool(props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"))
    cost = gb * (p["dynamodb_storage_per_gb_month"] + (p["dynamodb_pitr_per_gb_month"] * pitr))
    return cost, f"{gb:g} GB stored{', PITR on' if pitr else ''} (requests not counted)"


def _kms(props: dict[str, Any], p: dict[str, float], u: dict[str, Any]) -> tuple[float, str]:
    return p["kms_key_month"], "1 key-month (requests not counted)"


PRICERS: dict[str, Pricer] = {
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::CompositeAlarm": _composite,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::S3::Bucket": _bucket,
    "AWS::Backup::BackupPlan": _backup_plan,
    "AWS::DynamoDB::Table": _table,
    "AWS::KMS::Key": _kms,
}


# -- traffic-driven lines (what a phase makes AWS bill by use) -------------------------------
def _rule_share(rule: Mapping[str, Any], mix: Mapping[str, float]) -> float:
    key = f"{rule.get('HTTPMethod', '*')} {rule.get('URLPath', '*')}"
    return float(mix.get(key, 0.0))


def traces_recorded(rules: list[dict[str, Any]], usage: Mapping[str, Any]) -> float:
    """Traces per month the sampling rules record: each rule's FixedRate × its share of
    requests (``usage.request_mix``, keyed "METHOD PATH" as the rules match)."""
    requests = float(usage["requests_per_month"])
    mix = usage.get("request_mix", {})
    return sum(requests * _rule_share(r, mix) * _number(r.get("FixedRate"), 0.0) for r in rules)


def _usage_lines(phase: str, resources: dict[str, dict[str, Any]], report: Report) -> None:
    p, u = report.table["prices"], report.table["usage"]
    rules = [r["SamplingRule"] for r in _typed(resources, "AWS::XRay::SamplingRule")]
    if rules:
        recorded = traces_recorded(rules, u)
        cost = recorded / 1e6 * p["xray_per_million_recorded"]
        scanned = float(u["traces_scanned_per_month"]) / 1e6 * p["xray_per_million_scanned"]
        basis = f"{recorded:,.0f} traces recorded (sampling rules × request mix), scans"
        report.lines.append(Line(phase, "X-Ray traces", "usage", cost + scanned, basis))
        _sampling_saving(phase, rules, report, cost)
    if _typed(resources, "AWS::Logs::QueryDefinition"):
        gb = float(u["insights_gb_scanned_per_month"])
        cost = gb * p["logs_insights_per_gb_scanned"]
        report.lines.append(Line(phase, "Logs Insights scans", "usage", cost, f"{gb:g} GB"))
    if _typed(resources, "AWS::FIS::ExperimentTemplate"):
        minutes = float(u["fis_action_minutes_per_month"])
        cost = minutes * p["fis_per_action_minute"]
        basis = f"{minutes:g} action-minutes of experiments per month"
        report.lines.append(Line(phase, "FIS experiments run", "usage", cost, basis))


def _typed(resources: dict[str, dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in resources.values() if r["Type"] == type_]


# -- savings ----------------------------------------------------------------------------------
def _sampling_saving(phase: str, rules: list[dict[str, Any]], report: Report, cost: float) -> None:
    catch_all = [r for r in rules if r.get("HTTPMethod") == "*" and r.get("URLPath") == "*"]
    if not catch_all or _number(catch_all[0].get("FixedRate"), 0.0) <= 0:
        return
    rule = catch_all[0]
    rate = _number(rule.get("FixedRate"), 0.0)
    halved = [{**r, "FixedRate": rate / 2} if r is rule else r for r in rules]
    after = traces_recorded(halved, report.table["usage"]) / 1e6
    after *= report.table["prices"]["xray_per_million_recorded"]
    report.savings.append(Saving(
        phase, str(rule.get("RuleName", "sampling rule")), "trace sampling ratio",
        f"catch-all rule FixedRate {rate:g} → {rate / 2:g} (errors and writes keep their own "
        "rules; the reservoir still records the first request each second)", cost, after,
    ))  # fmt: skip


def _savings(phase: str, resources: dict[str, dict[str, Any]], report: Report) -> None:
    p, u = report.table["prices"], report.table["usage"]
    for name, resource in resources.items():
        props, type_ = resource.get("Properties", {}), resource["Type"]
        if type_ == "AWS::Logs::LogGroup":
            days = props.get("RetentionInDays")
            kept = None if days is None else _number(days, NEVER_EXPIRE_DAYS)
            if kept is None or kept > 30:
                group = str(props.get("LogGroupName", ""))
                before, _ = log_group_cost(kept, p, u, group)
                after, _ = log_group_cost(30.0, p, u, group)
                what = "never" if kept is None else f"{kept:g} days"
                report.savings.append(Saving(phase, name, "log retention",
                    f"RetentionInDays {what} → 30 (export older logs to S3 if needed)",
                    before, after))  # fmt: skip
        elif type_ == "AWS::CloudWatch::Alarm" and high_resolution(props):
            count = alarm_metrics(props)
            report.savings.append(Saving(phase, name, "metric resolution",
                "alarm period under 60 s → 60 s (standard resolution)",
                count * p["cloudwatch_high_resolution_alarm_metric_month"],
                count * p["cloudwatch_alarm_metric_month"]))  # fmt: skip
        elif type_ == "AWS::S3::Bucket":
            gb, old = float(u["s3_data_gb"]), float(u.get("s3_share_older_than_30d", 0.5))
            before = gb * old * p["s3_standard_per_gb_month"]
            after = gb * old * p["s3_standard_ia_per_gb_month"]
            report.savings.append(Saving(phase, name, "S3 lifecycle tiers",
                f"transition objects older than 30 days ({old:.0%} of the data) to STANDARD_IA",
                before, after))  # fmt: skip
        elif type_ == "AWS::Backup::BackupPlan":
            _backup_saving(phase, name, props, report)


def _backup_saving(phase: str, name: str, props: dict[str, Any], report: Report) -> None:
    p, u = report.table["prices"], report.table["usage"]
    rules = props.get("BackupPlan", {}).get("BackupPlanRule", [])
    weekly = [r for r in rules if r.get("RuleName") == "weekly"]
    if not weekly or "MoveToColdStorageAfterDays" in weekly[0].get("Lifecycle", {}):
        return
    before, _ = _backup_plan(props, p, u)
    lifecycle = {**weekly[0]["Lifecycle"], "MoveToColdStorageAfterDays": 30}
    changed = [{**r, "Lifecycle": lifecycle} if r is weekly[0] else r for r in rules]
    after, _ = _backup_plan({"BackupPlan": {"BackupPlanRule": changed}}, p, u)
    report.savings.append(Saving(phase, name, "backup lifecycle tiers",
        "weekly recovery points to cold storage after 30 days (restores from cold take "
        "longer: keep dailies warm for the RTO)", before, after))  # fmt: skip


# -- the report ---------------------------------------------------------------------------------
def build_report(price_file: Path = PRICE_FILE, names: list[str] | None = None) -> Report:
    """Every registered phase (or ``names``) priced at its defaults with ``price_file``."""
    report = Report(load_prices(price_file))
    bundled = load_prices(PRICE_FILE)
    for section in ("prices", "usage"):
        missing = sorted(set(bundled[section]) - set(report.table[section]))
        if missing:
            raise InputError(
                f"price file {price_file}: {section} lacks {', '.join(missing)}",
                hint=f"copy {PRICE_FILE} and change the figures you need",
            )
    for name in names or sorted(phases.PHASES):
        template = phases.get_phase(name).build()
        resolver = _Resolver(template)
        resources = {k: resolver.value(v) for k, v in template.resources.items()}
        for logical, resource in resources.items():
            type_ = resource["Type"]
            pricer = PRICERS.get(type_)
            if pricer is not None:
                cost, basis = pricer(resource.get("Properties", {}), report.table["prices"],
                                     report.table["usage"])  # fmt: skip
                report.lines.append(Line(name, logical, type_, cost, basis))
            elif type_ in FREE or type_ == "AWS::FIS::ExperimentTemplate":
                report.lines.append(Line(name, logical, type_, 0.0, "no charge by itself"))
            else:
                report.lines.append(Line(name, logical, type_, None, "not priced"))
        _usage_lines(name, resources, report)
        _savings(name, resources, report)
    return report


def render_markdown(report: Report) -> str:
    data = report.to_json()
    out = [
        "# Cost optimization report",
        "",
        "Generated by `ialr observe cost --report` from the phases rendered from code (at their",
        "parameters' defaults) and the price table `src/ial_resilience/aws/data/prices.json`",
        f"(prices as of {data['prices_as_of']}, {data['region']}, {data['currency']}; "
        "free tier not subtracted).",
        "Usage assumptions (requests, GB stored) are in the same file; change them there (or",
        "pass `--prices FILE`) and run the command again.",
        "",
        f"**Monthly total: ${data['monthly_total_usd']:,.2f}**; with every saving below: "
        f"${data['monthly_total_after_savings_usd']:,.2f} "
        f"(saves ${data['savings_total_usd']:,.2f} a month).",
        "",
        "## Savings",
        "",
        "| phase | resource | what | change | $/month now | after | saves |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for s in data["savings"]:
        out.append(
            f"| {s['phase']} | {s['resource']} | {s['what']} | {s['change']} | "
            f"{s['monthly_before_usd']:.2f} | {s['monthly_after_usd']:.2f} | "
            f"{s['saves_usd_per_month']:.2f} |"
        )
    for phase in data["phases"]:
        out += ["", f"## {phase['phase']}: ${phase['monthly_total_usd']:,.2f} a month", "",
                "| resource | type | $/month | basis |", "|---|---|---:|---|"]  # fmt: skip
        for line in sorted(phase["resources"], key=lambda r: -(r["monthly_usd"] or 0)):
            cost = "not priced" if line["monthly_usd"] is None else f"{line['monthly_usd']:.2f}"
            out.append(f"| {line['resource']} | {line['type']} | {cost} | {line['basis']} |")
    return "\n".join(out) + "\n"
