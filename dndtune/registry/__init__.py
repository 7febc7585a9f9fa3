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
from dndtune.registry.store import DeployRecord, HistoryEntry, PerfRecord, Registry, RegistryState, VersionRecord
from dndtune.registry.versions import (
    ModelVersion,
    check_reexport,
    list_versions,
    load_version,
    record_completed,
    record_deploy,
    record_reexport,
)

__all__ = [
    "DeployRecord",
    "HistoryEntry",
    "ModelVersion",
    "PerfRecord",
    "Registry",
    "RegistryState",
    "Thresholds",
    "VerifiedExport",
    "VersionRecord",
    "check_recorded",
    "check_reexport",
    "hash_gguf",
    "list_versions",
    "load_version",
    "measure",
    "promote",
    "record_completed",
    "record_deploy",
    "record_perf",
    "record_reexport",
    "rollback",
    "verify_export",
    "verify_promoted",
    "warnings_against",
]
