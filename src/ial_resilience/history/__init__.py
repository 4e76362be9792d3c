"""The history of every result: chaos runs, game days, alert accuracy, recovery drills,
backups and rollouts in one SQLite store (docs/INTERFACES.md §8); ``analyze``, ``score`` and
``kpis`` turn it into trends, a resilience score and the plan's KPIs."""

from ial_resilience.history.model import Record, RecordKind
from ial_resilience.history.record import (
    ImportReport,
    import_paths,
    record_accuracy,
    record_backup,
    record_drill,
    record_gameday,
    record_journal,
    record_rollout,
    save,
)
from ial_resilience.history.store import HistoryStore, default_history_path

__all__ = [
    "HistoryStore",
    "ImportReport",
    "Record",
    "RecordKind",
    "default_history_path",
    "import_paths",
    "record_accuracy",
    "record_backup",
    "record_drill",
    "record_gameday",
    "record_journal",
    "record_rollout",
    "save",
]
