"""Experiment files: every bad input is a problem at its exact line and column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ial_resilience.errors import ExitCode, Problem, SpecError
from ial_resilience.faults.vocabulary import LatencyParams
from ial_resilience.spec import ProbeKind, Statistic, TargetKind, load_experiment

GOOD = """\
version: 1
title: latency on the db link
targets:
  db-link: {link: api->db}
steady_state:
  - probe: {http: {url: "http://127.0.0.1:8080/orders", timeout: 2s}}
    samples: 5
    tolerance: {success_rate: ">= 0.99", p95_ms: "<= 400"}
method:
  - fault: network.latency
    target: db-link
    with: {latency: 200ms, jitter: 20ms}
    duration: 30s
"""


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str, **kwargs: object) -> list[Problem]:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_experiment(path, environ={}, **kwargs)  # type: ignore[arg-type]
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    return caught.value.problems


def where(problem: Problem) -> tuple[int, int, str]:
    return (problem.line, problem.column, problem.key)


def test_good_file_loads_into_typed_frozen_models(tmp_path: Path) -> None:
    experiment = load_experiment(write(tmp_path, GOOD), environ={})
    assert experiment.source == str(tmp_path / "exp.yaml")
    assert experiment.targets["db-link"].kind is TargetKind.LINK
    assert experiment.targets["db-link"].name == "api->db"
    check = experiment.steady_state[0]
    assert check.probe.kind is ProbeKind.HTTP
    assert check.probe.config.timeout == 2.0  # type: ignore[union-attr]
    assert check.tolerance[Statistic.P95_MS].holds(400)
    step = experiment.method[0]
    assert isinstance(step.params, LatencyParams)
    assert (step.params.latency, step.params.jitter, step.duration) == (0.2, 0.02, 30.0)
    assert experiment.recovery.within == 60.0
    with pytest.raises(Exception, match="frozen"):
        experiment.title = "changed"  # type: ignore[misc]


def test_malformed_yaml_is_one_problem_at_the_parser_position(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "version: 1\ntargets: {a: [1, 2}\n")
    assert (problem.line, problem.column) == (2, 19)
    assert "malformed YAML" in problem.found
    assert problem.expected == "valid YAML"


def test_duplicate_key_is_malformed_yaml(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "version: 1\nversion: 1\n")
    assert (problem.line, problem.column) == (2, 1)
    assert "duplicate key" in problem.found


@pytest.mark.parametrize("text", ["", "- a list\n", "just text\n"])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    (problem,) = problems_of(tmp_path, text)
    assert (problem.line, problem.column) == (1, 1)
    assert "a mapping with version, title" in problem.expected


def test_unknown_key_is_reported_at_the_key_with_a_suggestion(tmp_path: Path) -> None:
    text = GOOD.replace("    samples: 5\n", "    sample: 5\n")
    (problem,) = problems_of(tmp_path, text)
    assert where(problem) == (7, 5, "steady_state[0].sample")
    assert problem.found == "unknown key 'sample'"
    assert "'samples' (did you mean it?)" in problem.expected
    assert "tolerance" in problem.expected


def test_unknown_top_level_key_lists_allowed_keys(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD + "colour: blue\n")
    assert where(problem) == (14, 1, "colour")
    assert "guardrails" in problem.expected and "source" not in problem.expected


def test_unknown_fault_lists_known_faults_closest_first(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("network.latency", "network.latncy"))
    assert where(problem) == (10, 12, "method[0].fault")
    assert problem.found == "unknown fault 'network.latncy'"
    assert problem.expected.startswith("a fault of the vocabulary: network.latency, ")
    assert "db.failover" in problem.expected


def test_step_without_fault(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("  - fault: network.latency\n    ", "  - "))
    assert where(problem) == (10, 5, "method[0].fault")
    assert problem.found == "nothing"


def test_step_that_is_not_a_mapping(tmp_path: Path) -> None:
    text = GOOD.split("method:")[0] + "method:\n  - network.latency\n"
    (problem,) = problems_of(tmp_path, text)
    assert where(problem) == (10, 5, "method[0]")
    assert problem.found == "'network.latency'"
    assert problem.expected.startswith("a mapping such as {fault: network.latency")


def test_guardrail_needs_a_tolerance_and_a_probe_selector(tmp_path: Path) -> None:
    text = GOOD + "guardrails:\n  - probe: {process: {}}\n    tolerance: {}\n"
    problems = problems_of(tmp_path, text)
    assert [(where(p), p.found) for p in problems] == [
        ((15, 22, "guardrails[0].probe.process"), "none"),
        ((16, 16, "guardrails[0].tolerance"), "an empty mapping"),
    ]
    assert problems[0].expected == "exactly one of name, pid, match for a process probe"


def test_guardrail_window_must_hold_min_samples(tmp_path: Path) -> None:
    guardrail = "  - probe: {tcp: {address: 'h:1'}}\n    every: 1s\n    window: 2s\n"
    text = (
        GOOD + "guardrails:\n" + guardrail + "    min_samples: 3\n    tolerance: {count: '>= 3'}\n"
    )
    (problem,) = problems_of(tmp_path, text)
    assert where(problem) == (15, 5, "guardrails[0]")
    assert problem.found.startswith("a 2s window, which holds fewer than min_samples (3)")


def test_parameters_for_a_fault_that_takes_none(tmp_path: Path) -> None:
    text = GOOD.replace("network.latency", "network.down")
    problems = problems_of(tmp_path, text)
    assert [where(p) for p in problems] == [
        (12, 12, "method[0].with.latency"),
        (12, 28, "method[0].with.jitter"),
    ]
    assert problems[0].expected == "no key here (none is taken)"


def test_unknown_probe_kind_suggests_the_closest(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("{http: {url", "{htp: {url"))
    assert where(problem) == (6, 13, "steady_state[0].probe.htp")
    assert "'http' (did you mean it?)" in problem.expected
    assert "command" in problem.expected


def test_probe_with_two_kinds(tmp_path: Path) -> None:
    text = GOOD.replace("timeout: 2s}}", 'timeout: 2s}, tcp: {address: "127.0.0.1:1"}}')
    (problem,) = problems_of(tmp_path, text)
    assert where(problem) == (6, 12, "steady_state[0].probe")
    assert problem.found == "http and tcp"
    assert problem.expected == "exactly one of http, tcp, sql, process, metric, command for a probe"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("-5s", "a duration such as 250ms, 30s, 5m or 1h"),
        ("0s", "a duration greater than zero, such as 30s"),
        ("25h", "a duration of at most 24h"),
        ("30", "a duration such as 250ms, 30s, 5m or 1h"),
        ("soon", "a duration such as 250ms, 30s, 5m or 1h"),
    ],
)
def test_bad_fault_durations(tmp_path: Path, written: str, expected: str) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("duration: 30s", f"duration: {written}"))
    assert where(problem) == (13, 15, "method[0].duration")
    assert problem.expected == expected


def test_probe_timeout_above_an_hour_is_absurd(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("timeout: 2s", "timeout: 2h"))
    assert where(problem) == (6, 66, "steady_state[0].probe.http.timeout")
    assert problem.found == "'2h'"
    assert problem.expected == "a duration of at most 1h"


def test_negative_latency_parameter(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("latency: 200ms", "latency: -200ms"))
    assert where(problem) == (12, 21, "method[0].with.latency")


def test_unknown_fault_parameter(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("jitter: 20ms", "jiter: 20ms"))
    assert where(problem) == (12, 28, "method[0].with.jiter")
    assert "'jitter' (did you mean it?)" in problem.expected


def test_missing_required_parameter_and_key(tmp_path: Path) -> None:
    text = GOOD.replace("    with: {latency: 200ms, jitter: 20ms}\n", "").replace(
        "    duration: 30s\n", ""
    )
    problems = problems_of(tmp_path, text)
    assert [where(p) for p in problems] == [
        (10, 5, "method[0].duration"),
        (10, 5, "method[0].with"),
    ]
    assert all(p.found == "nothing" for p in problems)
    assert "how long the fault stays applied" in problems[0].expected


@pytest.mark.parametrize("written", ["about 0.99", ">= ", "=> 0.9", "400..100", "0.99"])
def test_bad_tolerance_syntax_names_the_accepted_forms(tmp_path: Path, written: str) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace('">= 0.99"', f'"{written}"'))
    assert where(problem) == (8, 31, "steady_state[0].tolerance.success_rate")
    assert '"between 100 and 400"' in problem.expected


def test_unquoted_number_tolerance(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace('">= 0.99"', "0.99"))
    assert where(problem) == (8, 31, "steady_state[0].tolerance.success_rate")
    assert problem.found == "0.99"


def test_unknown_statistic_is_reported_at_the_key(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("p95_ms:", "p95ms:"))
    assert where(problem) == (8, 42, "steady_state[0].tolerance.p95ms")
    assert problem.found == "the key 'p95ms'"
    assert "'p95_ms' (did you mean it?)" in problem.expected


def test_missing_target_is_reported_at_the_reference(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("target: db-link", "target: db-lnk"))
    assert where(problem) == (11, 13, "method[0].target")
    assert problem.found == "unknown target 'db-lnk'"
    assert problem.expected == "'db-link' (did you mean it?); a key of targets: db-link"


def test_fault_on_a_kind_of_target_it_cannot_degrade(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("{link: api->db}", "{database: orders}"))
    assert where(problem) == (11, 13, "method[0].target")
    assert problem.expected == "a link or service target for network.latency"


def test_target_with_two_kinds_and_share_outside_service(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, GOOD.replace("{link: api->db}", "{link: a, share: 0.5}"))
    assert [where(p) for p in problems] == [(4, 12, "targets.db-link")]
    assert problems[0].expected == "replicas and share only on a service target"


def test_unknown_variable_is_reported_inside_the_string(tmp_path: Path) -> None:
    text = GOOD.replace("http://127.0.0.1:8080/orders", "${lb}/orders")
    (problem,) = problems_of(tmp_path, text)
    assert where(problem) == (6, 26, "steady_state[0].probe.http.url")
    assert problem.found == "unknown variable ${lb}"
    assert "--var" in problem.expected


def test_probe_url_that_is_not_a_url(tmp_path: Path) -> None:
    for url in ("orders", "ftp://host/x", "http://", "http://host:99999/"):
        (problem,) = problems_of(tmp_path, GOOD.replace("http://127.0.0.1:8080/orders", url))
        assert where(problem) == (6, 25, "steady_state[0].probe.http.url")
        assert problem.expected.startswith("an http:// or https:// URL with a host")


def test_steady_state_check_needs_a_tolerance(tmp_path: Path) -> None:
    text = GOOD.replace('    tolerance: {success_rate: ">= 0.99", p95_ms: "<= 400"}\n', "")
    (problem,) = problems_of(tmp_path, text)
    assert where(problem) == (6, 5, "steady_state[0]")
    assert problem.found == "no tolerance"


def test_empty_method(tmp_path: Path) -> None:
    text = GOOD.split("method:")[0] + "method: []\n"
    (problem,) = problems_of(tmp_path, text)
    assert where(problem) == (9, 9, "method")
    assert problem.expected == "at least one fault step"


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    text = (
        GOOD.replace("p95_ms:", "p96_ms:")
        .replace("target: db-link", "target: nowhere")
        .replace("duration: 30s", "duration: -1s")
        .replace("title: latency on the db link", "title: ${who}")
    )
    problems = problems_of(tmp_path, text)
    assert [where(p) for p in problems] == [
        (2, 8, "title"),
        (8, 42, "steady_state[0].tolerance.p96_ms"),
        (11, 13, "method[0].target"),
        (13, 15, "method[0].duration"),
    ]
    error = SpecError(problems)
    assert str(error).startswith(f"{tmp_path / 'exp.yaml'}:2:8: title: found unknown variable")
    assert "(and 3 more problems)" in str(error)


def test_source_is_not_a_yaml_key(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD + "source: elsewhere.yaml\n")
    assert where(problem) == (14, 1, "source")


def test_overlapping_and_chained_steps(tmp_path: Path) -> None:
    text = GOOD + (
        "  - fault: network.loss\n"
        "    target: db-link\n"
        "    with: {probability: 0.3}\n"
        "    after: 10s\n"
        "    duration: 1m\n"
        "    direction: upstream\n"
        "    toxicity: 0.5\n"
    )
    experiment = load_experiment(write(tmp_path, text), environ={})
    second = experiment.method[1]
    assert (second.after, second.duration, second.end) == (10.0, 60.0, 70.0)
    assert second.direction.value == "upstream" and second.toxicity == 0.5
    assert experiment.method_duration == 70.0


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_experiment(tmp_path / "missing.yaml")
    (problem,) = caught.value.problems
    assert "unreadable file" in problem.found
