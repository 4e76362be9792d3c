"""Validation against the provider and the plan of a run (what ``--dry-run`` prints)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ial_resilience.engine.model import PlannedFault, ResolvedTarget
from ial_resilience.engine.provider import Provider
from ial_resilience.errors import InputError


@dataclass(frozen=True, slots=True)
class Plan:
    run_id: str
    title: str
    environment: str
    provider: str
    faults: tuple[PlannedFault, ...]
    targets: Mapping[str, ResolvedTarget]
    steady_state: tuple[str, ...]
    probes: tuple[str, ...]
    guardrails: tuple[str, ...]
    recovery_within: float

    @property
    def method_duration(self) -> float:
        return max((f.end for f in self.faults), default=0.0)


def slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "run"


def new_run_id(title: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"{stamp}-{slug(title, 24)}-{secrets.token_hex(2)}"


def probe_kinds(experiment: Any) -> list[str]:
    checks = [*experiment.steady_state, *experiment.probes, *experiment.guardrails]
    return [check.probe.kind.value for check in checks]


def validate(experiment: Any, provider: Provider) -> None:
    """Refuse faults and probes the provider cannot carry out, naming both."""
    faults = provider.supported_faults()
    for index, step in enumerate(experiment.method):
        if step.fault not in faults:
            raise InputError(
                f"method[{index}]: fault {step.fault!r} is not supported by the "
                f"{provider.name!r} provider (it supports: {', '.join(sorted(faults))})",
                hint="use a supported fault, or a provider that carries this one out",
            )
    probes = provider.supported_probes()
    for kind in probe_kinds(experiment):
        if kind not in probes:
            raise InputError(
                f"probe kind {kind!r} is not supported by the {provider.name!r} provider",
                hint=f"use one of: {', '.join(sorted(probes))}",
            )


def params_dict(params: Any) -> dict[str, Any]:
    if hasattr(params, "model_dump"):
        dumped: dict[str, Any] = params.model_dump(mode="json")
        return dumped
    return dict(params or {})


def make_plan(
    experiment: Any, provider: Provider, targets: Mapping[str, ResolvedTarget], run_id: str
) -> Plan:
    faults = []
    for index, step in enumerate(experiment.method):
        target = targets[step.target]
        faults.append(
            PlannedFault(
                index=index,
                key=f"{run_id}-s{index}",
                fault=step.fault,
                target=step.target,
                target_detail=target.detail,
                params=params_dict(step.params),
                after=float(step.after),
                duration=float(step.duration),
                direction=str(getattr(step.direction, "value", step.direction)),
                toxicity=float(step.toxicity),
                params_model=step.params,
            )
        )
    return Plan(
        run_id=run_id,
        title=experiment.title,
        environment=experiment.environment,
        provider=provider.name,
        faults=tuple(faults),
        targets=dict(targets),
        steady_state=tuple(c.probe.label for c in experiment.steady_state),
        probes=tuple(c.probe.label for c in experiment.probes),
        guardrails=tuple(g.probe.label for g in experiment.guardrails),
        recovery_within=float(experiment.recovery.within),
    )
