"""``ialr gameday`` input errors through the CLI: caught before any lab or traffic starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ial_resilience.cli.main import main
from ial_resilience.errors import ExitCode
from ial_resilience.gameday import default_suite, library_dir

QUICK = str(Path(__file__).resolve().parents[2] / "chaos" / "quick-suite.yaml")


def test_unwritable_report_directory_exits_3_and_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code = main(["gameday", "--suite", QUICK, "--output", str(blocker / "report")])
    err = capsys.readouterr().err
    assert code == ExitCode.INVALID_INPUT
    assert "is not writable" in err and "--output" in err
    assert not (blocker.parent / "report").exists()


def test_missing_suite_exits_3_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["gameday", "--suite", str(tmp_path / "nope.yaml"), "--output", str(tmp_path)])
    assert code == ExitCode.INVALID_INPUT
    assert "no suite file" in capsys.readouterr().err


def test_bad_var_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["gameday", "--suite", QUICK, "--output", str(tmp_path), "--var", "novalue"])
    assert code == ExitCode.INVALID_INPUT
    assert "k=v" in capsys.readouterr().err


def test_the_library_suites_are_found_from_the_checkout() -> None:
    assert library_dir().name == "chaos"
    assert default_suite(quick=True).name == "quick-suite.yaml"
    assert default_suite(quick=False).name == "suite.yaml"
