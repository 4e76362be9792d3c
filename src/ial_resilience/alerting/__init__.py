"""Alerting: rule files, the evaluator, notifiers with an outbox, alert accuracy."""

from ial_resilience.alerting.rules import (
    AbsenceRule,
    AnomalyRule,
    AnyRule,
    BurnRateRule,
    RuleFile,
    RuleKind,
    Severity,
    ThresholdRule,
    load_rules,
)

__all__ = [
    "AbsenceRule",
    "AnomalyRule",
    "AnyRule",
    "BurnRateRule",
    "RuleFile",
    "RuleKind",
    "Severity",
    "ThresholdRule",
    "load_rules",
]
