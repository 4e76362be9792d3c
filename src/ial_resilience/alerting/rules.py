"""Alert rule files (YAML): models, defaults and the loader with file:line errors.

A rule file (docs/INTERFACES.md §4)::

    version: 1
    evaluate_every: 15s
    rules:
      - name: orders-error-ratio
        kind: threshold          # threshold | burn_rate | anomaly | absence
        expr: {function: ratio, numerator: {metric: http.requests, where: {outcome: error}},
               denominator: {metric: http.requests}, window: 1m}
        op: ">"
        value: 0.05
        resolve: 0.02            # hysteresis: resolves only below 0.02
        for: 30s

Parsed once into frozen models; every problem of a file is reported at once
(:class:`~ial_resilience.errors.SpecError` with file, line, column, key, found, expected).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ial_resilience.errors import Problem, SpecError
from ial_resilience.faults.vocabulary import DAY, DURATION_SCHEMA, duration_validator
from ial_resilience.spec.document import Document, read_document
from ial_resilience.spec.fields import SpecModel
from ial_resilience.spec.loader import raise_problems, shape_problems, validate_model

MAX_WINDOW = 90 * DAY
Window = Annotated[float, duration_validator(maximum=MAX_WINDOW), DURATION_SCHEMA]
"""A query window: more than 0, at most 90 days."""
Hold = Annotated[float, duration_validator(allow_zero=True, maximum=MAX_WINDOW), DURATION_SCHEMA]
"""How long a condition must hold (``for``): 0 or more."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
_NAME_RE = re.compile(NAME_PATTERN)


class RuleKind(StrEnum):
    THRESHOLD = "threshold"
    BURN_RATE = "burn_rate"
    ANOMALY = "anomaly"
    ABSENCE = "absence"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Function(StrEnum):
    """What an expression computes over the points of its window."""

    RATE = "rate"  # sum of values / window seconds (per second)
    RATIO = "ratio"  # sum(numerator) / sum(denominator)
    PERCENTILE = "percentile"  # nearest-rank percentile ``quantile`` (0-100) of the values
    VALUE = "value"  # the last value (gauges)
    MEAN = "mean"
    SUM = "sum"
    COUNT = "count"  # number of points
    MAX = "max"
    MIN = "min"


