"""Errors of the agent's domain, each with the HTTP status and code the API answers with.

They extend the tool's tree (:mod:`ial_resilience.errors`); the domain raises them and only
:mod:`ial_resilience.agent.api` turns them into HTTP answers.
"""

from __future__ import annotations

from ial_resilience.errors import FaultRejected, InputError


class NotFound(InputError):
    """An unknown link, process or fault (HTTP 404)."""

    status = 404
    code = "not_found"


class Conflict(InputError):
    """A name already taken, a port in use (HTTP 409)."""

    status = 409
    code = "conflict"


class FaultApplyFailed(FaultRejected):
    """A fault passed validation but applying it failed; the others were reverted (HTTP 409)."""

    status = 409
    code = "apply_failed"
