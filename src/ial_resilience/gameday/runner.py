"""``ialr gameday``: lab up (if needed) → load generator → every experiment of the suite
through the engine → report.json + report.html → stop what it started.

Each experiment is loaded right before it runs, with the lab's variables (``${lb}``,
``${control}``, …), ``${loadgen}`` (the load generator's live /metrics) and
``${replica.api-N}`` (each registered replica, read from the control plane at that moment —
a replica restarted by an earlier experiment may have moved).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ial_resilience.alerting.state import FiredAlert
from ial_resilience.engine import plan as plan_mod
from ial_resilience.engine import safety
from ial_resilience.engine.journal import write_atomic
from ial_resilience.engine.model import RunStatus
from ial_resilience.engine.plan import new_run_id, slug
from ial_resilience.engine.providers.local import LocalProvider
from ial_resilience.engine.run import Observer, Run, RunOptions
from ial_resilience.errors import IalrError, InputError
from ial_resilience.gameday import alerts as alerts_mod
from ial_resilience.gameday import kpis as kpis_mod
from ial_resilience.gameday.labcheck import verify_lab
from ial_resilience.gameday.outcome import ExperimentOutcome, build_outcome
from ial_resilience.gameday.report import build_report, check_writable, write_report
from ial_resilience.gameday.timeline import read_requests
from ial_resilience.gameday.traffic import (
    LoadgenProcess,
    SettleRule,
    replica_variables,
    restarts_total,
)
from ial_resilience.observability.store import TelemetryStore
from ial_resilience.spec import load_experiment, load_suite
from ial_resilience.spec.suite import Suite

LIBRARY = "chaos"
FULL_SUITE = "suite.yaml"
QUICK_SUITE = "quick-suite.yaml"
WARM_UP_S = 3.0
"""Traffic before the first experiment: connections opened, caches warm, a clean 1 s window."""
PLACEHOLDER = "http://127.0.0.1:9"
"""Stands for ``${loadgen}`` while the suite is checked, before the load generator starts."""


def library_dir() -> Path:
    """``./chaos`` when it exists, else the checkout's ``chaos/`` next to ``src/``."""
    here = Path.cwd() / LIBRARY
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / LIBRARY


def default_suite(quick: bool) -> Path:
    path = library_dir() / (QUICK_SUITE if quick else FULL_SUITE)
    if not path.is_file():
        raise InputError(
            f"no experiment library at {path}",
            hint="run from the project checkout, or give the suite with --suite FILE",
        )
    return path


@dataclass(frozen=True)
class GamedayOptions:
    suite: Path
    output: Path
    quick: bool = False
    keep_lab: bool = False
    state_dir: Path | None = None
    rate: float = 20.0
    variables: Mapping[str, str] = field(default_factory=dict)
    policy_file: Path | None = None
    alert_drain_s: float = alerts_mod.DRAIN_S
    """After the last experiment, how long alert rules keep being evaluated (late alerts)."""


@dataclass(frozen=True)
class GamedayResult:
    report: dict[str, Any]
    json_path: Path
    html_path: Path
    exit_code: int


class GamedayObserver(Observer, Protocol):
    """What the CLI's progress display implements (experiment boundaries + engine events)."""

    def experiment_started(self, index: int, total: int, title: str) -> None: ...

    def experiment_ended(self, index: int, journal: Mapping[str, Any]) -> None: ...


@dataclass
class _Run:
    index: int
    journal: dict[str, Any]
    path: Path
    extra: dict[str, Any]


