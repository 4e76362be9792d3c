"""Rich live progress of a run (for terminals): phase, fault windows, guardrails, last events.

An observer of the engine's events; it never raises into the run (the engine counts observer
errors anyway).
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ial_resilience.engine.model import Event, EventKind, Phase


class LiveProgress:
    """``with LiveProgress(console) as live:`` and pass ``live`` as an observer."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.phase = Phase.VALIDATE
        self.faults: dict[str, tuple[str, str]] = {}
        self.guardrail = "not started"
        self.recent: deque[str] = deque(maxlen=5)
        self.t0: float | None = None
        self._lock = threading.Lock()
        self._live = Live(console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def on_event(self, event: Event) -> None:
        with self._lock:
            self._apply(event)
            self._live.update(self._render(), refresh=True)

    def _apply(self, event: Event) -> None:
        self.t0 = event.t_mono if self.t0 is None else self.t0
        self.phase = event.phase
        key = str(event.data.get("key", ""))
        offset = event.t_mono - self.t0
        if event.kind is EventKind.FAULT_APPLIED:
            self.faults[key] = (event.message, f"active since {offset:.1f}s")
            self.guardrail = "watching"
        elif event.kind is EventKind.FAULT_REVERTED and key in self.faults:
            self.faults[key] = (self.faults[key][0], f"reverted at {offset:.1f}s")
            if self.guardrail == "watching" and all(
                state.startswith("reverted") for _, state in self.faults.values()
            ):
                self.guardrail = "held while the faults were active"
        elif event.kind is EventKind.GUARDRAIL_BREACH:
            self.guardrail = f"BREACHED: {event.message}"
        self.recent.append(f"{offset:7.2f}s {event.phase.value}: {event.message}")

    def _render(self) -> Group:
        faults = Table("fault", "window", box=None, show_header=True)
        for message, state in self.faults.values():
            faults.add_row(message, state)
        style = "red" if self.guardrail.startswith("BREACHED") else "green"
        return Group(
            Text(f"phase: {self.phase.value}", style="bold"),
            faults,
            Text(f"guardrails: {self.guardrail}", style=style),
            Text("\n".join(self.recent), style="dim"),
        )
