"""Suite files: experiments resolved relative to the suite, all problems of all files at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ial_resilience.errors import SpecError
from ial_resilience.spec import load_suite

EXPERIMENT = """\
version: 1
title: "${name}"
targets: {db: {link: api->db}}
steady_state:
  - probe: {tcp: {address: "127.0.0.1:5432"}}
    tolerance: {success_rate: ">= 1"}
method:
  - {fault: network.down, target: db, duration: 1s}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_suite_loads_every_experiment_with_its_vars(tmp_path: Path) -> None:
    write(tmp_path / "exps" / "down.yaml", EXPERIMENT)
    suite_path = write(
        tmp_path / "suite.yaml",
        """\
        version: 1
        title: game day
        stop_on_failure: true
        experiments:
          - {path: exps/down.yaml, vars: {name: first}}
          - {path: exps/down.yaml, vars: {name: second}}
        """,
    )
    suite = load_suite(suite_path, environ={})
    assert suite.stop_on_failure is True
    assert suite.source == str(suite_path)
    titles = [entry.experiment.title for entry in suite.experiments if entry.experiment]
    assert titles == ["first", "second"]
    assert suite.experiments[0].path == str(tmp_path / "exps" / "down.yaml")
    overridden = load_suite(suite_path, {"name": "cli"}, environ={})
    assert {e.experiment.title for e in overridden.experiments if e.experiment} == {"cli"}


def test_problems_of_the_suite_and_of_each_experiment_together(tmp_path: Path) -> None:
    write(tmp_path / "down.yaml", EXPERIMENT)
    suite_path = write(
        tmp_path / "suite.yaml",
        """\
        version: 1
        title: game day
        experiments:
          - path: missing.yaml
          - path: down.yaml
        """,
    )
    with pytest.raises(SpecError) as caught:
        load_suite(suite_path, environ={})
    found = [(p.file, p.line, p.column, p.key) for p in caught.value.problems]
    assert found == [
        (str(tmp_path / "down.yaml"), 2, 9, "title"),
        (str(suite_path), 4, 11, "experiments[0].path"),
    ]
    assert "which is not a file" in caught.value.problems[1].found


def test_suite_shape_problems(tmp_path: Path) -> None:
    suite_path = write(tmp_path / "suite.yaml", "version: 1\nexperiments: {a: 1}\nretry: 2\n")
    with pytest.raises(SpecError) as caught:
        load_suite(suite_path, environ={})
    assert [(p.line, p.column, p.key) for p in caught.value.problems] == [
        (1, 1, "title"),
        (2, 14, "experiments"),
        (3, 1, "retry"),
    ]
