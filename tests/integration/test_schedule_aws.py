"""``ialr schedule deploy --aws``: EventBridge Scheduler schedules that start FIS experiments,
against the session's moto server (which stores schedules and templates; it never fires a
schedule, so the start itself is not exercised here — the target and its input are checked).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from ial_resilience.aws._session import AwsTarget
from ial_resilience.cli.main import main
from ial_resilience.errors import InputError
from ial_resilience.schedule import aws_cron
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

SCOPE = Path(__file__).resolve().parents[2] / "examples" / "aws-scope.yaml"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/ialr-scheduler"
EXPERIMENT = """\
version: 1
title: "{title}"
targets: {{db: {{link: api->db}}, api: {{service: api, replicas: 1}}}}
steady_state:
  - probe: {{http: {{url: "http://127.0.0.1:9/health"}}}}
    tolerance: {{success_rate: ">= 0.99"}}
method:
  - {{fault: {fault}, target: {target}, duration: 60s{extra}}}
"""


def write_suite(tmp_path: Path, cron: str, experiments: list[tuple[str, str, str, str]]) -> Path:
    lines = ["version: 1", "title: Nightly AWS chaos", "experiments:"]
    for index, (title, fault, target, extra) in enumerate(experiments):
        name = f"e{index}.yaml"
        text = EXPERIMENT.format(title=title, fault=fault, target=target, extra=extra)
        (tmp_path / name).write_text(text, encoding="utf-8")
        lines.append(f"  - path: {name}")
    lines += ["schedule:", f'  cron: "{cron}"', "  daily_limit: 1"]
    path = tmp_path / "suite.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


Invoke = Callable[..., tuple[int, str]]
LATENCY = ("DB latency", "network.latency", "db", ", with: {latency: 100ms}")
KILL = ("Kill a task", "process.kill", "api", "")


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 3 * * 1-5", "cron(0 3 ? * 2-6 *)"),  # Monday = 1 classic, 2 on AWS
        ("0 3 * * 0", "cron(0 3 ? * 1 *)"),  # Sunday 0 → 1
        ("0 3 * * 7", "cron(0 3 ? * 1 *)"),  # Sunday 7 → 1
        ("0 3 * * 5,6,0", "cron(0 3 ? * 1,6-7 *)"),
        ("0 3 * * */2", "cron(0 3 ? * 1,3,5,7 *)"),
        ("0 3 * * MON-FRI", "cron(0 3 ? * MON-FRI *)"),  # names mean the same days
        ("0 3 * * 1#2", "cron(0 3 ? * 2#2 *)"),  # second Monday
        ("0 3 1 * *", "cron(0 3 1 * ? *)"),  # day-of-month restricted → day-of-week ?
        ("30 2 L * *", "cron(30 2 L * ? *)"),
        ("*/15 */2 * * *", "cron(0/15 0/2 * * ? *)"),  # AWS increments are start/step
        ("0 3 */3 * *", "cron(0 3 1/3 * ? *)"),
    ],
)
def test_five_field_cron_becomes_aws_six_field_form(cron: str, expected: str) -> None:
    assert aws_cron(cron) == expected


def test_a_cron_restricting_both_days_is_refused() -> None:
    with pytest.raises(InputError, match="both day-of-month"):
        aws_cron("0 3 1 * 1")
    with pytest.raises(InputError, match="5-field"):
        aws_cron("0 3 * *")


@pytest.fixture
def invoke(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """``ialr schedule ARGS`` through the CLI's entry point: exit code, stdout + stderr."""

    def run(*args: str) -> tuple[int, str]:
        code = main(["schedule", *args])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def test_deploy_creates_updates_and_deletes(
    tmp_path: Path,
    aws_env: AwsTarget,  # noqa: F811
    invoke: Invoke,
) -> None:
    endpoint = str(aws_env.endpoint_url)
    suite = write_suite(tmp_path, "0 3 * * 1-5", [LATENCY, KILL])
    common = [
        "--aws",
        "--scope",
        str(SCOPE),
        "--scheduler-role-arn",
        SCHEDULER_ROLE,
        "--endpoint-url",
        endpoint,
    ]
    scheduler = boto3.client("scheduler", region_name="us-east-1", endpoint_url=endpoint)
    fis = boto3.client("fis", region_name="us-east-1", endpoint_url=endpoint)

    code, out = invoke("deploy", str(suite), *common, "--dry-run")
    assert code == 0, out
    assert "cron(0 3 ? * 2-6 *)" in out and "would create or update" in out
    assert "daily_limit" in out  # said: not enforced by EventBridge
    groups = scheduler.list_schedule_groups()["ScheduleGroups"]
    assert "ialr-nightly-aws-chaos" not in {g["Name"] for g in groups}  # dry run made nothing

    code, out = invoke("deploy", str(suite), *common, "--json")
    assert code == 0, out
    first = json.loads(out)
    made = {(c["action"], c["kind"]) for c in first["changes"]}
    assert made == {("created", "group"), ("created", "template"), ("created", "schedule")}
    names = [c["name"] for c in first["changes"] if c["kind"] == "schedule"]
    assert len(names) == 2
    schedule = scheduler.get_schedule(Name=names[0], GroupName="ialr-nightly-aws-chaos")
    assert schedule["ScheduleExpression"] == "cron(0 3 ? * 2-6 *)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    target = schedule["Target"]
    assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:fis:startExperiment"
    assert target["RoleArn"] == SCHEDULER_ROLE
    template_id = json.loads(target["Input"])["ExperimentTemplateId"]
    template = fis.get_experiment_template(id=template_id)["experimentTemplate"]
    assert template["tags"]["ialr:suite"] == "nightly-aws-chaos"
    assert [a["actionId"] for a in template["actions"].values()] == ["aws:ecs:task-network-latency"]

    # a second deploy with one experiment fewer and another cron: updated in place, stale gone
    suite = write_suite(tmp_path, "0 4 1 * *", [LATENCY])
    code, out = invoke("deploy", str(suite), *common, "--json")
    assert code == 0, out
    second = {(c["action"], c["kind"], c["name"]) for c in json.loads(out)["changes"]}
    assert ("updated", "template", names[0]) in second
    assert ("updated", "schedule", names[0]) in second
    assert ("deleted", "schedule", names[1]) in second
    assert ("deleted", "template", names[1]) in second
    again = scheduler.get_schedule(Name=names[0], GroupName="ialr-nightly-aws-chaos")
    assert again["ScheduleExpression"] == "cron(0 4 1 * ? *)"
    assert json.loads(again["Target"]["Input"])["ExperimentTemplateId"] == template_id

    code, out = invoke("deploy", str(suite), "--aws", "--delete", "--endpoint-url", endpoint)
    assert code == 0, out
    assert "deleted group ialr-nightly-aws-chaos" in out
    groups = scheduler.list_schedule_groups()["ScheduleGroups"]
    assert "ialr-nightly-aws-chaos" not in {g["Name"] for g in groups}
    left = [
        t
        for t in fis.list_experiment_templates()["experimentTemplates"]
        if t.get("tags", {}).get("ialr:suite") == "nightly-aws-chaos"
    ]
    assert left == []


