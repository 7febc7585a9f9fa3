"""Find scenario files under ``training-data/<category>/`` and parse them, with a content-hash cache.

Re-running after editing one file re-parses only that file: every parse is stored under the
cache directory keyed by (parser version, path, category, file content).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.events import EventSink, ScenarioDiagnostic, StageDone, StageStarted
from dndtune.scenario.diagnostics import Diagnostic, has_errors
from dndtune.scenario.models import Scenario
from dndtune.scenario.parser import PARSER_VERSION, ParseResult, parse_scenario

SKIPPED_NAMES = frozenset({"readme.md"})
UNCATEGORIZED = "uncategorized"


@dataclass
class LoadResult:
    scenarios: list[Scenario] = field(default_factory=list)
    """Scenarios without errors (warnings allowed): what the dataset is built from."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    failed_files: list[str] = field(default_factory=list)
    parsed: int = 0
    """Files actually parsed this time (the rest came from the cache)."""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


def find_scenario_files(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, category) for every scenario file in ``paths`` (files or folders), sorted, deduplicated.

    A folder given directly is either a scenarios root (its subfolders are categories) or a
    category folder itself (it holds .md files directly).
    """
    found: dict[Path, str] = {}
    for path in paths:
        if not path.exists():
            raise DndtuneError("no such file or folder", path=str(path),
                               fix="pass a scenario .md file or a folder such as training-data/")
        if path.is_file():
            found[path] = path.parent.name if path.parent.name else UNCATEGORIZED
            continue
        for file in sorted(path.rglob("*.md")):
            if file.name.lower() in SKIPPED_NAMES or any(p.startswith(".") for p in file.parts):
                continue
            rel = file.relative_to(path)
            category = rel.parts[0] if len(rel.parts) > 1 else path.name
            found[file] = category
    return sorted(found.items())


def _cache_key(path: str, category: str, text: str) -> str:
    h = hashlib.sha256()
    for part in (PARSER_VERSION, path, category, text):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _read_cached(cache: Path | None, key: str) -> ParseResult | None:
    if cache is None:
        return None
    entry = cache / f"{key}.json"
    if not entry.exists():
        return None
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
        scenario = Scenario.model_validate(data["scenario"]) if data["scenario"] else None
        return ParseResult(scenario, [Diagnostic.model_validate(d) for d in data["diagnostics"]])
    except (OSError, ValueError, KeyError, ValidationError):
        return None  # A damaged cache entry is just a miss.


def _write_cached(cache: Path | None, key: str, result: ParseResult) -> None:
    if cache is None:
        return
    payload = {
        "scenario": result.scenario.model_dump(mode="json") if result.scenario else None,
        "diagnostics": [d.model_dump(mode="json") for d in result.diagnostics],
    }
    # The cache is an optimisation; a read-only or full disk must not fail validation.
    with contextlib.suppress(DndtuneError):
        write_text_atomic(cache / f"{key}.json", json.dumps(payload))


def load_scenarios(paths: Path | list[Path], events: EventSink, cache_dir: Path | None = None) -> LoadResult:
    """Parse every scenario under ``paths``; diagnostics are returned and emitted as events."""
    roots = paths if isinstance(paths, list) else [paths]
    cache = cache_dir / "scenarios" if cache_dir is not None else None
    result = LoadResult()
    files = find_scenario_files(roots)
    events.emit(StageStarted(stage="scenarios", message=f"reading {len(files)} scenario file(s)"))
    for file, category in files:
        display = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DndtuneError("not UTF-8 text", path=display, fix="save the file as UTF-8") from None
        key = _cache_key(display, category, text)
        parsed = _read_cached(cache, key)
        if parsed is None:
            parsed = parse_scenario(text, display, category)
            result.parsed += 1
            _write_cached(cache, key, parsed)
        result.files += 1
        result.diagnostics.extend(parsed.diagnostics)
        for diagnostic in parsed.diagnostics:
            events.emit(ScenarioDiagnostic(message=str(diagnostic), level="error" if diagnostic.is_error else "warning",
                                               path=diagnostic.path, line=diagnostic.line))
        if parsed.scenario is not None and not has_errors(parsed.diagnostics):
            result.scenarios.append(parsed.scenario)
        else:
            result.failed_files.append(display)
    events.emit(StageDone(
        stage="scenarios",
        message=f"{result.files} file(s): {len(result.scenarios)} valid, {len(result.errors)} error(s), "
                f"{len(result.warnings)} warning(s); {result.parsed} parsed, "
                f"{result.files - result.parsed} from cache"))
    return result
