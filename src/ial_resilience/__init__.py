"""ial-resilience: the Observability & Resilience module of IaL.

Chaos experiments that always revert, backups proven by restore, alerting that is itself tested.
The command line is ``ialr``; see README.md.
"""

from ial_resilience.errors import ExitCode, IalrError

__version__ = "0.1.0"
__all__ = ["ExitCode", "IalrError", "__version__"]