def test_bad_input_is_refused_before_anything_is_made(
    tmp_path: Path,
    aws_env: AwsTarget,  # noqa: F811
    invoke: Invoke,
) -> None:
    endpoint = str(aws_env.endpoint_url)
    suite = write_suite(tmp_path, "0 3 1 * 1", [LATENCY])
    base = ["--aws", "--scope", str(SCOPE), "--endpoint-url", endpoint]
    code, out = invoke("deploy", str(suite), *base, "--scheduler-role-arn", SCHEDULER_ROLE)
    assert code == 3 and "both day-of-month" in out
    suite = write_suite(tmp_path, "0 3 * * *", [LATENCY])
    code, out = invoke("deploy", str(suite), *base)
    assert code == 3 and "--scheduler-role-arn" in out
    code, out = invoke("deploy", str(tmp_path / "missing.yaml"), *base)
    assert code == 3 and "no suite file" in out
    code, out = invoke("deploy", str(suite), "--scheduler-role-arn", SCHEDULER_ROLE)
    assert code == 3 and "--aws" in out


def test_unreachable_aws_is_a_provider_error(
    tmp_path: Path,
    aws_env: AwsTarget,  # noqa: F811
    invoke: Invoke,
) -> None:
    suite = write_suite(tmp_path, "0 3 * * *", [LATENCY])
    code, out = invoke(
        "deploy",
        str(suite),
        "--aws",
        "--scope",
        str(SCOPE),
        "--scheduler-role-arn",
        SCHEDULER_ROLE,
        "--endpoint-url",
        "http://127.0.0.1:9",
    )
    assert code == 5, out
    assert "nothing answers" in out