class Gameday:
    def __init__(self, options: GamedayOptions, observer: GamedayObserver) -> None:
        self.options = options
        self.observer = observer
        self.policy = safety.load_policy(options.policy_file)
        self.interrupted = False

    def run(self) -> GamedayResult:
        options = self.options
        if not options.suite.is_file():
            raise InputError(
                f"no suite file at {options.suite}",
                hint="give an existing suite with --suite, or omit it for chaos/suite.yaml",
            )
        check_writable(options.output)
        (options.output / "journals").mkdir(exist_ok=True)
        started = time.time()
        with lab_session(options) as lab:
            lab_ready_s = time.time() - started
            variables = day_variables(lab.variables, options.variables)
            if "lb" not in variables:
                raise InputError(
                    "the system exports no `lb` (the URL users reach); the load generator "
                    "needs one",
                    hint="export lb in the system file, or pass --var lb=http://HOST:PORT "
                    "(and loadgen_mix, e.g. 'GET /items=1', for the requests users make)",
                )
            suite = load_suite(options.suite, checking_variables(variables, lab.control))
            self._preflight(suite, lab.state_dir)
            loadgen = LoadgenProcess(
                variables["lb"],
                options.rate,
                options.output / "telemetry.db",
                options.output,
                mix=variables.get("loadgen_mix", ""),
            )
            watch = alert_watch(lab.state_dir)
            try:
                loadgen.start()
                variables["loadgen"] = loadgen.stats_url
                loadgen.wait_for_traffic(int(options.rate * WARM_UP_S))
                if watch is not None:
                    watch.start()  # from the first traffic to the end of the last experiment
                runs = self._experiments(suite, variables, lab, loadgen)
                if watch is not None and not self.interrupted:
                    watch.drain(options.alert_drain_s)
            finally:
                fired = watch.stop() if watch is not None and watch.started_at else []
                loadgen_summary = loadgen.stop()
        ended = time.time()
        meta = {
            "title": suite.title,
            "suite": str(options.suite),
            "quick": options.quick,
            "started_at": started,
            "ended_at": ended,
            "duration_s": ended - started,
            "lab_ready_s": lab_ready_s,
            "interrupted": self.interrupted,
            "lab": {"started_by_gameday": lab.started, "kept": options.keep_lab},
            "loadgen": loadgen_summary,
        }
        return self._report(runs, meta, started, ended, (watch, fired))

    def _preflight(self, suite: Suite, state_dir: Path) -> None:
        """Every experiment's faults and probes are supported, before any traffic starts."""
        provider = LocalProvider.from_state_dir(state_dir)
        try:
            for entry in suite.experiments:
                assert entry.experiment is not None  # load_suite loaded it
                plan_mod.validate(entry.experiment, provider)
        finally:
            provider.close()

    def _experiments(
        self, suite: Suite, variables: dict[str, str], lab: LabSession, loadgen: LoadgenProcess
    ) -> list[_Run]:
        runs: list[_Run] = []
        total = len(suite.experiments)
        for index, entry in enumerate(suite.experiments, start=1):
            lab_check = verify_lab(lab.state_dir, lab.control)
            settled = loadgen.settle(SettleRule())
            names = {**variables, **replica_variables(lab.control), **entry.vars}
            experiment = load_experiment(entry.path, names)
            self.observer.experiment_started(index, total, experiment.title)
            path = self.options.output / "journals" / f"{index:02d}-{slug(experiment.title)}.json"
            before = restarts_total(lab.control)
            journal = self._one(experiment, Path(entry.path), path, lab)
            after = restarts_total(lab.control)
            extra: dict[str, Any] = {"settle_before": settled, "lab_before": lab_check.as_dict()}
            if before is not None and after is not None:
                extra["restarts"] = after - before
            runs.append(_Run(index, journal, path, extra))
            self.observer.experiment_ended(index, journal)
            if journal.get("complete") is False and journal.get("status") == "aborted":
                self.interrupted = True  # Ctrl-C/SIGTERM: faults reverted; stop the day here
                break
            if suite.stop_on_failure and journal.get("status") != RunStatus.PASSED.value:
                break
        return runs

    def _one(self, experiment: Any, file: Path, path: Path, lab: LabSession) -> dict[str, Any]:
        """Run one experiment; an error that stops it before a journal exists becomes one."""
        started = time.time()
        options = RunOptions(
            state_dir=lab.state_dir, journal_path=path, experiment_file=file,
            policy=self.policy, system="lab", run_id=new_run_id(experiment.title),
        )  # fmt: skip
        provider = LocalProvider.from_state_dir(lab.state_dir)
        try:
            return Run(experiment, provider, options, observers=[self.observer]).execute().journal
        except IalrError as error:
            journal = error_journal(experiment.title, file, error, started)
            write_atomic(path, journal)
            return journal
        finally:
            provider.close()

    def _report(
        self,
        runs: Sequence[_Run],
        meta: dict[str, Any],
        started: float,
        ended: float,
        alerting: tuple[alerts_mod.AlertWatch | None, list[FiredAlert]],
    ) -> GamedayResult:
        store = TelemetryStore(self.options.output / "telemetry.db")
        try:
            everything = read_requests(store, started - 1.0, ended + 1.0)
        finally:
            store.close()
        watch, fired = alerting
        starts = [float(run.journal.get("started_at") or 0.0) for run in runs]
        outcomes = [
            dataclasses.replace(
                _outcome(run, everything),
                alerts=tuple(alerts_mod.per_experiment(run.journal, fired, until)),
            )
            for run, until in zip(runs, [*starts[1:], None], strict=True)
        ]
        ok = sum(1 for r in everything if r.ok)
        block = alerts_block(watch, fired, [run.journal for run in runs])
        kpis = {
            **kpis_mod.kpis(outcomes, ok, len(everything)),
            **alerts_mod.kpis(block.get("accuracy")),
        }
        report = build_report(outcomes, kpis, {**meta, "alerts": block})
        json_path, html_path = write_report(self.options.output, report, outcomes)
        return GamedayResult(report, json_path, html_path, int(kpis["exit_code"]))


