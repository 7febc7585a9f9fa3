"""``dndtune scenarios new``: start a scenario file from its category's template."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from dndtune.errors import DndtuneError

TEMPLATE_PACKAGE = "dndtune.scenario"
TEMPLATE_DIR = "templates"


def template_categories() -> list[str]:
    folder = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR)
    return sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".md"))


def slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or "scenario"


def create_scenario(root: Path, category: str, title: str) -> Path:
    """Write ``root/<category>/<slug>.md`` from the template; never overwrites an existing file."""
    categories = template_categories()
    if category not in categories:
        raise DndtuneError(f"no template for category '{category}'",
                           fix=f"use one of: {', '.join(categories)}")
    if not title.strip():
        raise DndtuneError("the title is empty", fix='pass --title "Goblin Ambush"')
    template = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR, f"{category}.md").read_text("utf-8")
    target = root / category / f"{slugify(title)}.md"
    if target.exists():
        raise DndtuneError("already exists", path=str(target), fix="pick another --title or edit that file")
    target.parent.mkdir(parents=True, exist_ok=True)
    # "x" mode: a file that appeared since the check above is still never overwritten.
    with target.open("x", encoding="utf-8") as fh:
        fh.write(template.replace("{title}", title.strip()))
    return target
