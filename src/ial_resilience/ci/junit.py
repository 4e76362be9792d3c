"""JUnit XML of a game-day report: one ``testcase`` per experiment, for CI test panels.

``passed`` → a plain testcase; ``deviated``/``aborted``/``inconclusive`` → ``<failure>`` whose
``message`` is the run's reason; ``error`` → ``<error>``. Written with the standard library's
ElementTree (escaping handled there).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ial_resilience.ci.files import write_text

FAILED = frozenset({"deviated", "aborted", "inconclusive"})


def junit_xml(report: Mapping[str, Any], classname: str) -> str:
    experiments = list(report.get("experiments") or [])
    failures = sum(1 for e in experiments if e.get("status") in FAILED)
    errors = sum(1 for e in experiments if e.get("status") == "error")
    suite = ET.Element(
        "testsuite",
        name=str(report.get("title") or classname),
        tests=str(len(experiments)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{float(report.get('duration_s') or 0.0):.3f}",
    )
    for e in experiments:
        duration = float(e.get("ended_at") or 0.0) - float(e.get("started_at") or 0.0)
        case = ET.SubElement(
            suite,
            "testcase",
            classname=classname,
            name=str(e.get("title")),
            file=str(e.get("file") or ""),
            time=f"{max(duration, 0.0):.3f}",
        )
        status, reason = str(e.get("status")), str(e.get("reason") or "")
        if status in FAILED or status == "error":
            tag = "error" if status == "error" else "failure"
            node = ET.SubElement(case, tag, message=f"{status}: {reason}", type=status)
            node.text = _details(e)
        ET.SubElement(case, "system-out").text = f"journal: {e.get('journal')}"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _details(e: Mapping[str, Any]) -> str:
    lines = [f"status: {e.get('status')}", f"reason: {e.get('reason')}"]
    if e.get("time_to_recover_s") is not None:
        lines.append(f"time to recover: {float(e['time_to_recover_s']):.2f}s")
    lines.append(f"journal: {e.get('journal')}")
    return "\n".join(lines)


def write_junit(path: Path, report: Mapping[str, Any], classname: str) -> Path:
    write_text(path, junit_xml(report, classname))
    return path
