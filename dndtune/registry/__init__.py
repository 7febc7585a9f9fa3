"""Model management: versions (runs), promote, rollback, history and performance monitoring."""

from dndtune.registry.actions import promote, record_perf, rollback
from dndtune.registry.perf import Thresholds, measure, warnings_against
from dndtune.registry.store import HistoryEntry, PerfRecord, Registry, RegistryState
from dndtune.registry.versions import ModelVersion, list_versions, load_version

__all__ = [
    "HistoryEntry", "ModelVersion", "PerfRecord", "Registry", "RegistryState", "Thresholds", "list_versions",
    "load_version", "measure", "promote", "record_perf", "rollback", "warnings_against",
]