def error_journal(title: str, file: Path, error: IalrError, started: float) -> dict[str, Any]:
    """A journal-shaped record of a run the engine refused or could not start."""
    return {
        "schema": "ialr.journal/1",
        "complete": False,
        "experiment": {"title": title, "file": str(file)},
        "status": RunStatus.ERROR.value,
        "exit_code": int(error.exit_code),
        "reason": f"{type(error).__name__}: {error.message}",
        "started_at": started,
        "ended_at": time.time(),
        "faults": [],
    }


def _outcome(run: _Run, everything: Sequence[Any]) -> ExperimentOutcome:
    started = float(run.journal.get("started_at") or 0.0)
    ended = float(run.journal.get("ended_at") or started)
    requests = [r for r in everything if started <= r.ts < ended]
    return build_outcome(run.index, run.journal, str(run.path), requests, run.extra)


def day_variables(lab: Mapping[str, str], given: Mapping[str, str]) -> dict[str, str]:
    """The variables every experiment of the day gets: the lab's, ``${python}``, the user's."""
    return {**lab, "python": sys.executable, **given}


def checking_variables(variables: Mapping[str, str], control: str | None) -> dict[str, str]:
    """What the library's files are checked with before any traffic: ``variables``, each
    replica's address (``${replica.api-N}``) and a placeholder for ``${loadgen}``, whose address
    is known only once the load generator runs. ``ialr chaos validate --lab`` uses it too."""
    return {**variables, **replica_variables(control), "loadgen": PLACEHOLDER}


# -- alerts -----------------------------------------------------------------------------------
def alert_watch(state_dir: Path) -> alerts_mod.AlertWatch | None:
    """The lab's rules on the lab's store (``<state_dir>/lab/telemetry.db``); None when there
    is none (a lab started by an older version)."""
    from ial_resilience.lab.telemetry import store_path

    store = store_path(state_dir)
    if not store.is_file():
        return None
    return alerts_mod.AlertWatch(alerts_mod.lab_rules_path(), store)


def alerts_block(
    watch: alerts_mod.AlertWatch | None,
    fired: Sequence[FiredAlert],
    journals: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """report.json's ``alerts``: what was evaluated, every alert fired, accuracy."""
    if watch is None:
        return {"evaluated": False, "reason": "the lab has no telemetry store (lab/telemetry.db)"}
    return {
        "evaluated": True,
        "rules": str(watch.rules_path),
        "store": str(watch.store_path),
        "interval_s": watch.interval,
        "rounds": watch.rounds,
        "round_errors": list(watch.errors),
        "fired": [alerts_mod.alert_json(a, None) for a in fired],
        "accuracy": alerts_mod.day_accuracy(watch.rules, fired, journals),
    }


# -- the lab ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabSession:
    variables: dict[str, str]
    state_dir: Path
    control: str | None
    started: bool


@contextlib.contextmanager
def lab_session(options: GamedayOptions) -> Iterator[LabSession]:
    """The running lab, or one started here (stopped on exit unless ``keep_lab``)."""
    from ial_resilience.lab import Lab

    lab = Lab(options.state_dir)
    info = lab.info()
    started = info is None
    if info is None:
        info = lab.up()
    try:
        variables = dict(info.variables())
        yield LabSession(variables, Path(info.state_dir), variables.get("control"), started)
    finally:
        if started and not options.keep_lab:
            lab.down()
