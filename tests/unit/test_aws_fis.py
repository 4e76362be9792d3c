"""The FIS translation: experiment × scope → CreateExperimentTemplate body; refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ial_resilience.aws.fis import (
    ALTERNATES,
    FIS_ACTIONS,
    NO_FIS_ACTION,
    action_for,
    all_actions,
    check,
    load_scope,
    render_template,
)
from ial_resilience.errors import SpecError
from ial_resilience.faults.vocabulary import FAULTS
from ial_resilience.spec import load_experiment

ROLE = "arn:aws:iam::123456789012:role/ialr-fis"
ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx"
LIBRARY = Path(__file__).parents[2] / "chaos"
SCOPE_EXAMPLE = Path(__file__).parents[2] / "examples" / "aws-scope.yaml"

SCOPE = """\
version: 1
region: eu-west-1
services:
  api: {tags: {service: api}, process_name: orders-api, selection: PERCENT(50)}
links:
  api->db: {tags: {service: api}, port: 5432}
databases:
  db: {arns: ["arn:aws:rds:eu-west-1:123456789012:cluster:orders"]}
hosts:
  worker: {resource_type: aws:ec2:instance, tags: {Name: worker}, memory: 1GiB}
"""

EXPERIMENT = """\
version: 1
title: Latency, then a kill
targets:
  db-link: {link: api->db}
  two: {service: api, replicas: 2}
  worker: {host: worker}
steady_state:
  - probe: {http: {url: "http://127.0.0.1:9/health"}}
    tolerance: {success_rate: ">= 0.99"}
method:
  - fault: network.latency
    target: db-link
    with: {latency: 150ms, jitter: 10ms}
    duration: 90s
  - fault: process.kill
    target: two
    after: 30s
    duration: 5s
  - fault: resource.memory
    target: worker
    with: {bytes: 256MiB}
    duration: 1m
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_vocabulary_fault_has_an_action_or_a_reason() -> None:
    for fault in FAULTS:
        mapped = fault in FIS_ACTIONS or any(f == fault for f, _ in ALTERNATES)
        assert mapped != (fault in NO_FIS_ACTION), fault
    assert set(NO_FIS_ACTION) <= set(FAULTS)


def test_action_ids_are_fis_ids_and_no_iam_action_is_a_wildcard() -> None:
    for action in all_actions():
        assert re.fullmatch(r"aws:[a-z0-9]+:[a-z0-9-]+", action.action_id), action
        assert action.iam_actions and all("*" not in a for a in action.iam_actions)
        assert action.family in {"ecs", "ec2", "rds", "network", "api", "ssm", "asg"}


def test_action_for_picks_the_scope_resource_type() -> None:
    assert action_for("network.partition").action_id == "aws:ecs:task-network-blackhole-port"  # type: ignore[union-attr]
    subnet = action_for("network.partition", "aws:ec2:subnet")
    assert subnet is not None and subnet.action_id == "aws:network:disrupt-connectivity"
    assert action_for("db.failover", "aws:rds:db").action_id == "aws:rds:reboot-db-instances"  # type: ignore[union-attr]
    assert action_for("network.latency", "aws:rds:cluster") is None
    assert action_for("http.abort") is None


