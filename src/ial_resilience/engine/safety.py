"""The safety policy: which environments may be hit, and how much of a service one fault may
touch. Documented in docs/SAFETY.md.

The policy comes from ``--policy FILE``, else ``./ialr-policy.yaml`` when it exists, else the
defaults below. ``production`` (or ``prod``) is refused unless BOTH the policy file says
``allow_production: true`` AND the run is given ``--allow-production``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ial_resilience.engine.model import ResolvedTarget
from ial_resilience.errors import InputError, SafetyRefusal

DEFAULT_POLICY_FILE = "ialr-policy.yaml"
PRODUCTION_NAMES = frozenset({"production", "prod"})


class EnvironmentRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: tuple[str, ...] = ("lab", "local", "dev", "test", "staging")
    blocked: tuple[str, ...] = ("production", "prod")
    allow_production: bool = False


class BlastRadius(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_share: float = Field(default=0.5, gt=0, le=1)


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    environments: EnvironmentRules = EnvironmentRules()
    blast_radius: BlastRadius = BlastRadius()
    source: str = "defaults"


def load_policy(path: Path | None, *, cwd: Path | None = None) -> Policy:
    """The policy of ``path``, else of ``./ialr-policy.yaml``, else the defaults."""
    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_POLICY_FILE
        if not candidate.is_file():
            return Policy()
        path = candidate
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except (OSError, YAMLError) as error:
        raise InputError(
            f"cannot read the safety policy {path}: {error}",
            hint="fix the file (see docs/SAFETY.md) or pass another with --policy",
        ) from error
    if not isinstance(data, dict):
        raise InputError(f"{path}: the policy must be a mapping", hint="see docs/SAFETY.md")
    try:
        return Policy.model_validate({**data, "source": str(path)})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"{path}: {where}: {first['msg']}", hint="see docs/SAFETY.md for the policy keys"
        ) from error


def check_environment(policy: Policy, environment: str, *, allow_production: bool) -> None:
    """Refuse an environment the policy does not allow; the message says what to change."""
    rules = policy.environments
    if environment in PRODUCTION_NAMES:
        if not rules.allow_production:
            raise SafetyRefusal(
                f"environment {environment!r} is refused: the safety policy ({policy.source}) "
                "does not allow production",
                hint="set environments.allow_production: true in the policy file AND pass "
                "--allow-production (both are required)",
            )
        if not allow_production:
            raise SafetyRefusal(
                f"environment {environment!r} is refused: --allow-production was not given",
                hint="pass --allow-production to confirm a run in production",
            )
        return
    if environment in rules.blocked:
        raise SafetyRefusal(
            f"environment {environment!r} is blocked by the safety policy ({policy.source})",
            hint="remove it from environments.blocked in the policy file, or run elsewhere",
        )
    if rules.allowed and environment not in rules.allowed:
        raise SafetyRefusal(
            f"environment {environment!r} is not in the policy's allowed environments "
            f"({', '.join(rules.allowed)}; {policy.source})",
            hint="add it to environments.allowed in the policy file (--policy FILE)",
        )


def check_blast_radius(policy: Policy, fault: str, target: ResolvedTarget) -> None:
    """Refuse a fault that would touch more than ``max_share`` of a service's replicas."""
    if not target.replicas or target.touched is None:
        return
    share = target.touched / target.replicas
    limit = policy.blast_radius.max_share
    if share > limit + 1e-9:
        raise SafetyRefusal(
            f"{fault} on {target.name!r} would touch {target.touched} of {target.replicas} "
            f"replicas ({share:.0%}), above the blast radius of {limit:.0%} ({policy.source})",
            hint="touch fewer replicas, or raise blast_radius.max_share in the policy file",
        )


def check(
    policy: Policy,
    environment: str,
    faults: Sequence[tuple[str, ResolvedTarget]],
    *,
    allow_production: bool,
) -> None:
    """Every check of the policy, environment first."""
    check_environment(policy, environment, allow_production=allow_production)
    for fault, target in faults:
        check_blast_radius(policy, fault, target)
