"""Suite files: an ordered list of experiments (a game day).

```yaml
version: 1
title: Database game day
stop_on_failure: true
experiments:
  - path: latency-db.yaml          # relative to the suite file
    vars: {lb: "http://127.0.0.1:18080"}
```

:func:`load_suite` loads every experiment too and reports the problems of all files at once.
An entry's ``vars`` rank below ``--var`` and above the system file's vars.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from ial_resilience.errors import Problem, SpecError
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