def test_render_whole_experiment(tmp_path: Path) -> None:
    scope = load_scope(write(tmp_path, "scope.yaml", SCOPE))
    experiment = load_experiment(write(tmp_path, "exp.yaml", EXPERIMENT))
    body = render_template(
        experiment, scope, role_arn=ROLE, stop_alarm_arns=[ALARM], tags={"team": "sre"},
        log_group_arn="arn:aws:logs:eu-west-1:123456789012:log-group:/ialr/fis",
    )  # fmt: skip
    assert body["roleArn"] == ROLE
    assert body["stopConditions"] == [{"source": "aws:cloudwatch:alarm", "value": ALARM}]
    assert body["tags"] == {"ialr:experiment": "Latency-then-a-kill", "team": "sre"}
    assert body["logConfiguration"]["cloudWatchLogsConfiguration"]["logGroupArn"].endswith(":*")
    latency = body["actions"]["s0-network-latency"]
    assert latency["actionId"] == "aws:ecs:task-network-latency"
    assert latency["parameters"] == {
        "duration": "PT90S", "delayMilliseconds": "150", "jitterMilliseconds": "10"
    }  # fmt: skip
    assert body["targets"][latency["targets"]["Tasks"]] == {
        "resourceType": "aws:ecs:task", "selectionMode": "ALL", "resourceTags": {"service": "api"}
    }  # fmt: skip
    kill = body["actions"]["s1-process-kill"]
    assert kill["parameters"] == {"processName": "orders-api", "signal": "SIGKILL"}
    assert kill["startAfter"] == ["s1-wait"]
    assert body["actions"]["s1-wait"] == {
        "actionId": "aws:fis:wait",
        "description": "start process.kill 30s into the method",
        "parameters": {"duration": "PT30S"},
    }
    # replicas: 2 on the experiment target wins over the scope's PERCENT(50)
    assert body["targets"][kill["targets"]["Tasks"]]["selectionMode"] == "COUNT(2)"
    memory = body["actions"]["s2-resource-memory"]
    assert memory["actionId"] == "aws:ssm:send-command"
    assert memory["parameters"]["documentArn"] == (
        "arn:aws:ssm:eu-west-1::document/AWSFIS-Run-Memory-Stress"
    )
    assert '"Percent": "25"' in memory["parameters"]["documentParameters"]  # 256MiB of 1GiB
    # one step alone: no wait, started at once
    alone = render_template(experiment, scope, role_arn=ROLE, steps=[1])
    assert list(alone["actions"]) == ["s1-process-kill"]
    assert "startAfter" not in alone["actions"]["s1-process-kill"]
    assert alone["stopConditions"] == [{"source": "none"}]


def test_share_becomes_percent(tmp_path: Path) -> None:
    scope = load_scope(write(tmp_path, "scope.yaml", SCOPE))
    text = EXPERIMENT.replace("{service: api, replicas: 2}", "{service: api, share: 0.25}")
    body = render_template(load_experiment(write(tmp_path, "e.yaml", text)), scope, role_arn=ROLE)
    assert body["targets"]["two-task"]["selectionMode"] == "PERCENT(25)"


def test_refusals_name_file_line(tmp_path: Path) -> None:
    scope = load_scope(write(tmp_path, "scope.yaml", SCOPE))
    text = (
        EXPERIMENT.replace("fault: network.latency", "fault: http.delay")
        .replace("with: {latency: 150ms, jitter: 10ms}", "with: {delay: 1s}")
        .replace("{host: worker}", "{host: nowhere}")
        .replace("    after: 30s\n", "    with: {signal: SIGHUP}\n")
    )
    experiment = load_experiment(write(tmp_path, "exp.yaml", text))
    problems = check(experiment, scope)
    text_of = [str(p) for p in problems]
    assert any(
        ":11:12: method[0].fault: found http.delay, which has no FIS action" in t for t in text_of
    ), text_of
    assert any(
        ":6:3: targets.worker: found host 'nowhere'" in t and "it has: worker" in t for t in text_of
    ), text_of
    assert any("method[1].with.signal: found SIGHUP" in t for t in text_of), text_of
    with pytest.raises(SpecError) as caught:
        render_template(experiment, scope, role_arn=ROLE)
    assert caught.value.exit_code == 3 and len(caught.value.problems) == 3


