"""One exception root for the whole tool, with exit codes CI can use.

The tree::

    IalrError                      exit 1 (unexpected failure inside the tool)
    ├── InputError                 exit 3  bad input: files, flags, variables, API bodies
    │   ├── SpecError              experiment / suite / system file problems (file:line:col)
    │   └── VariableError          ``${name}`` that no source defines
    ├── SafetyRefusal              exit 4  the safety policy said no (environment, blast radius)
    │   └── LockHeld               another run holds the system's lock
    ├── ProviderError              exit 5  the provider (agent, AWS) could not do what was asked
    │   ├── AgentUnreachable       nothing answers at the agent's address
    │   ├── AgentAuthError         the agent refused the token (401/403)
    │   ├── AgentProtocolError     the agent answered something that is not its protocol
    │   └── FaultRejected          the provider refused one fault (bounds, target)
    ├── StoreError                 exit 5  the telemetry or history store is unusable
    └── BackupError                exit 5  a backup, verify or restore step failed

Every error carries a ``hint``: what the user should do next. The CLI catches ``IalrError`` once
and prints ``Error: <message>`` and ``Hint: <hint>``; tracebacks are for bugs only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of ``ialr``; documented in README.md."""

    PASSED = 0
    DEVIATED = 1
    ABORTED = 2
    INVALID_INPUT = 3
    REFUSED = 4
    PROVIDER_ERROR = 5
    INCONCLUSIVE = 6


class IalrError(Exception):
    """Root of every error this tool raises on purpose."""

    exit_code: ExitCode = ExitCode.DEVIATED

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(IalrError):
    exit_code = ExitCode.INVALID_INPUT


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file: where, which key, what was found, what is expected."""

    file: str
    line: int
    column: int
    key: str
    found: str
    expected: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} found {self.found}; expected {self.expected}"


@dataclass
class _Problems:
    items: list[Problem] = field(default_factory=list)


class SpecError(InputError):
    """One or more problems in an input file. ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem], *, hint: str = "") -> None:
        self.problems = list(problems)
        head = str(self.problems[0]) if self.problems else "invalid input"
        more = len(self.problems) - 1
        message = head if more <= 0 else f"{head} (and {more} more problem{'s' * (more > 1)})"
        super().__init__(message, hint=hint or "fix the file and run `ialr chaos validate` again")


class VariableError(InputError):
    pass


class SafetyRefusal(IalrError):
    exit_code = ExitCode.REFUSED


class LockHeld(SafetyRefusal):
    pass


class ProviderError(IalrError):
    exit_code = ExitCode.PROVIDER_ERROR


class AgentUnreachable(ProviderError):
    pass


class AgentAuthError(ProviderError):
    pass


class AgentProtocolError(ProviderError):
    pass


class FaultRejected(ProviderError):
    pass


class StoreError(IalrError):
    exit_code = ExitCode.PROVIDER_ERROR


class BackupError(IalrError):
    exit_code = ExitCode.PROVIDER_ERROR
