"""What one TUI session works on: folders and the recipe to start with (passed in, never global)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dndtune.paths import cache_dir


@dataclass(frozen=True)
class TuiSettings:
    """Everything the CLI and the tests choose before the app starts."""

    scenarios_dir: Path = Path("training-data")
    """Folder of Markdown scenarios shown on the Scenarios screen."""
    recipe: str | None = None
    """Recipe (a name in recipes/ or a path) selected when the app opens; None picks the first demo recipe."""
    cwd: Path = field(default_factory=Path.cwd)
    """Where relative recipe names and new recipe files are looked up and written."""
    cache_dir: Path | None = field(default_factory=cache_dir)
    """Parse cache for scenarios; None re-parses every file."""
    watch_interval: float = 1.0
    """Seconds between checks for edited scenario files; 0 turns the watch off (refresh with a key)."""
    memory_interval: float = 1.0
    """Seconds between memory samples while a run trains; 0 turns sampling off."""
    start_screen: str = "scenarios"
    """Screen shown first: a mode of :data:`tui.screen_names.MODES` (environment ... models)."""
