"""Checks across keys that one model cannot make: references between parts of a file.

They read the file's plain data (so they run even when the models found other problems) and
return :class:`~ial_resilience.errors.Problem` s at the referring value: a method step naming a
target that ``targets`` lacks, a fault aimed at a kind of target it cannot degrade, a target
naming a link or process the system file does not declare, a steady-state check without a
tolerance, a system link whose upstream is itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from ial_resilience.errors import Problem
from ial_resilience.faults.vocabulary import FAULTS, TargetKind
from ial_resilience.spec.document import Document
from ial_resilience.spec.fields import parse_address
from ial_resilience.spec.system import System


def _items(node: Any, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    value = node.get(key) if isinstance(node, dict) else None
    if isinstance(value, list):
        yield from ((i, item) for i, item in enumerate(value) if isinstance(item, dict))


def _target_kind(target: Any, kinds: tuple[str, ...]) -> TargetKind | None:
    if not isinstance(target, dict):
        return None
    present = [k for k in kinds if target.get(k) is not None]
    return TargetKind(present[0]) if len(present) == 1 else None


def _one_of(value: str, choices: list[str], what: str) -> str:
    if not choices:
        return f"{what} (none are declared)"
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    hint = f"{close[0]!r} (did you mean it?); " if close else ""
    return f"{hint}{what}: {', '.join(choices)}"


def _kind_problem(
    document: Document, path: tuple[str | int, ...], fault: str, kind: TargetKind
) -> Problem | None:
    entry = FAULTS.get(fault)
    if entry is None or kind in entry.target_kinds:
        return None
    allowed = " or ".join(sorted(k.value for k in entry.target_kinds))
    return document.problem(path, f"a {kind.value} target", f"a {allowed} target for {fault}")


def experiment_checks(document: Document, system: System | None) -> list[Problem]:
    """Cross-reference problems of an experiment file."""
    data = document.data if isinstance(document.data, dict) else {}
    targets = data.get("targets") if isinstance(data.get("targets"), dict) else {}
    assert isinstance(targets, dict)
    problems = list(_empty_checks(document, data))
    problems.extend(_step_checks(document, targets))
    problems.extend(_tolerance_checks(document))
    if system is not None:
        problems.extend(_system_target_checks(document, targets, system))
    return problems


def _empty_checks(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    wanted = {
        "targets": "at least one target, such as db-link: {link: api->db}",
        "steady_state": "at least one probe check with a tolerance",
        "method": "at least one fault step",
    }
    for key, expected in wanted.items():
        if key in data and isinstance(data[key], list | dict) and not data[key]:
            yield document.problem((key,), "an empty " + type(data[key]).__name__, expected)


def _step_checks(document: Document, targets: dict[str, Any]) -> Iterator[Problem]:
    kinds = tuple(k.value for k in TargetKind)
    for index, step in _items(document.data, "method"):
        name = step.get("target")
        if not isinstance(name, str):
            continue
        path = ("method", index, "target")
        if name not in targets:
            expected = _one_of(name, list(targets), "a key of targets")
            yield document.problem(path, f"unknown target {name!r}", expected)
            continue
        kind = _target_kind(targets[name], kinds)
        fault = step.get("fault")
        if kind is not None and isinstance(fault, str):
            problem = _kind_problem(document, path, fault, kind)
            if problem:
                yield problem


def _tolerance_checks(document: Document) -> Iterator[Problem]:
    for index, check in _items(document.data, "steady_state"):
        if not check.get("tolerance"):
            yield document.problem(
                ("steady_state", index),
                "no tolerance",
                'a tolerance, such as tolerance: {success_rate: ">= 0.99"}',
            )


def _system_target_checks(
    document: Document, targets: dict[str, Any], system: System
) -> Iterator[Problem]:
    declared: Mapping[str, list[str]] = {
        "link": list(system.links),
        "process": list(system.processes),
        "service": list(system.processes),
    }
    for name, target in targets.items():
        if not isinstance(target, dict):
            continue
        for kind, names in declared.items():
            value = target.get(kind)
            if isinstance(value, str) and value not in names:
                what = f"a {'link' if kind == 'link' else 'process'} of system {system.name!r}"
                yield document.problem(
                    ("targets", name, kind),
                    f"unknown {kind} {value!r}",
                    _one_of(value, names, what),
                )


def system_checks(document: Document) -> list[Problem]:
    """Cross-reference problems of a system file."""
    data = document.data if isinstance(document.data, dict) else {}
    links = data.get("links") if isinstance(data.get("links"), dict) else {}
    processes = data.get("processes") if isinstance(data.get("processes"), dict) else {}
    assert isinstance(links, dict) and isinstance(processes, dict)
    problems = list(_self_links(document, links))
    problems.extend(_fault_target_checks(document, links, processes))
    return problems


def _self_links(document: Document, links: dict[str, Any]) -> Iterator[Problem]:
    for name, link in links.items():
        if not isinstance(link, dict):
            continue
        try:
            listen = parse_address(str(link.get("listen")), allow_port_zero=True)
            upstream = parse_address(str(link.get("upstream")))
        except ValueError:
            continue  # the model reports bad addresses
        if listen == upstream:
            yield document.problem(
                ("links", name, "upstream"),
                f"the link's own listen address {upstream}",
                "the address of the real service, not the link itself",
            )


def _fault_target_checks(
    document: Document, links: dict[str, Any], processes: dict[str, Any]
) -> Iterator[Problem]:
    for index, fault in _items(document.data, "faults"):
        kind_name = fault.get("kind")
        entry = FAULTS.get(kind_name) if isinstance(kind_name, str) else None
        if entry is not None and entry.agent_kind is None:
            agent = sorted(n for n, k in FAULTS.items() if k.agent_kind)
            yield document.problem(
                ("faults", index, "kind"),
                f"{kind_name!r}, which the agent does not carry out",
                "a fault the agent carries out: " + ", ".join(agent),
            )
        target = fault.get("target")
        kind = _target_kind(target, ("link", "process", "host"))
        if kind is None or not isinstance(target, dict):
            continue
        path = ("faults", index, "target", kind.value)
        names = {"link": links, "process": processes}.get(kind.value)
        value = target.get(kind.value)
        if names is not None and isinstance(value, str) and value not in names:
            yield document.problem(
                path, f"unknown {kind.value} {value!r}", _one_of(value, list(names), f"a {kind}")
            )
        elif isinstance(kind_name, str):
            problem = _kind_problem(document, path, kind_name, kind)
            if problem:
                yield problem
