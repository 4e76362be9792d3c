"""Tolerances: every accepted form parses, bad syntax names the forms, holds() is Python's."""

from __future__ import annotations

import math
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ial_resilience.spec.tolerance import Comparison, ComparisonOp, parse_comparison

OPS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@pytest.mark.parametrize(
    ("text", "op", "value", "high"),
    [
        (">= 0.99", ComparisonOp.GE, 0.99, None),
        ("<= 400", ComparisonOp.LE, 400.0, None),
        ("< 5", ComparisonOp.LT, 5.0, None),
        ("> -1.5", ComparisonOp.GT, -1.5, None),
        ("== 0", ComparisonOp.EQ, 0.0, None),
        ("!= 3", ComparisonOp.NE, 3.0, None),
        ("<=1e3", ComparisonOp.LE, 1000.0, None),
        ("100..400", ComparisonOp.BETWEEN, 100.0, 400.0),
        (" 100 .. 400 ", ComparisonOp.BETWEEN, 100.0, 400.0),
        ("between 100 and 400", ComparisonOp.BETWEEN, 100.0, 400.0),
        ("Between -2 AND 2", ComparisonOp.BETWEEN, -2.0, 2.0),
    ],
)
def test_accepted_forms(text: str, op: ComparisonOp, value: float, high: float | None) -> None:
    comparison = parse_comparison(text)
    assert (comparison.op, comparison.value, comparison.high) == (op, value, high)
    assert str(comparison) == text


@pytest.mark.parametrize(
    "text", ["", ">=", "=> 1", "about 3", "1", "1..", "between 1 or 2", "5..1", ">= 1 2", "≥ 1"]
)
def test_bad_syntax_names_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match="between 100 and 400"):
        parse_comparison(text)


def test_ranges_are_inclusive_and_none_or_nan_never_hold() -> None:
    comparison = parse_comparison("100..400")
    assert comparison.holds(100) and comparison.holds(400) and comparison.holds(250.5)
    assert not comparison.holds(99.999) and not comparison.holds(400.001)
    assert not comparison.holds(None) and not comparison.holds(math.nan)
    assert not parse_comparison("!= 1").holds(math.nan)


def test_str_without_text_is_canonical() -> None:
    assert str(Comparison(ComparisonOp.GE, 0.5)) == ">= 0.5"
    assert str(Comparison(ComparisonOp.BETWEEN, 1, 2)) == "1..2"


@given(op=st.sampled_from(sorted(OPS)), bound=finite, x=finite)
def test_single_comparisons_agree_with_python(op: str, bound: float, x: float) -> None:
    comparison = parse_comparison(f"{op} {bound!r}")
    assert comparison.value == bound
    assert comparison.holds(x) == OPS[op](x, bound)


@given(a=finite, b=finite, x=finite, words=st.booleans())
def test_ranges_agree_with_python(a: float, b: float, x: float, words: bool) -> None:
    low, high = min(a, b), max(a, b)
    text = f"between {low!r} and {high!r}" if words else f"{low!r}..{high!r}"
    comparison = parse_comparison(text)
    assert comparison.holds(x) == (low <= x <= high)
