"""The guides' commands still work: every fenced ``bash`` block of docs/WALKTHROUGH.md and
docs/CHAOS_ENGINEERING_GUIDE.md says how it is tested, on the line before it:

- ``<!-- docs-test: run -->``: this test runs each command, in the document's order, in a
  sandbox (own state dir and history; ``examples/`` and ``chaos/`` linked in), and checks its
  exit code: 0, or the code a trailing ``# exit N`` names;
- ``<!-- docs-test: covered-by PATH -->``: a command too long for this test (a whole game day,
  a server that runs until stopped) is run by the test file PATH, which must hold each of the
  command's words (file names excepted: the test uses its own).

A block without either fails the test, so a new command cannot slip into a guide untested.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
GUIDES = ("WALKTHROUGH.md", "CHAOS_ENGINEERING_GUIDE.md")
DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(?P<how>run|covered-by)\s*(?P<path>\S+)?\s*-->")
EXPECT = re.compile(r"#\s*exit\s+(?P<code>\d+)\s*$")
COMMAND_TIMEOUT_S = 180


@dataclass
class Command:
    line: int
    text: str
    expected_exit: int = 0


@dataclass
class Block:
    file: Path
    line: int
    how: str | None
    covered_by: str | None
    commands: list[Command] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def _commands(lines: list[tuple[int, str]]) -> list[Command]:
    """Join ``\\`` continuations; drop comments-only lines; read a trailing ``# exit N``."""
    commands: list[Command] = []
    pending: tuple[int, str] | None = None
    for number, raw in lines:
        text = raw.rstrip()
        start, joined = pending if pending else (number, "")
        if text.endswith("\\"):
            pending = (start, joined + text[:-1] + " ")
            continue
        pending = None
        full = (joined + text).strip()
        if not full or full.startswith("#"):
            continue
        expected = EXPECT.search(full)
        code = int(expected["code"]) if expected else 0
        body = EXPECT.sub("", full).strip() if expected else full
        commands.append(Command(start, body, code))
    return commands


def read_blocks(path: Path) -> list[Block]:
    """Every fenced bash block of ``path`` with the directive on the line before its fence."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() in ("```bash", "```sh", "```shell"):
            previous = next((ln for ln in reversed(lines[:index]) if ln.strip()), "")
            match = DIRECTIVE.search(previous)
            body: list[tuple[int, str]] = []
            index += 1
            while index < len(lines) and lines[index].strip() != "```":
                body.append((index + 1, lines[index]))
                index += 1
            blocks.append(
                Block(
                    path,
                    body[0][0] - 1 if body else index,
                    match["how"] if match else None,
                    match["path"] if match else None,
                    _commands(body),
                )
            )
        index += 1
    return blocks


def all_blocks() -> list[Block]:
    return [b for name in GUIDES for b in read_blocks(ROOT / "docs" / name)]


def test_every_guide_exists_and_has_commands() -> None:
    for name in GUIDES:
        blocks = read_blocks(ROOT / "docs" / name)
        assert sum(len(b.commands) for b in blocks) >= 5, f"{name}: too few commands"


def test_every_command_block_says_how_it_is_tested() -> None:
    untested = [b.where for b in all_blocks() if b.how is None]
    assert not untested, f"bash blocks without a docs-test directive: {untested}"


def test_blocks_covered_by_another_test_are_in_that_test() -> None:
    for block in all_blocks():
        if block.how != "covered-by":
            continue
        assert block.covered_by, f"{block.where}: covered-by names no test file"
        source_file = ROOT / block.covered_by
        assert source_file.is_file(), f"{block.where}: {block.covered_by} does not exist"
        source = source_file.read_text()
        for command in block.commands:
            words = [w for w in shlex.split(command.text) if w != "ialr" and not _is_path(w)]
            missing = [w for w in words if w not in source]
            assert not missing, f"{block.where}: {block.covered_by} never uses {missing}"


def _is_path(word: str) -> bool:
    """A file, directory or placeholder (``RUN-ID``) the reader picks: the covering test uses
    its own."""
    return (
        "/" in word
        or bool(re.fullmatch(r"[\w.-]+\.(ya?ml|db|json|html|xml|md)", word))
        or bool(re.fullmatch(r"[A-Z][A-Z0-9_-]*", word))
    )


def _sandbox(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    for name in ("examples", "chaos"):
        (work / name).symlink_to(ROOT / name)
    env = {
        **os.environ,
        "IALR_STATE_DIR": str(tmp_path / "state"),
        "IALR_HISTORY": str(tmp_path / "history.db"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "120",
    }
    return work, env


@pytest.mark.postgres
@pytest.mark.parametrize("guide", GUIDES)
def test_the_commands_of_the_guide_run(guide: str, tmp_path: Path) -> None:
    work, env = _sandbox(tmp_path)
    runnable = [b for b in read_blocks(ROOT / "docs" / guide) if b.how == "run"]
    assert runnable, f"{guide} has no block this test runs"
    try:
        for block in runnable:
            for command in block.commands:
                done = subprocess.run(
                    ["bash", "-c", command.text],
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=COMMAND_TIMEOUT_S,
                    stdin=subprocess.DEVNULL,
                )
                where = f"docs/{guide}:{command.line}: `{command.text}`"
                assert done.returncode == command.expected_exit, (
                    f"{where} exited {done.returncode}, the guide says {command.expected_exit}"
                    f"\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
                )
    finally:
        subprocess.run(
            ["bash", "-c", "ialr lab down >/dev/null 2>&1 || true"],
            cwd=work,
            env=env,
            timeout=60,
        )
