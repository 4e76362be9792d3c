"""Versions of the lab's API replicas: the settings a replica reads, and what they do.

A versions file (bundled: ``lab/versions.yaml``) names each version and its knobs; the
control plane starts a replica of a version with the env of :meth:`Version.env`, and the
replica (``lab.api``) installs :class:`VersionKnobs`, which makes the regression real:
``error_rate`` answers 500 to that share of requests, ``latency_ms`` delays every request,
``leak_per_s`` grows the process's memory every second (a slow leak).
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ial_resilience.errors import InputError, Problem, SpecError
from ial_resilience.spec.document import read_document
from ial_resilience.units import parse_size

BUNDLED = Path(__file__).with_name("versions.yaml")
ENV_VERSION = "IALR_VERSION"
ENV_ERROR_RATE = "IALR_VERSION_ERROR_RATE"
ENV_LATENCY_MS = "IALR_VERSION_LATENCY_MS"
ENV_LEAK = "IALR_VERSION_LEAK_PER_S"
KNOBS = {"error_rate", "latency_ms", "leak_per_s"}
LEAK_CAP = 512 * 1024 * 1024  # a leaking replica stops growing here (the lab stays usable)


@dataclass(frozen=True)
class Version:
    name: str
    description: str = ""
    error_rate: float = 0.0
    latency_ms: float = 0.0
    leak_per_s: int = 0
    known_good: bool = False

    def env(self) -> dict[str, str]:
        return {
            ENV_VERSION: self.name,
            ENV_ERROR_RATE: repr(self.error_rate),
            ENV_LATENCY_MS: repr(self.latency_ms),
            ENV_LEAK: str(self.leak_per_s),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "error_rate": self.error_rate,
            "latency_ms": self.latency_ms,
            "leak_per_s": self.leak_per_s,
            "known_good": self.known_good,
        }


@dataclass(frozen=True)
class Versions:
    baseline: str
    versions: dict[str, Version] = field(default_factory=dict)
    source: str = ""

    def get(self, name: str) -> Version:
        if name not in self.versions:
            known = ", ".join(sorted(self.versions))
            raise InputError(
                f"unknown version {name!r} in {self.source}",
                hint=f"known versions: {known} (add it under `versions:` of that file)",
            )
        return self.versions[name]


def load_versions(path: Path | str | None = None) -> Versions:
    """Read a versions file; :class:`SpecError` lists every problem at file:line."""
    path = Path(path) if path is not None else BUNDLED
    if not path.is_file():
        raise InputError(f"versions file {path} does not exist", hint="give --versions FILE")
    doc = read_document(path)
    data, problems = doc.data, []
    if not isinstance(data, dict) or not isinstance(data.get("versions"), dict):
        raise SpecError([doc.problem((), "no `versions:` mapping", "versions: {NAME: {...}}")])
    for key in data:
        if key not in {"version", "baseline", "versions"}:
            problems.append(doc.problem((key,), key, "version, baseline, versions", at_key=True))
    found: dict[str, Version] = {}
    for name, body in data["versions"].items():
        where: tuple[str | int, ...] = ("versions", name)
        if not isinstance(body, dict):
            problems.append(doc.problem(where, repr(body), "a mapping of knobs"))
            continue
        parsed, bad = _version(str(name), body, where, doc)
        problems.extend(bad)
        if parsed is not None:
            found[str(name)] = parsed
    baseline = str(data.get("baseline", ""))
    if baseline not in data["versions"]:
        problems.append(doc.problem(("baseline",), repr(baseline), "one of the versions"))
    if problems:
        raise SpecError(problems)
    return Versions(baseline, found, str(path))


def _version(
    name: str, body: dict[str, Any], where: tuple[str | int, ...], doc: Any
) -> tuple[Version | None, list[Problem]]:
    problems: list[Problem] = []
    allowed = {"description", "known_good", *KNOBS}
    for key in body:
        if key not in allowed:
            problems.append(
                doc.problem((*where, key), key, ", ".join(sorted(allowed)), at_key=True)
            )
    rate, latency, leak = body.get("error_rate", 0.0), body.get("latency_ms", 0.0), 0
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
        problems.append(doc.problem((*where, "error_rate"), repr(rate), "a number in [0, 1]"))
    if not isinstance(latency, int | float) or isinstance(latency, bool) or latency < 0:
        problems.append(doc.problem((*where, "latency_ms"), repr(latency), "a number >= 0"))
    try:
        leak = parse_size(body.get("leak_per_s", 0))
    except (ValueError, TypeError):
        problems.append(
            doc.problem((*where, "leak_per_s"), repr(body["leak_per_s"]), "a size: 1MiB")
        )
    if problems:
        return None, problems
    version = Version(
        name,
        str(body.get("description", "")),
        float(rate),
        float(latency),
        int(leak),
        bool(body.get("known_good", False)),
    )
    return version, []


class VersionKnobs:
    """ASGI middleware of a replica: the regression its version's env asks for."""

    SKIPPED = frozenset({"/health", "/metrics"})

    def __init__(self, app: Any, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if environ is None else environ
        self.app = app
        self.error_rate = float(env.get(ENV_ERROR_RATE) or 0.0)
        self.latency_s = float(env.get(ENV_LATENCY_MS) or 0.0) / 1000.0
        self.leak_per_s = int(env.get(ENV_LEAK) or 0)
        self._random = random.Random()
        self.leaked: list[bytearray] = []
        if self.leak_per_s > 0:
            threading.Thread(target=self._leak, name="version-leak", daemon=True).start()

    def _leak(self) -> None:
        total = 0
        while total < LEAK_CAP:
            chunk = bytearray(os.urandom(16)) * (self.leak_per_s // 16 + 1)
            self.leaked.append(chunk)
            total += len(chunk)
            time.sleep(1.0)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.SKIPPED:
            await self.app(scope, receive, send)
            return
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if self.error_rate > 0 and self._random.random() < self.error_rate:
            body = b'{"error": "this version fails on purpose (lab versions: error_rate)"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
