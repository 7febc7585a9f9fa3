"""Where dndtune keeps things between runs (derived from the environment, never global state)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Per-user cache (parsed-scenario cache, converted base models): ``$DNDTUNE_CACHE_DIR`` or ~/.cache/dndtune."""
    env = os.environ.get("DNDTUNE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dndtune"
