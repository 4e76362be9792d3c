"""``ialr chaos validate`` and ``ialr chaos schema`` through the CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from ial_resilience.cli.main import app, main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()
BAD = """\
version: 1
title: bad
targets: {db: {link: api->db}}
steady_state:
  - probe: {http: {url: "orders"}}
    tolerance: {success_rate: "most"}
method:
  - {fault: network.latensy, target: db, duration: 1s}
"""


def test_validate_examples_ok() -> None:
    files = [str(EXAMPLES / n) for n in ("latency-db.yaml", "suite.yaml", "system.yaml")]
    result = runner.invoke(
        app, ["chaos", "validate", *files, "--system", str(EXAMPLES / "system.yaml")]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3 and all(line.startswith("OK ") for line in lines)
    assert "experiment 'Orders API tolerates 200 ms latency to the database'" in lines[0]
    assert "suite 'Database link game day': 2 experiments" in lines[1]
    assert "system 'shop': 2 links, 1 process, 1 declared fault" in lines[2]


def test_validate_prints_every_problem_and_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = runner.invoke(app, ["chaos", "validate", str(path)])
    assert result.exit_code == 3
    assert result.output.splitlines() == [
        f"{path}:5:25: steady_state[0].probe.http.url: found 'orders'; expected an http:// "
        "or https:// URL with a host, such as http://127.0.0.1:8080/health",
        f"{path}:6:31: steady_state[0].tolerance.success_rate: found 'most'; expected a "
        'comparison such as ">= 0.99", "<= 400", "< 5", "== 0", "100..400" or '
        '"between 100 and 400"',
        f"{path}:8:13: method[0].fault: found unknown fault 'network.latensy'; expected a fault "
        "of the vocabulary: " + result.output.split("vocabulary: ")[1].strip(),
    ]
    assert "vocabulary: network.latency," in result.output


def test_validate_json_and_vars(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD.replace('"orders"', '"${lb}/orders"'), encoding="utf-8")
    result = runner.invoke(app, ["chaos", "validate", "--json", str(path)], env={"lb": ""})
    assert result.exit_code == 3
    (report,) = json.loads(result.output)
    assert report["ok"] is False and report["kind"] == "experiment"
    assert report["problems"][0]["key"] == "steady_state[0].probe.http.url"
    fixed = BAD.replace('"orders"', '"${lb}/orders"').replace('"most"', '">= 0.9"')
    path.write_text(fixed.replace("network.latensy", "network.latency, with: {latency: 1ms}"))
    args = ["chaos", "validate", "--json", "--var", "lb=http://127.0.0.1:1", str(path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["ok"] is True


def test_invalid_system_file_is_reported_with_the_others(tmp_path: Path) -> None:
    system = tmp_path / "system.yaml"
    system.write_text("version: 1\nname: s\nlinks: {a: {listen: x, upstream: 'h:1'}}\n")
    experiment = str(EXAMPLES / "latency-db.yaml")
    result = runner.invoke(app, ["chaos", "validate", experiment, "--system", str(system)])
    assert result.exit_code == 3
    assert f"{system}:3:21: links.a.listen: found 'x'" in result.output
    assert f"{experiment}:" in result.output  # ${lb} is unknown without the system's vars


def test_bad_var_flag_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "validate", "--var", "novalue", str(EXAMPLES / "system.yaml")]) == 3
    assert "--var 'novalue' is not NAME=VALUE" in capsys.readouterr().err


def test_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    result = runner.invoke(app, ["chaos", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 3
    assert "nope.yaml:1:1: found an unreadable file" in result.output


@pytest.mark.parametrize("kind", ["experiment", "suite", "system"])
def test_schema_prints_a_valid_json_schema(kind: str) -> None:
    result = runner.invoke(app, ["chaos", "schema", "--kind", kind])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == f"ialr {kind} file"


def test_schema_rejects_an_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "schema", "--kind", "nope"]) == 3
    assert "nope" in capsys.readouterr().err


def test_validate_with_lab_but_no_lab_running_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["chaos", "validate", "--lab", "--state-dir", str(tmp_path), "x.yaml"])
    err = capsys.readouterr().err
    assert code == 3
    assert f"no lab is running (no lab.json in {tmp_path})" in err and "ialr lab up" in err


def test_run_with_lab_but_no_lab_running_applies_nothing_and_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    experiment = str(EXAMPLES / "walkthrough" / "inventory-latency.yaml")
    code = main(["chaos", "run", "--lab", "--state-dir", str(tmp_path), experiment])
    err = capsys.readouterr().err
    assert code == 3
    assert "no lab is running" in err and "ialr lab up" in err
    assert not (tmp_path / "ledgers").exists()


def test_a_lab_system_file_is_checked_as_lab_up_reads_it() -> None:
    files = [
        str(EXAMPLES / "walkthrough" / "system.yaml"),
        str(EXAMPLES.parent / "src" / "ial_resilience" / "lab" / "system.yaml"),
    ]
    result = runner.invoke(app, ["chaos", "validate", *files])
    assert result.exit_code == 0, result.output
    assert "OK " in result.output and "system 'catalog': 2 links, 2 processes" in result.output
    assert "system 'lab': 4 links, 5 processes" in result.output


def test_a_lab_system_file_with_a_bad_after_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "system.yaml"
    path.write_text(
        "version: 1\nname: x\nports: {a: 0}\nprocesses:\n"
        '  p: {command: ["${python}", "-c", "1"], after: [q]}\n'
    )
    result = runner.invoke(app, ["chaos", "validate", str(path)])
    assert result.exit_code == 3
    assert f"{path}:5:" in result.output and "unknown part 'q'" in result.output
