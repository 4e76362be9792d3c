"""Entry point of ``ialr``. Command groups live in sibling modules and are registered here.

Expected errors (every :class:`~ial_resilience.errors.IalrError`) are caught once, here, and
printed as ``Error: …`` plus a hint, with the error's exit code; never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from typer._click.exceptions import NoArgsIsHelpError
from typer.exceptions import TyperException

from ial_resilience import __version__
from ial_resilience.errors import ExitCode, IalrError

# Command groups are imported only when used: importing every group (boto3, psycopg,
# OpenTelemetry…) costs seconds, and `ialr lab down` should not pay for `ialr observe`.
_GROUPS: dict[str, tuple[str, str]] = {
    "chaos": ("ial_resilience.cli.chaos", "app"),
    "agent": ("ial_resilience.cli.agent", "app"),
    "backup": ("ial_resilience.cli.backup", "app"),
    "recovery": ("ial_resilience.cli.backup", "recovery_app"),
    "observe": ("ial_resilience.cli.observe", "app"),
    "alerts": ("ial_resilience.cli.alerts", "app"),
    "lab": ("ial_resilience.cli.lab", "app"),
    "schedule": ("ial_resilience.cli.schedule", "app"),
    "history": ("ial_resilience.cli.history", "app"),
}
_COMMANDS: dict[str, str] = {
    "demo": "ial_resilience.cli.demo",
    "gameday": "ial_resilience.cli.gameday",
    "ci": "ial_resilience.cli.ci",
    "analyze": "ial_resilience.cli.history",
    "kpis": "ial_resilience.cli.history",
    "score": "ial_resilience.cli.history",
    "deploy": "ial_resilience.cli.deploy",
    "dashboard": "ial_resilience.cli.dashboard",
}

HELP = (
    "IaL resilience toolkit: chaos experiments that always revert, backups proven by "
    "restore, alerting that is itself tested.\n\n"
    "Exit codes: 0 passed, 1 deviated, 2 aborted by a guardrail, 3 invalid input, "
    "4 refused by safety policy, 5 provider error, 6 inconclusive, "
    "7 deploy gate failed (ialr ci --gate)."
)


def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def build_app(only: str | None = None) -> typer.Typer:
    """The ``ialr`` app with every command, or with just ``only`` (plus ``version``)."""
    application = typer.Typer(
        name="ialr",
        help=HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name, (module, attribute) in _GROUPS.items():
        if only in (None, name):
            group = getattr(importlib.import_module(module), attribute)
            application.add_typer(group, name=name)
    registered: set[str] = set()  # a module may define several top-level commands
    for name, module in _COMMANDS.items():
        if only in (None, name) and module not in registered:
            importlib.import_module(module).register(application)
            registered.add(module)
    application.command("version")(version)
    application.callback()(_root)  # keeps `ialr` a group even when built with one command
    return application


def _root() -> None:
    pass


def __getattr__(name: str) -> typer.Typer:
    """``from ial_resilience.cli.main import app`` gives the whole app (tests, docs)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


def _command_of(args: list[str]) -> str | None:
    first = next((arg for arg in args if not arg.startswith("-")), None)
    known = first in _GROUPS or first in _COMMANDS or first == "version"
    return first if known else None


err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def report_error(error: IalrError) -> int:
    err_console.print(f"[bold red]Error:[/] {error.message}", markup=True)
    for problem in getattr(error, "problems", [])[1:]:
        err_console.print(f"       {problem}", markup=False)
    if error.hint:
        err_console.print(f"[yellow]Hint:[/] {error.hint}")
    return int(error.exit_code)


def main(argv: list[str] | None = None) -> int:
    """Run ``ialr``; returns (and exits with) the process exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        result = build_app(_command_of(args))(args=args, standalone_mode=False)
    except IalrError as error:
        code = report_error(error)
    except typer.Abort:
        err_console.print("Aborted.")
        code = 130
    except typer.Exit as exit_:
        code = int(exit_.exit_code)
    except NoArgsIsHelpError as error:
        error.show()
        code = 0
    except TyperException as error:  # usage errors from the (vendored) click layer
        error.show()  # type: ignore[attr-defined]
        raw = int(getattr(error, "exit_code", 1))
        code = ExitCode.INVALID_INPUT if raw == 2 else raw
    else:
        code = int(result) if isinstance(result, int) else 0
    if argv is None:
        sys.exit(code)
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    main()
