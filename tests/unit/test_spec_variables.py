"""``${name}`` substitution: precedence, escaping, links, and problems at their position."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ial_resilience.errors import InputError, SpecError
from ial_resilience.spec import load_experiment, load_system, parse_assignments
from ial_resilience.spec.variables import Variables, substitute

EXPERIMENT = """\
version: 1
title: "${title}"
description: 'literal $${title} stays'
targets:
  db-link: {link: api->db}
steady_state:
  - probe: {tcp: {address: "${links.api->db}"}}
    tolerance: {success_rate: ">= 1"}
method:
  - fault: network.latency
    target: db-link
    with: {latency: "${latency}"}
    duration: 10s
"""

SYSTEM = """\
version: 1
name: shop
vars: {title: from-system, latency: 100ms}
links:
  api->db: {listen: "127.0.0.1:15432", upstream: "127.0.0.1:5432"}
  elastic: {listen: "127.0.0.1:0", upstream: "127.0.0.1:9200"}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_precedence_cli_then_system_then_environment(tmp_path: Path) -> None:
    system = load_system(write(tmp_path, "system.yaml", SYSTEM), environ={})
    path = write(tmp_path, "exp.yaml", EXPERIMENT)
    environ = {"title": "from-env", "latency": "5ms"}
    from_system = load_experiment(path, system=system, environ=environ)
    assert from_system.title == "from-system"
    assert from_system.method[0].params.latency == 0.1  # type: ignore[attr-defined]
    from_cli = load_experiment(path, {"title": "from-cli"}, system, environ=environ)
    assert from_cli.title == "from-cli"
    without_system = load_experiment(path, {"links.api->db": "h:1"}, environ=environ)
    assert without_system.title == "from-env"
    assert without_system.method[0].params.latency == 0.005  # type: ignore[attr-defined]


def test_escape_and_link_addresses(tmp_path: Path) -> None:
    system = load_system(write(tmp_path, "system.yaml", SYSTEM), environ={})
    assert system.variables()["links.api->db"] == "127.0.0.1:15432"
    assert "links.elastic" not in system.variables()  # port 0: chosen when the agent starts
    experiment = load_experiment(write(tmp_path, "exp.yaml", EXPERIMENT), system=system)
    assert experiment.description == "literal ${title} stays"
    assert str(experiment.steady_state[0].probe.config.address) == "127.0.0.1:15432"  # type: ignore[union-attr]


def test_every_unknown_variable_is_reported_where_it_is_written(tmp_path: Path) -> None:
    path = write(tmp_path, "exp.yaml", EXPERIMENT)
    with pytest.raises(SpecError) as caught:
        load_experiment(path, environ={})
    found = [(p.line, p.column, p.key, p.found) for p in caught.value.problems]
    assert found == [
        (2, 9, "title", "unknown variable ${title}"),
        (7, 29, "steady_state[0].probe.tcp.address", "unknown variable ${links.api->db}"),
        (12, 22, "method[0].with.latency", "unknown variable ${latency}"),
    ]


def test_substitute_inside_text() -> None:
    variables = Variables(cli={"a": "1"}, system={"a": "2", "b": "x"}, environ={"c": "env"})
    text, problems = substitute("${a}-${b}-${c}-$${a}-${d}", variables)
    assert text == "1-x-env-${a}-${d}"
    assert [(p.offset, p.text) for p in problems] == [(21, "unknown variable ${d}")]


@pytest.mark.parametrize(
    ("text", "found"), [("x ${", "an unclosed ${"), ("${9x}", "the variable name '9x'")]
)
def test_malformed_references(text: str, found: str) -> None:
    _, problems = substitute(text, Variables(environ={}))
    assert [p.text for p in problems] == [found]


def test_suite_entry_vars_rank_below_cli() -> None:
    variables = Variables(cli={"a": "cli"}, system={"b": "sys"}, environ={})
    merged = variables.with_cli({"a": "entry", "b": "entry"})
    assert (merged.lookup("a"), merged.lookup("b")) == ("cli", "entry")


def test_parse_assignments() -> None:
    assert parse_assignments(["lb=http://h:1/x=y", "empty="]) == {
        "lb": "http://h:1/x=y",
        "empty": "",
    }
    with pytest.raises(InputError, match="not NAME=VALUE"):
        parse_assignments(["novalue"])
