"""The state directory: where it is, the token file's mode, agent.json round trip."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ial_resilience.agent.state import (
    AgentInfo,
    ensure_state_dir,
    read_agent_info,
    read_token,
    remove_agent_info,
    resolve_state_dir,
    write_agent_info,
    write_token,
)


def test_resolve_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IALR_STATE_DIR", str(tmp_path / "env"))
    assert resolve_state_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_state_dir(None) == tmp_path / "env"
    monkeypatch.delenv("IALR_STATE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_state_dir(None) == tmp_path / ".local" / "state" / "ialr"


def test_token_is_private_from_creation_and_fresh_each_time(tmp_path: Path) -> None:
    state = ensure_state_dir(tmp_path / "s")
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    (state / "agent.token").write_text("old")
    (state / "agent.token").chmod(0o644)
    first = write_token(state)
    assert stat.S_IMODE((state / "agent.token").stat().st_mode) == 0o600
    assert read_token(state) == first and len(first) >= 40
    assert write_token(state) != first


def test_agent_json_round_trip_and_removal_only_by_its_owner(tmp_path: Path) -> None:
    write_agent_info(tmp_path, AgentInfo(url="http://127.0.0.1:1", pid=42))
    assert read_agent_info(tmp_path) == AgentInfo(url="http://127.0.0.1:1", pid=42)
    remove_agent_info(tmp_path, pid=7)
    assert (tmp_path / "agent.json").exists()
    remove_agent_info(tmp_path, pid=42)
    assert not (tmp_path / "agent.json").exists()
