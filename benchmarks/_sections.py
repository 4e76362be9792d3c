"""Each benchmark owns one section of BENCHMARKS.md, between its start and end markers."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS_MD = Path(__file__).with_name("BENCHMARKS.md")


def write_section(section: str, start: str, end: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace the text between ``start`` and ``end`` (markers included) with ``section``, or
    append ``section`` when the markers are not there yet. Other sections are left as they are."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
