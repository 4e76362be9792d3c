"""Entry point of ``ialr``. Command groups live in sibling modules and are registered here.

Expected errors (every :class:`~ial_resilience.errors.IalrError`) are caught once, here, and
printed as ``Error: …`` plus a hint, with the error's exit code; never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from typer._click.exceptions import NoArgsIsHelpError
from typer.exceptions import TyperException

from ial_resilience import __version__
from ial_resilience.cli import agent, alerts, backup, chaos, demo, gameday, lab, observe
from ial_resilience.errors import ExitCode, IalrError

app = typer.Typer(
    name="ialr",
    help=(
        "IaL resilience toolkit: chaos experiments that always revert, backups proven by "
        "restore, alerting that is itself tested.\n\n"
        "Exit codes: 0 passed, 1 deviated, 2 aborted by a guardrail, 3 invalid input, "
        "4 refused by safety policy, 5 provider error, 6 inconclusive."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(chaos.app, name="chaos")
app.add_typer(agent.app, name="agent")
app.add_typer(backup.app, name="backup")
app.add_typer(backup.recovery_app, name="recovery")
app.add_typer(observe.app, name="observe")
app.add_typer(alerts.app, name="alerts")
app.add_typer(lab.app, name="lab")
demo.register(app)
gameday.register(app)


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


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
    try:
        result = app(args=argv, standalone_mode=False)
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