class Op(StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="

    def holds(self, x: float, threshold: float) -> bool:
        if self is Op.GT:
            return x > threshold
        if self is Op.GE:
            return x >= threshold
        if self is Op.LT:
            return x < threshold
        return x <= threshold

    @property
    def above(self) -> bool:
        return self in (Op.GT, Op.GE)


class Direction(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    BOTH = "both"


class Selector(SpecModel):
    """A set of series: one metric name and label values every series must carry."""

    metric: str = Field(min_length=1, pattern=NAME_PATTERN)
    where: dict[str, str] = Field(default_factory=dict)

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        return name == self.metric and all(labels.get(k) == v for k, v in self.where.items())


class Expr(SpecModel):
    """``function`` over ``window``: of ``metric``/``where``, or numerator/denominator."""

    function: Function
    window: Window = 60.0
    metric: str | None = Field(default=None, min_length=1, pattern=NAME_PATTERN)
    where: dict[str, str] = Field(default_factory=dict)
    numerator: Selector | None = None
    denominator: Selector | None = None
    quantile: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _shape(self) -> Expr:
        if self.function is Function.RATIO:
            if self.numerator is None or self.denominator is None:
                raise ValueError("a ratio needs numerator and denominator selectors")
            if self.metric is not None:
                raise ValueError("a ratio takes numerator/denominator, not metric")
        elif self.metric is None:
            raise ValueError(f"function {self.function.value} needs a metric")
        if (self.function is Function.PERCENTILE) != (self.quantile is not None):
            raise ValueError("quantile (0-100) goes with function percentile, and only there")
        return self

    def selectors(self) -> tuple[Selector, ...]:
        if self.function is Function.RATIO:
            assert self.numerator is not None and self.denominator is not None
            return (self.numerator, self.denominator)
        assert self.metric is not None
        return (Selector(metric=self.metric, where=self.where),)


class RuleBase(SpecModel):
    FAULT_FIELD: ClassVar[str] = "kind"  # lets the spec package's error locator pick the model
    FAULT_NAME: ClassVar[str] = ""

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    severity: Severity = Severity.WARNING
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    by: tuple[str, ...] = Field(default=(), description="labels that split the rule into groups")
    for_: Hold = Field(default=0.0, alias="for")

    def selectors(self) -> tuple[Selector, ...]:
        raise NotImplementedError


class ThresholdRule(RuleBase):
    FAULT_NAME: ClassVar[str] = "threshold"
    kind: Literal[RuleKind.THRESHOLD]
    expr: Expr
    op: Op
    value: float
    resolve: float | None = Field(
        default=None, description="hysteresis: the alert resolves only past this value"
    )

    @field_validator("resolve")
    @classmethod
    def _resolve_side(cls, resolve: float | None, info: ValidationInfo) -> float | None:
        op, value = info.data.get("op"), info.data.get("value")
        if resolve is None or op is None or value is None:
            return resolve
        wrong = resolve > value if op.above else resolve < value
        if wrong:
            side = "at or below" if op.above else "at or above"
            raise ValueError(f"resolve must be {side} value ({value:g}) for op {op}")
        return resolve

    def selectors(self) -> tuple[Selector, ...]:
        return self.expr.selectors()

    def resolve_threshold(self) -> float:
        return self.value if self.resolve is None else self.resolve


class BurnWindow(SpecModel):
    long: Window
    short: Window
    factor: float = Field(gt=0)
    severity: Severity | None = None

    @model_validator(mode="after")
    def _short_shorter(self) -> BurnWindow:
        if self.short >= self.long:
            raise ValueError("short must be shorter than long")
        return self


HOUR = 3600.0
SRE_WINDOWS: tuple[BurnWindow, ...] = tuple(
    BurnWindow.model_validate({"long": long, "short": short, "factor": factor, "severity": sev})
    for long, short, factor, sev in (
        ("1h", "5m", 14.4, "critical"),
        ("6h", "30m", 6.0, "critical"),
        ("3d", "6h", 1.0, "warning"),
    )
)
"""Multi-window, multi-burn-rate defaults of the Google SRE workbook (chapter 5)."""


class BurnRateRule(RuleBase):
    FAULT_NAME: ClassVar[str] = "burn_rate"
    kind: Literal[RuleKind.BURN_RATE]
    objective: float = Field(gt=0, lt=1, description="SLO target, e.g. 0.999")
    good: Selector
    total: Selector
    windows: tuple[BurnWindow, ...] = Field(default=SRE_WINDOWS, min_length=1)
    scale: float = Field(default=1.0, gt=0, le=1, description="multiplies every window (demos)")

    def selectors(self) -> tuple[Selector, ...]:
        return (self.good, self.total)

    def scaled_windows(self) -> tuple[BurnWindow, ...]:
        return tuple(
            w.model_copy(update={"long": w.long * self.scale, "short": w.short * self.scale})
            for w in self.windows
        )

    @property
    def error_budget(self) -> float:
        return 1.0 - self.objective


class AnomalyRule(RuleBase):
    FAULT_NAME: ClassVar[str] = "anomaly"
    kind: Literal[RuleKind.ANOMALY]
    expr: Expr
    baseline: Window = Field(description="how far back the rolling baseline reaches")
    deviations: float = Field(default=3.0, gt=0, description="robust z-score (median/MAD)")
    direction: Direction = Direction.BOTH
    min_buckets: int = Field(default=5, ge=3, description="baseline buckets needed to decide")

    @field_validator("baseline")
    @classmethod
    def _baseline_longer(cls, baseline: float, info: ValidationInfo) -> float:
        expr = info.data.get("expr")
        if expr is not None and baseline < 3 * expr.window:
            raise ValueError("baseline must be at least 3 × expr.window")
        return baseline

    @field_validator("expr")
    @classmethod
    def _single_metric(cls, expr: Expr) -> Expr:
        if expr.function is Function.RATIO:
            raise ValueError("an anomaly rule takes a single-metric expression, not a ratio")
        return expr

    def selectors(self) -> tuple[Selector, ...]:
        return self.expr.selectors()


class AbsenceRule(RuleBase):
    FAULT_NAME: ClassVar[str] = "absence"
    kind: Literal[RuleKind.ABSENCE]
    metric: str = Field(min_length=1, pattern=NAME_PATTERN)
    where: dict[str, str] = Field(default_factory=dict)
    for_: Window = Field(alias="for", description="no point for this long fires the alert")

    def selectors(self) -> tuple[Selector, ...]:
        return (Selector(metric=self.metric, where=self.where),)


Rule = Annotated[
    ThresholdRule | BurnRateRule | AnomalyRule | AbsenceRule, Field(discriminator="kind")
]


class RuleFile(SpecModel):
    version: Literal[1]
    evaluate_every: Window = Field(default=15.0, description="evaluation interval")
    repeat_interval: Window = Field(default=4 * HOUR, description="re-notify a firing group")
    group_by: tuple[str, ...] = Field(
        default=("rule",), description="alert labels that form one notification group"
    )
    rules: tuple[Rule, ...] = Field(min_length=1)
    source: SkipJsonSchema[str] = Field(default="", validation_alias="__source__")

    def rule(self, name: str) -> ThresholdRule | BurnRateRule | AnomalyRule | AbsenceRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def metrics(self) -> set[str]:
        return {s.metric for rule in self.rules for s in rule.selectors()}


AnyRule = ThresholdRule | BurnRateRule | AnomalyRule | AbsenceRule


def load_rules(path: str | Path, *, known_metrics: Iterable[str] | None = None) -> RuleFile:
    """Load and validate a rule file; ``SpecError`` listing every problem.

    With ``known_metrics`` (the store's or a catalog's metric names) a rule naming any other
    metric is a problem too.
    """
    document = read_document(path)
    return rules_from_document(document, known_metrics=known_metrics)


def rules_from_document(
    document: Document, *, known_metrics: Iterable[str] | None = None
) -> RuleFile:
    shape_problems(document, "version and rules")
    rules, raw = validate_model(document, RuleFile)
    problems = [_own_words(document, p) for p in raw if not _spurious(document, p)]
    if rules is not None:
        problems += _duplicate_names(document, rules)
        if known_metrics is not None:
            problems += _unknown_metrics(document, set(known_metrics))
    try:
        raise_problems(problems)
    except SpecError as error:
        raise SpecError(error.problems, hint=RULES_HINT) from None
    assert rules is not None
    return rules


RULES_HINT = "fix the rule file and run `ialr alerts validate` again"
KINDS = ", ".join(k.value for k in RuleKind)


def _own_words(document: Document, problem: Problem) -> Problem:
    """The spec package speaks of faults; a rule's discriminator is its ``kind``."""
    if problem.found.startswith("unknown fault"):
        found = problem.found.replace("unknown fault", "unknown rule kind")
        return replace(problem, found=found, expected=f"one of {KINDS}")
    if problem.expected.startswith("a fault such as"):
        return replace(problem, expected=f"a kind: one of {KINDS}")
    return problem


def _spurious(document: Document, problem: Problem) -> bool:
    """pydantic adds "too short" to ``rules`` when every rule failed; the list is not empty."""
    rules = document.data.get("rules") if isinstance(document.data, dict) else None
    return problem.key == "rules" and "at least 1" in problem.expected and bool(rules)


def _duplicate_names(document: Document, rules: RuleFile) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, rule in enumerate(rules.rules):
        if rule.name in seen:
            problems.append(
                document.problem(
                    ("rules", index, "name"), f"a second rule {rule.name!r}", "unique rule names"
                )
            )
        seen.add(rule.name)
    return problems


def _metric_paths(node: Any, path: tuple[str | int, ...]) -> Iterable[tuple[Any, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "metric" and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _metric_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _metric_paths(value, (*path, index))


def _unknown_metrics(document: Document, known: set[str]) -> list[Problem]:
    catalog = ", ".join(sorted(known)[:8]) or "none recorded yet"
    return [
        document.problem(path, f"the unknown metric {name!r}", f"a known metric ({catalog})")
        for path, name in _metric_paths(document.data.get("rules"), ("rules",))
        if name not in known
    ]


def check_name(name: str) -> bool:
    return bool(_NAME_RE.match(name))


__all__ = [
    "SRE_WINDOWS",
    "AbsenceRule",
    "AnomalyRule",
    "AnyRule",
    "BurnRateRule",
    "BurnWindow",
    "Direction",
    "Expr",
    "Function",
    "Op",
    "RuleFile",
    "RuleKind",
    "Selector",
    "Severity",
    "SpecError",
    "ThresholdRule",
    "load_rules",
]
