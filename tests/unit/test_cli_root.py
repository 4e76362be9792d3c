from ial_resilience import __version__
from ial_resilience.cli.main import main


def test_version(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_unknown_command_is_invalid_input(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["no-such-command"]) == 3
    assert "No such command" in capsys.readouterr().err
