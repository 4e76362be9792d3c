"""Suite files: an ordered list of experiments (a game day).

```yaml
version: 1
title: Database game day
stop_on_failure: true
experiments:
  - path: latency-db.yaml          # relative to the suite file
    vars: {lb: "http://127.0.0.1:18080"}
schedule:                          # optional: when `ialr schedule run` / `deploy --aws` start it
  cron: "0 3 * * 1-5"              # 5-field cron, UTC
  min_interval: 6h                 # never again sooner than this after the last start
  daily_limit: 2                   # at most this many starts per UTC day
  adaptive: {after_failure: 0.25, after_passes: 5, slow_down: 2.0}
```

:func:`load_suite` loads every experiment too and reports the problems of all files at once.
An entry's ``vars`` rank below ``--var`` and above the system file's vars.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from ial_resilience.errors import Problem, SpecError
from ial_resilience.faults.vocabulary import DAY, DURATION_SCHEMA, duration_validator
from ial_resilience.spec.document import Document, read_document
from ial_resilience.spec.fields import SpecModel, Text
from ial_resilience.spec.loader import (
    experiment_from_document,
    make_variables,
    raise_problems,
    shape_problems,
    unless_reported,
    validate_model,
)
from ial_resilience.spec.models import Experiment
from ial_resilience.spec.system import System
from ial_resilience.spec.variables import Variables, substitute_document

CRON_FORM = (
    "a 5-field cron expression (minute hour day-of-month month day-of-week, UTC), "
    'such as "0 3 * * 1-5"'
)
CRON_PATTERN = r"^\s*\S+(\s+\S+){4}\s*$"


def check_cron(value: Any) -> str:
    """``value`` if it is a valid 5-field cron expression, a ``PydanticCustomError`` if not."""
    if not isinstance(value, str) or len(value.split()) != 5:
        raise PydanticCustomError("cron", CRON_FORM)
    if not croniter.is_valid(value):
        raise PydanticCustomError("cron", CRON_FORM + " with values in range")
    return " ".join(value.split())


Cron = Annotated[
    str, BeforeValidator(check_cron), WithJsonSchema({"type": "string", "pattern": CRON_PATTERN})
]
MinInterval = Annotated[
    float, duration_validator(allow_zero=True, maximum=7 * DAY), DURATION_SCHEMA
]


class Adaptive(SpecModel):
    """Adaptive frequency: more often after a failure, less after a long pass streak.

    After a run that did not pass, the suite is due again after ``after_failure`` × the cron's
    usual gap (0.25: four times as often). After ``after_passes`` passes in a row, each
    cron time counts only every ``slow_down``-th time (the gap is multiplied by it).
    """

    after_failure: float = Field(default=0.25, gt=0, le=1, description="gap factor, 0-1")
    after_passes: int = Field(default=5, ge=1, description="pass streak that slows down")
    slow_down: float = Field(default=2.0, ge=1, le=100, description="gap factor after it")


class Schedule(SpecModel):
    """When a suite runs on its own (``ialr schedule run``, ``ialr schedule deploy --aws``)."""

    cron: Cron = Field(description="5-field cron (UTC), e.g. '0 3 * * 1-5'")
    min_interval: MinInterval = Field(
        default=0.0, description="never start again sooner than this after the last start"
    )
    daily_limit: int | None = Field(default=None, ge=1, description="starts per UTC day")
    adaptive: Adaptive | None = None


class SuiteEntry(SpecModel):
    """One experiment of a suite; ``experiment`` is filled by :func:`load_suite`."""

    path: str = Field(min_length=1, description="experiment file, relative to the suite file")
    vars: dict[str, Text] = Field(default_factory=dict)
    experiment: SkipJsonSchema[Experiment | None] = Field(
        default=None, validation_alias="__experiment__"
    )


class Suite(SpecModel):
    """One suite file. ``source`` is the file it was loaded from (not a YAML key)."""

    version: Literal[1] = Field(description="file format version; 1")
    title: str = Field(min_length=1)
    experiments: tuple[SuiteEntry, ...] = Field(description="run in this order")
    stop_on_failure: bool = False
    schedule: Schedule | None = Field(default=None, description="optional; see `ialr schedule`")
    source: SkipJsonSchema[str] = Field(default="", validation_alias="__source__")


def load_suite(
    path: str | Path,
    variables: Mapping[str, str] | None = None,
    system: System | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Suite:
    """Load a suite and every experiment it lists; ``SpecError`` with the problems of all."""
    document = read_document(path)
    problems = shape_problems(document, "version, title and experiments")
    sources = make_variables(variables, system, environ)
    problems += substitute_document(document, sources)
    suite, model_problems = validate_model(document, Suite)
    problems += unless_reported(model_problems, problems)
    if suite is None:
        raise_problems(problems)
    assert suite is not None
    entries = []
    for index, entry in enumerate(suite.experiments):
        loaded, entry_problems = _load_entry(document, index, entry, sources, system)
        problems += entry_problems
        entries.append(loaded)
    raise_problems(problems)
    return suite.model_copy(update={"experiments": tuple(entries)})


def load_suite_header(path: str | Path) -> Suite:
    """The suite file's own keys (title, schedule, entries' paths), experiments not loaded.

    For commands that only need when a suite runs (``ialr schedule list``): no variables are
    needed; problems of the suite file itself (a bad cron) are a ``SpecError`` at file:line.
    """
    document = read_document(path)
    problems = shape_problems(document, "version, title and experiments")
    suite, model_problems = validate_model(document, Suite)
    raise_problems(problems + model_problems)
    assert suite is not None
    return suite


def _load_entry(
    document: Document, index: int, entry: SuiteEntry, sources: Variables, system: System | None
) -> tuple[SuiteEntry, list[Problem]]:
    file = Path(document.file).parent / entry.path
    if not file.is_file():
        problem = document.problem(
            ("experiments", index, "path"),
            f"{entry.path!r}, which is not a file ({file})",
            "the path of an experiment file, relative to the suite file",
        )
        return entry, [problem]
    try:
        experiment_document = read_document(file)
        experiment = experiment_from_document(
            experiment_document, sources.with_cli(entry.vars), system
        )
    except SpecError as error:
        return entry, list(error.problems)
    return entry.model_copy(update={"path": str(file), "experiment": experiment}), []