def test_missing_scope_key_and_short_duration(tmp_path: Path) -> None:
    scope = load_scope(write(tmp_path, "scope.yaml", SCOPE.replace(", port: 5432", "")))
    text = EXPERIMENT.replace("fault: network.latency", "fault: network.partition").replace(
        "    with: {latency: 150ms, jitter: 10ms}\n", ""
    )
    problems = [str(p) for p in check(load_experiment(write(tmp_path, "e.yaml", text)), scope)]
    assert any("method[0].target" in p and "without port" in p for p in problems), problems
    role = '{resource_type: aws:iam:role, arns: ["arn:aws:iam::123456789012:role/app"]'
    iam = SCOPE.replace(
        "services:\n", f"services:\n  ec2api: {role}, service: ec2, operations: [RunInstances]}}\n"
    )
    outage = """\
version: 1
title: EC2 API down
targets: {app: {service: ec2api}}
steady_state: [{probe: {http: {url: "http://127.0.0.1:9/"}}, tolerance: {success_rate: ">= 0.9"}}]
method:
  - {fault: dependency.outage, target: app, duration: 30s}
"""
    experiment = load_experiment(write(tmp_path, "o.yaml", outage))
    problems = [str(p) for p in check(experiment, load_scope(write(tmp_path, "s2.yaml", iam)))]
    assert (
        len(problems) == 1 and "method[0].duration: found 30s; expected at least 60s" in problems[0]
    )
    body = render_template(
        load_experiment(write(tmp_path, "o2.yaml", outage.replace("30s", "2m"))),
        load_scope(tmp_path / "s2.yaml"),
        role_arn=ROLE,
    )
    (action,) = body["actions"].values()
    assert action["actionId"] == "aws:fis:inject-api-unavailable-error"
    assert action["parameters"] == {
        "duration": "PT120S", "service": "ec2", "operations": "RunInstances", "percentage": "100"
    }  # fmt: skip
    assert action["targets"] == {"Roles": "app-role"}


def test_scope_file_problems_at_file_line(tmp_path: Path) -> None:
    bad = "version: 1\nservices:\n  api: {tags: {service: api}, arns: [x]}\n  web: {tag: {a: b}}\n"
    with pytest.raises(SpecError) as caught:
        load_scope(write(tmp_path, "scope.yaml", bad))
    text = [str(p) for p in caught.value.problems]
    assert any(
        t.startswith(f"{tmp_path}/scope.yaml:3:") and "exactly one of tags or arns" in t
        for t in text
    ), text
    assert any(":4:" in t and "unknown key 'tag'" in t for t in text), text


def test_the_library_renders_or_is_refused_with_a_reason() -> None:
    scope = load_scope(SCOPE_EXAMPLE)
    rendered, refused = 0, 0
    for path in sorted(LIBRARY.rglob("*.yaml")):
        names = set(re.findall(r"\$\{([^}]+)\}", path.read_text()))
        if "method:" not in path.read_text():
            continue
        experiment = load_experiment(path, {name: "http://127.0.0.1:9" for name in names})
        problems = check(experiment, scope)
        if problems:
            refused += 1
            assert all(p.file == str(path) and p.line > 1 for p in problems)
        else:
            body = render_template(experiment, scope, role_arn=ROLE)
            assert len(body["actions"]) == len(experiment.method)
            rendered += 1
    assert rendered >= 6 and refused >= 4


def test_stop_condition_alarms_come_from_the_alert_rules() -> None:
    from ial_resilience.aws.fis_alarms import stop_condition_alarms
    from ial_resilience.aws.obs_model import AlarmKind, Kind
    from ial_resilience.aws.obs_scope import Scope

    alarms = stop_condition_alarms(Scope.for_environment("lab"), "arn:aws:sns:us-east-1:1:t")
    assert [a.name for a in alarms[:3]] == [
        "ialr-lab-alb-5xx", "ialr-lab-alb-latency-p99", "ialr-lab-ecs-running-low"
    ]  # fmt: skip
    assert len(alarms) == 5 and all(a.kind is Kind.ALARM for a in alarms)
    assert {a.alarm_kind for a in alarms[3:]} == {AlarmKind.BURN_RATE}
    assert all(a.spec["AlarmName"] == a.name for a in alarms)
