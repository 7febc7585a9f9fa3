"""The app's screens in key order (1-8): mode name and title. No Textual here, so the launcher's
``--screen`` choices cost nothing to import."""

from __future__ import annotations

SCREENS: tuple[tuple[str, str], ...] = (
    ("environment", "Environment"),
    ("scenarios", "Scenarios"),
    ("recipe", "Recipe"),
    ("train", "Train"),
    ("export", "Export"),
    ("evaluate", "Evaluate"),
    ("play", "Play"),
    ("models", "Models"),
)
MODES: tuple[str, ...] = tuple(mode for mode, _ in SCREENS)
