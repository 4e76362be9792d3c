from ial_resilience import __version__
from ial_resilience.cli.main import main


def test_version(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_unknown_command_is_invalid_input(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["no-such-command"]) == 3
    assert "No such command" in capsys.readouterr().err


def test_subcommand_builds_only_its_group() -> None:
    from ial_resilience.cli.main import _command_of, build_app

    assert _command_of(["--help"]) is None
    assert _command_of(["lab", "down"]) == "lab"
    assert _command_of(["version"]) == "version"
    names = {info.name for info in build_app("version").registered_groups}
    assert names == set()


def test_full_app_lists_every_group() -> None:
    from ial_resilience.cli.main import app

    names = {info.name for info in app.registered_groups}
    assert {"chaos", "agent", "backup", "recovery", "observe", "alerts", "lab"} <= names
