"""Model management: versions (runs), promote, rollback, history and performance monitoring."""

from dndtune.registry.actions import (
    VerifiedExport,
    check_recorded,
    hash_gguf,
    promote,
    record_perf,
    rollback,
    verify_export,
    verify_promoted,
)
from dndtune.registry.perf import Thresholds, measure, warnings_against
from dndtune.registry.store import HistoryEntry, PerfRecord, Registry, RegistryState
from dndtune.registry.versions import ModelVersion, list_versions, load_version

__all__ = [
    "HistoryEntry", "ModelVersion", "PerfRecord", "Registry", "RegistryState", "Thresholds", "VerifiedExport",
    "check_recorded", "hash_gguf", "list_versions", "load_version", "measure", "promote", "record_perf", "rollback",
    "verify_export", "verify_promoted", "warnings_against",
]
