"""``ialr ci SUITE``: one game day (the lab by default) for a pipeline, with its CI files.

The suite runs through :class:`ial_resilience.gameday.Gameday` (the same runner as
``ialr gameday``) under the suite lock (one suite at a time per state directory; a second one
is refused, exit 4). Afterwards: ``report.json``/``report.html`` in ``output``, JUnit XML, a
markdown summary (also appended to ``$GITHUB_STEP_SUMMARY``), and with ``gate`` the deploy
gate's verdict (:mod:`ial_resilience.ci.gate`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ial_resilience.agent.state import resolve_state_dir
from ial_resilience.ci.files import write_text
from ial_resilience.ci.gate import GateResult, ScoreLike, judge
from ial_resilience.ci.junit import junit_xml
from ial_resilience.ci.summary import markdown_summary
from ial_resilience.engine.plan import slug
from ial_resilience.errors import IalrError, InputError
from ial_resilience.gameday import Gameday, GamedayObserver, GamedayOptions, GamedayResult
from ial_resilience.gameday.alerts import DRAIN_S
from ial_resilience.schedule import history_io
from ial_resilience.schedule.scheduler import suite_lock


@dataclass(frozen=True)
class CiOptions:
    suite: Path
    output: Path
    state_dir: Path | None = None
    rate: float = 20.0
    variables: Mapping[str, str] = field(default_factory=dict)
    keep_lab: bool = False
    junit: Path | None = None
    summary: Path | None = None
    step_summary: Path | None = None
    gate: bool = False
    min_score: float = 80.0
    alert_drain_s: float = DRAIN_S


@dataclass(frozen=True)
class CiResult:
    gameday: GamedayResult
    exit_code: int
    junit: Path
    summary: Path
    markdown: str
    gate: GateResult | None
    warning: str | None = None

    def to_json(self) -> dict[str, Any]:
        report = self.gameday.report
        return {
            "suite": report.get("suite"),
            "title": report.get("title"),
            "exit_code": self.exit_code,
            "suite_exit_code": self.gameday.exit_code,
            "report_json": str(self.gameday.json_path),
            "report_html": str(self.gameday.html_path),
            "junit": str(self.junit),
            "summary": str(self.summary),
            "gate": None if self.gate is None else self.gate.to_json(),
            "experiments": [
                {k: e.get(k) for k in ("index", "title", "status", "reason", "time_to_recover_s")}
                for e in report.get("experiments") or []
            ],
        }


ScoreSource = Callable[[], ScoreLike | None]


def run_suite(options: CiOptions, observer: GamedayObserver, *, lock: bool = True) -> GamedayResult:
    """The game day of ``options.suite`` (under the suite lock unless the caller holds it)."""
    if not options.suite.is_file():
        raise InputError(
            f"no suite file at {options.suite}",
            hint="give the path of a suite file (e.g. chaos/quick-suite.yaml)",
        )
    gameday = Gameday(
        GamedayOptions(
            suite=options.suite,
            output=options.output,
            keep_lab=options.keep_lab,
            state_dir=options.state_dir,
            rate=options.rate,
            variables=dict(options.variables),
            alert_drain_s=options.alert_drain_s,
        ),
        observer,
    )
    guard: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if lock:
        guard = suite_lock(resolve_state_dir(options.state_dir), str(options.suite))
    with guard:
        return gameday.run()


def run_ci(
    options: CiOptions,
    observer: GamedayObserver,
    *,
    history: Path | None = None,
    score: ScoreSource | None = None,
) -> CiResult:
    """Run the suite, record it, write JUnit + summary, judge the gate (score: the history's
    resilience score unless ``score`` is given); the exit code of the pipeline."""
    result = run_suite(options, observer)
    report = result.report
    warning = history_io.record_gameday(report, result.json_path, history)
    verdict = None
    if options.gate:
        source = score or (lambda: history_io.resilience_score(history))
        try:
            verdict = judge(result.exit_code, source(), options.min_score)
        except IalrError as error:  # the store is unusable: the gate cannot pass
            code = result.exit_code or int(error.exit_code)
            reason = f"no resilience score: {error.message}"
            verdict = GateResult(False, code, options.min_score, None, (reason,))
    code = result.exit_code if verdict is None else verdict.exit_code
    junit = options.junit or options.output / "junit.xml"
    summary = options.summary or options.output / "summary.md"
    write_text(junit, junit_xml(report, f"ialr.{slug(str(report.get('title') or 'suite'))}"))
    markdown = markdown_summary(report, str(result.json_path), code, verdict)
    write_text(summary, markdown)
    if options.step_summary is not None:
        write_text(options.step_summary, markdown + "\n", append=True)
    return CiResult(result, code, junit, summary, markdown, verdict, warning)
