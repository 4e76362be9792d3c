"""The game day: a suite of experiments run against the lab under real traffic, reported.

Public API::

    from ial_resilience.gameday import Gameday, GamedayOptions, default_suite
    result = Gameday(GamedayOptions(suite=default_suite(quick=True), output=Path("r")),
                     observer).run()  # -> GamedayResult(report, json_path, html_path, …)

``gameday.kpis`` (pass rate, MTTR, availability), ``gameday.timeline`` (traffic buckets from
the telemetry store), ``gameday.report`` (report.json + self-contained report.html).
"""

from ial_resilience.gameday.runner import (
    Gameday,
    GamedayObserver,
    GamedayOptions,
    GamedayResult,
    default_suite,
    library_dir,
)

__all__ = [
    "Gameday",
    "GamedayObserver",
    "GamedayOptions",
    "GamedayResult",
    "default_suite",
    "library_dir",
]
