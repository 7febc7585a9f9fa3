"""``training-data/`` as a tree: categories with counts, files marked by their validation state."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from dndtune.scenario.diagnostics import Diagnostic
from dndtune.scenario.loader import LoadResult


@dataclass(frozen=True)
class ScenarioFile:
    """What a file node carries: enough to re-parse and show it."""

    path: Path
    category: str
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if not d.is_error)


def _file_label(item: ScenarioFile) -> Text:
    if item.errors:
        mark, style, tail = "✗", "red", f" {item.errors}E"
    elif item.warnings:
        mark, style, tail = "!", "yellow", f" {item.warnings}W"
    else:
        mark, style, tail = "✓", "green", ""
    label = Text(f"{mark} ", style=f"bold {style}")
    label.append(item.path.stem)
    label.append(tail, style=style)
    return label


class ScenarioTree(Tree[ScenarioFile | str]):
    """Rebuilt on every validation; keeps which categories are open and which file is selected."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("scenarios", id=id)
        # The root's line would only repeat the folder name: it goes in the border title instead.
        self.show_root = False
        self.guide_depth = 2

    def show(self, root: Path, files: list[tuple[Path, str]], result: LoadResult) -> None:
        previously_open = {str(n.data) for n in self._categories() if n.is_expanded}
        first_time = not self.root.children
        selected = self.cursor_node.data if self.cursor_node is not None else None
        by_path: dict[str, list[Diagnostic]] = defaultdict(list)
        for diagnostic in result.diagnostics:
            by_path[diagnostic.path].append(diagnostic)
        by_category: dict[str, list[ScenarioFile]] = defaultdict(list)
        for file, category in files:
            by_category[category].append(ScenarioFile(file, category, tuple(by_path.get(str(file), ()))))
        self.clear()
        self.border_title = f"{root.name or root}/ · {len(files)} files"
        self.root.data = ""
        cursor_target: TreeNode[ScenarioFile | str] | None = None
        for category in sorted(by_category):
            items = by_category[category]
            bad = sum(1 for i in items if i.errors)
            label = Text.assemble((category, "bold"), f" ({len(items)})")
            if bad:
                label.append(f" {bad} with errors", style="red")
            node = self.root.add(label, data=category, expand=first_time or category in previously_open or bool(bad))
            if selected == category:
                cursor_target = node
            for item in items:
                leaf = node.add_leaf(_file_label(item), data=item)
                if isinstance(selected, ScenarioFile) and selected.path == item.path:
                    cursor_target = leaf
        self.root.expand()
        if cursor_target is None:
            # First look: start on the first file so its turns show straight away.
            cursor_target = next((leaf for node in self._categories() for leaf in node.children), None)
        if cursor_target is not None:
            # Node lines exist only after the rebuilt tree is laid out.
            self.call_after_refresh(self.move_cursor, cursor_target)

    def _categories(self) -> list[TreeNode[ScenarioFile | str]]:
        return list(self.root.children)

    def first_file(self) -> ScenarioFile | None:
        for category in self._categories():
            for leaf in category.children:
                if isinstance(leaf.data, ScenarioFile):
                    return leaf.data
        return None
