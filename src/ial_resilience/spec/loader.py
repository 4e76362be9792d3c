"""Load experiment and system files: parse, substitute ``${vars}``, validate, cross-check.

Every problem found is collected (not only the first) and raised in one
:class:`~ial_resilience.errors.SpecError`, in file order, each with file, line, column, key
path, what was found and what is expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ial_resilience.errors import Problem, SpecError
from ial_resilience.spec.checks import experiment_checks, system_checks
from ial_resilience.spec.document import Document, read_document
from ial_resilience.spec.models import Experiment
from ial_resilience.spec.problems import validation_problems
from ial_resilience.spec.system import System
from ial_resilience.spec.variables import Variables, substitute_document

M = TypeVar("M", bound=BaseModel)


def make_variables(
    variables: Mapping[str, str] | None = None,
    system: System | None = None,
    environ: Mapping[str, str] | None = None,
) -> Variables:
    """The variable sources: ``--var`` values, the system file's, the environment."""
    return Variables(
        cli=dict(variables or {}),
        system=system.variables() if system else {},
        environ=dict(os.environ if environ is None else environ),
    )


def load_experiment(
    path: str | Path,
    variables: Mapping[str, str] | None = None,
    system: System | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Experiment:
    """Load and validate an experiment file; ``SpecError`` listing every problem."""
    return experiment_from_document(
        read_document(path), make_variables(variables, system, environ), system
    )


def experiment_from_document(
    document: Document, variables: Variables, system: System | None = None
) -> Experiment:
    """Validate an already parsed experiment document (see :func:`load_experiment`)."""
    problems = shape_problems(document, "version, title, targets, steady_state and method")
    problems += substitute_document(document, variables)
    experiment, model_problems = validate_model(document, Experiment)
    problems += unless_reported(model_problems, problems)
    problems += experiment_checks(document, system)
    raise_problems(problems)
    assert experiment is not None
    return experiment


def load_system(
    path: str | Path,
    variables: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> System:
    """Load and validate a system file; ``SpecError`` listing every problem.

    Its string values may use ``${name}`` from ``variables``, its own ``vars`` and the
    environment (the ``vars`` section itself is taken as written).
    """
    document = read_document(path)
    problems = shape_problems(document, "version, name, links, processes and faults")
    own = document.data.get("vars") if isinstance(document.data, dict) else None
    own_vars = {str(k): str(v) for k, v in own.items()} if isinstance(own, dict) else {}
    sources = Variables(
        cli=dict(variables or {}),
        system=own_vars,
        environ=dict(os.environ if environ is None else environ),
    )
    problems += substitute_document(document, sources, skip=("vars",))
    system, model_problems = validate_model(document, System)
    problems += unless_reported(model_problems, problems)
    problems += system_checks(document)
    raise_problems(problems)
    assert system is not None
    return system


def unless_reported(new: list[Problem], reported: list[Problem]) -> list[Problem]:
    """``new`` without problems at keys already reported (a value with an unknown variable)."""
    keys = {p.key for p in reported}
    return [p for p in new if p.key not in keys]


def shape_problems(document: Document, keys: str) -> list[Problem]:
    if isinstance(document.data, dict):
        return []
    found = "an empty file" if document.data is None else f"a {type(document.data).__name__}"
    problem = Problem(document.file, 1, 1, "", found, f"a mapping with {keys}")
    raise SpecError([problem])


def validate_model(document: Document, model: type[M]) -> tuple[M | None, list[Problem]]:
    data: dict[str, Any] = {**document.data, "__source__": document.file}
    try:
        return model.model_validate(data), []
    except ValidationError as error:
        return None, validation_problems(document, error, model)


def raise_problems(problems: list[Problem]) -> None:
    """Raise one ``SpecError`` with every problem, in file order (nothing if empty)."""
    if problems:
        unique = {(p.file, p.line, p.column, p.key, p.found): p for p in problems}
        ordered = sorted(unique.values(), key=lambda p: (p.file, p.line, p.column, p.key))
        raise SpecError(ordered)
