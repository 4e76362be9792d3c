"""The ``schedule`` block of suite files (INTERFACES §9): parsed, and refused at file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jsonschema
import pytest

from ial_resilience.errors import SpecError
from ial_resilience.spec import load_suite, suite_json_schema
from ial_resilience.spec.suite import Adaptive, Schedule

EXPERIMENT = """\
version: 1
title: down
targets: {db: {link: api->db}}
steady_state:
  - probe: {tcp: {address: "127.0.0.1:5432"}}
    tolerance: {success_rate: ">= 1"}
method:
  - {fault: network.down, target: db, duration: 1s}
"""


def suite_file(tmp_path: Path, schedule: str) -> Path:
    (tmp_path / "down.yaml").write_text(EXPERIMENT, encoding="utf-8")
    path = tmp_path / "suite.yaml"
    body = "version: 1\ntitle: nightly\nexperiments:\n  - path: down.yaml\n"
    path.write_text(body + textwrap.dedent(schedule), encoding="utf-8")
    return path


def test_a_schedule_is_parsed_into_seconds_and_models(tmp_path: Path) -> None:
    path = suite_file(
        tmp_path,
        """\
        schedule:
          cron: "0  3 * *   1-5"
          min_interval: 6h
          daily_limit: 2
          adaptive: {after_failure: 0.5, after_passes: 3}
        """,
    )
    schedule = load_suite(path, environ={}).schedule
    assert isinstance(schedule, Schedule)
    assert (schedule.cron, schedule.min_interval, schedule.daily_limit) == ("0 3 * * 1-5", 21600, 2)
    assert schedule.adaptive == Adaptive(after_failure=0.5, after_passes=3, slow_down=2.0)


def test_a_suite_without_schedule_has_none(tmp_path: Path) -> None:
    assert load_suite(suite_file(tmp_path, ""), environ={}).schedule is None


@pytest.mark.parametrize(
    "cron", ["0 3 * *", "0 3 * * 1 2020", "61 3 * * *", "0 3 * * MON-FOO", "@daily", "x y z a b"]
)
def test_unknown_cron_syntax_is_refused_at_file_line(tmp_path: Path, cron: str) -> None:
    path = suite_file(tmp_path, f'schedule:\n  cron: "{cron}"\n')
    with pytest.raises(SpecError) as caught:
        load_suite(path, environ={})
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.key) == (str(path), 6, "schedule.cron")
    assert "5-field cron" in problem.expected and cron in problem.found


def test_bad_interval_limit_and_unknown_key_are_refused_together(tmp_path: Path) -> None:
    path = suite_file(
        tmp_path,
        """\
        schedule:
          cron: "*/5 * * * *"
          min_interval: 6
          daily_limit: 0
          every: 1h
        """,
    )
    with pytest.raises(SpecError) as caught:
        load_suite(path, environ={})
    keys = {p.key: p.line for p in caught.value.problems}
    assert keys == {"schedule.min_interval": 7, "schedule.daily_limit": 8, "schedule.every": 9}


def test_the_json_schema_describes_the_schedule() -> None:
    schema = suite_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    good = {"version": 1, "title": "t", "experiments": [], "schedule": {"cron": "0 3 * * *"}}
    validator.validate(good)
    bad = {**good, "schedule": {"cron": "0 3 * *"}}
    assert not validator.is_valid(bad)
