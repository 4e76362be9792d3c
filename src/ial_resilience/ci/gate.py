"""The deploy gate: ``ialr ci --gate --min-score N``.

The deploy fails when a hypothesis broke (the suite's own exit code, 1/2/6, or 3/4/5 when it
could not run) or, with every hypothesis held, when the resilience score (INTERFACES §8,
computed over the whole history including this run) is below ``N`` or cannot be computed
(not enough data) — exit :data:`GATE_EXIT`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

GATE_EXIT = 7
"""``ialr ci --gate``: every hypothesis held but the resilience score is below --min-score."""


class ScorePartLike(Protocol):
    name: str
    weight: float
    value: float | None
    detail: str


class ScoreLike(Protocol):
    @property
    def value(self) -> float | None: ...

    @property
    def parts(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class GateResult:
    passed: bool
    exit_code: int
    min_score: float
    score: float | None
    reasons: tuple[str, ...]
    parts: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "exit_code": self.exit_code,
            "min_score": self.min_score,
            "score": self.score,
            "reasons": list(self.reasons),
            "parts": list(self.parts),
        }

    def markdown(self) -> str:
        verdict = "passed ✅" if self.passed else f"failed ❌ (exit {self.exit_code})"
        score = "not enough data" if self.score is None else f"{self.score:.1f}"
        lines = [
            f"**Deploy gate {verdict}**: resilience score {score} (minimum {self.min_score:g})."
        ]
        lines += [f"- {reason}" for reason in self.reasons]
        if self.parts:
            lines += ["", "| part | weight | value | detail |", "|---|---|---|---|"]
            for p in self.parts:
                value = "–" if p.get("value") is None else f"{float(p['value']):.3g}"
                lines.append(
                    f"| {p.get('name')} | {p.get('weight')} | {value} | "
                    f"{str(p.get('detail', '')).replace('|', '/')} |"
                )
        return "\n".join(lines)


def _part(part: Any) -> dict[str, Any]:
    if hasattr(part, "to_json"):
        return dict(part.to_json())
    return {k: getattr(part, k, None) for k in ("name", "weight", "value", "detail")}


def judge(suite_exit: int, score: ScoreLike | None, min_score: float) -> GateResult:
    """Pass only when the suite exited 0 and the score is at least ``min_score``."""
    value = None if score is None else score.value
    parts = tuple(_part(p) for p in (score.parts if score is not None else ()))
    reasons: list[str] = []
    if suite_exit != 0:
        reasons.append(f"a hypothesis did not hold: the suite exited {suite_exit}")
    if value is None:
        reasons.append("no resilience score: not enough history (run the suite more often)")
    elif value < min_score:
        reasons.append(f"resilience score {value:.1f} is below --min-score {min_score:g}")
    if not reasons:
        return GateResult(True, 0, min_score, value, (), parts)
    code = suite_exit if suite_exit != 0 else GATE_EXIT
    return GateResult(False, code, min_score, value, tuple(reasons), parts)
