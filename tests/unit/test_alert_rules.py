"""Alert rule files: the documented forms parse; every problem is reported with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ial_resilience.alerting.rules import (
    SRE_WINDOWS,
    AbsenceRule,
    AnomalyRule,
    BurnRateRule,
    Function,
    Op,
    Severity,
    ThresholdRule,
    load_rules,
)
from ial_resilience.errors import SpecError

GOOD = """\
version: 1
evaluate_every: 5s
rules:
  - name: error-ratio
    kind: threshold
    severity: critical
    by: [service]
    expr:
      function: ratio
      numerator: {metric: http.requests, where: {outcome: error}}
      denominator: {metric: http.requests}
      window: 1m
    op: ">"
    value: 0.05
    resolve: 0.02
    for: 30s
  - name: slo
    kind: burn_rate
    objective: 0.999
    good: {metric: http.requests, where: {outcome: ok}}
    total: {metric: http.requests}
    scale: 0.01
  - name: latency-anomaly
    kind: anomaly
    expr: {function: percentile, quantile: 95, metric: http.latency_ms, window: 10s}
    baseline: 10m
  - name: silent
    kind: absence
    metric: http.requests
    for: 2m
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, **kwargs: object) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_rules(write(tmp_path, text), **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def test_every_kind_parses_into_typed_models(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, GOOD))
    threshold, slo, anomaly, absence = rules.rules
    assert isinstance(threshold, ThresholdRule)
    assert threshold.op is Op.GT and threshold.for_ == 30.0 and threshold.resolve == 0.02
    assert threshold.expr.function is Function.RATIO and threshold.severity is Severity.CRITICAL
    assert isinstance(slo, BurnRateRule) and slo.windows == SRE_WINDOWS
    assert round(slo.error_budget, 6) == 0.001
    assert [(w.long, w.short) for w in slo.scaled_windows()] == [
        (36.0, 3.0),
        (216.0, 18.0),
        (2592.0, 216.0),
    ]
    assert isinstance(anomaly, AnomalyRule) and anomaly.deviations == 3.0
    assert isinstance(absence, AbsenceRule) and absence.for_ == 120.0
    assert rules.evaluate_every == 5.0
    assert rules.metrics() == {"http.requests", "http.latency_ms"}


def test_sre_workbook_defaults() -> None:
    assert [(w.long, w.short, w.factor) for w in SRE_WINDOWS] == [
        (3600.0, 300.0, 14.4),
        (21600.0, 1800.0, 6.0),
        (259200.0, 21600.0, 1.0),
    ]


def test_every_problem_with_its_line(tmp_path: Path) -> None:
    text = """\
version: 1
rules:
  - name: a
    kind: threshold
    expr: {function: rate, metric: m}
    op: "=>"
    value: 1
  - name: b
    kind: burn_rat
  - name: c
    kind: absence
    metric: m
    for: 10
    colour: red
"""
    found = problems(tmp_path, text)
    assert any(":6:9: rules[0].op:" in p for p in found)
    assert any(":9:11: rules[1].kind: found unknown rule kind 'burn_rat'" in p for p in found)
    assert any(":13:10: rules[2].for: found 10; expected a duration" in p for p in found)
    assert any(":14:5: rules[2].colour: found unknown key 'colour'" in p for p in found)
    assert len(found) == 4


def test_hysteresis_on_the_wrong_side_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("resolve: 0.02", "resolve: 0.5")
    (problem,) = problems(tmp_path, text)
    assert "resolve must be at or below value" in problem and ":15:14:" in problem


def test_ratio_needs_both_selectors(tmp_path: Path) -> None:
    text = GOOD.replace("      denominator: {metric: http.requests}\n", "")
    (problem,) = problems(tmp_path, text)
    assert "numerator and denominator" in problem


def test_duplicate_names(tmp_path: Path) -> None:
    text = GOOD.replace("name: slo", "name: error-ratio")
    (problem,) = problems(tmp_path, text)
    assert "a second rule 'error-ratio'" in problem and ":17:11:" in problem


def test_unknown_metric_when_the_catalog_says_so(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD, known_metrics={"http.requests"})
    assert len(found) == 1
    assert "unknown metric 'http.latency_ms'" in found[0] and ":25:56:" in found[0]


def test_malformed_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "malformed YAML" in problems(tmp_path, "rules: [\n")[0]
    with pytest.raises(SpecError, match="unreadable"):
        load_rules(tmp_path / "nope.yaml")
