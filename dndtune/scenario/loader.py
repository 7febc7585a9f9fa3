"""Find scenario files under ``training-data/<category>/`` and parse them, with a content-hash cache.

Re-running after editing one file re-parses only that file: every parse is stored under the
cache directory keyed by (parser version, path, category, file content).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.events import EventSink, ScenarioDiagnostic, StageDone, StageStarted
from dndtune.scenario.diagnostics import Diagnostic, Severity, has_errors
from dndtune.scenario.limits import MAX_FILE_BYTES
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
        if not path.exists() and not path.is_symlink():
            raise DndtuneError("no such file or folder", path=str(path),
                               fix="pass a scenario .md file or a folder such as training-data/")
        if not path.is_dir():
            # A file, or a broken link: reading it reports what is wrong with it.
            found[path] = path.parent.name if path.parent.name else UNCATEGORIZED
            continue
        for file in sorted(path.rglob("*.md")):
            if file.name.lower() in SKIPPED_NAMES or any(p.startswith(".") for p in file.parts):
                continue
            if file.is_dir():
                continue  # a folder named like a scenario; rglob lists the files inside it anyway
            rel = file.relative_to(path)
            category = rel.parts[0] if len(rel.parts) > 1 else path.name
            found[file] = category
    return sorted(found.items())


def _file_problem(path: Path, line: int, message: str) -> Diagnostic:
    return Diagnostic(path=str(path), line=line, severity=Severity.ERROR, message=message)


def read_scenario_text(path: Path) -> tuple[str | None, Diagnostic | None]:
    """The file's text, or a one-line problem naming it: a scenario folder holds whatever a user
    dropped there (broken links, binaries, other encodings), and one bad file must not stop the rest."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, _file_problem(path, 1, "symbolic link loop: the link leads back to itself "
                                                "(fix the link or delete it)")
        if path.is_symlink():
            target = os.readlink(path)
            return None, _file_problem(path, 1, f"broken symbolic link: it points to '{target}', which does not "
                                                "exist (fix the link or delete it)")
        return None, _file_problem(path, 1, f"cannot read the file: {exc.strerror or exc}")
    if size > MAX_FILE_BYTES:
        return None, _file_problem(path, 1, f"file is {size / 1e6:.1f} MB; a scenario file may be at most "
                                            f"{MAX_FILE_BYTES / 1e6:.0f} MB (split it, or move it out of the folder)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, _file_problem(path, 1, f"cannot read the file: {exc.strerror or exc} (check that it is a "
                                            "readable file)")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, _file_problem(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded): "
                                               "save the file as UTF-8, or move a binary file out of the folder")


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
    with contextlib.suppress(DndtuneError, OSError):
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
        text, problem = read_scenario_text(file)
        if text is None:
            parsed = ParseResult(None, [problem] if problem else [])
            result.parsed += 1  # checked this time, not served from the cache
        else:
            key = _cache_key(display, category, text)
            cached = _read_cached(cache, key)
            if cached is None:
                cached = parse_scenario(text, display, category)
                result.parsed += 1
                _write_cached(cache, key, cached)
            parsed = cached
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
