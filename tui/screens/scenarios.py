"""Scenarios: the training-data tree, one file's turns and messages, totals; re-validates on edits."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Tree

from dndtune.errors import DndtuneError
from dndtune.events import NullSink
from dndtune.scenario.loader import LoadResult, find_scenario_files, load_scenarios
from tui.screens.base import DndtuneScreen
from tui.widgets.scenarios.scenario_detail import ScenarioDetail
from tui.widgets.scenarios.scenario_tree import ScenarioFile, ScenarioTree
from tui.widgets.scenarios.summary_bar import SummaryBar

Signature = tuple[tuple[str, int, int], ...] | None


def folder_signature(root: Path) -> Signature:
    """Names, sizes and modification times of every scenario file: changes when any file does."""
    try:
        files = find_scenario_files([root])
    except DndtuneError:
        return None
    out = []
    for path, _category in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


class ScenariosLoaded(Message):
    def __init__(self, files: list[tuple[Path, str]], result: LoadResult | None, error: str | None) -> None:
        super().__init__()
        self.files = files
        self.result = result
        self.error = error


class ScenariosScreen(DndtuneScreen):
    MODE = "scenarios"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "validate", "Re-validate"),
        Binding("e", "edit", "Edit file"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._signature: Signature = None
        self.result: LoadResult | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_nav()
        with Horizontal(id="scenarios-body"):
            yield ScenarioTree(id="scenario-tree")
            yield ScenarioDetail(id="scenario-detail")
        yield SummaryBar("validating…", id="scenario-summary")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.action_validate()
        interval = self.dndtune.settings.watch_interval
        if interval > 0:
            self.set_interval(interval, self._check_for_edits)

    @property
    def root(self) -> Path:
        return self.dndtune.settings.scenarios_dir

    def action_validate(self) -> None:
        self._signature = folder_signature(self.root)
        self._validate()

    def _check_for_edits(self) -> None:
        if folder_signature(self.root) != self._signature:
            self.action_validate()

    @work(thread=True, exclusive=True, group="scenarios")
    def _validate(self) -> None:
        root = self.root
        try:
            files = find_scenario_files([root])
            result = load_scenarios([root], NullSink(), self.dndtune.settings.cache_dir)
        except DndtuneError as exc:
            self.post_message(ScenariosLoaded([], None, str(exc)))
            return
        self.post_message(ScenariosLoaded(files, result, None))

    def on_scenarios_loaded(self, message: ScenariosLoaded) -> None:
        tree = self.query_one(ScenarioTree)
        detail = self.query_one(ScenarioDetail)
        summary = self.query_one(SummaryBar)
        if message.result is None:
            self.result = None
            tree.clear()
            summary.update(Text(message.error or "cannot read scenarios", style="red"))
            detail.show_message(Text.assemble(
                (f"No scenarios at {self.root}.\n\n", "bold"),
                "Create one from a template, then press r:\n\n",
                ("  dndtune scenarios new --category combat --title \"Goblin ambush\"", "bold cyan"),
            ))
            return
        self.result = message.result
        tree.show(self.root, message.files, message.result)
        summary.show(message.result)
        self._show_selected()

    @on(Tree.NodeHighlighted, "#scenario-tree")
    def _highlighted(self) -> None:
        self._show_selected()

    def _selected_file(self) -> ScenarioFile | None:
        tree = self.query_one(ScenarioTree)
        node = tree.cursor_node
        if node is not None and isinstance(node.data, ScenarioFile):
            return node.data
        return None

    def _show_selected(self) -> None:
        detail = self.query_one(ScenarioDetail)
        item = self._selected_file()
        if item is not None:
            detail.show_file(item.path, item.category, self.root)
            return
        tree = self.query_one(ScenarioTree)
        node = tree.cursor_node
        category = node.data if node is not None and isinstance(node.data, str) and node.data else None
        if self.result is None:
            return
        scope = [s for s in self.result.scenarios if category is None or s.category == category]
        failed = [f for f in self.result.failed_files if category is None or Path(f).parent.name == category]
        lines = Text.assemble(
            (f"{category or self.root.name or self.root}\n", "bold underline"),
            f"{len(scope)} valid scenario(s), {len(failed)} with errors.\n",
            ("\nMove onto a file to see its turns and messages; edit it (e) and it re-validates on save.",
             "dim"),
        )
        detail.show_message(lines)

    def action_edit(self) -> None:
        item = self._selected_file()
        if item is None:
            self.notify("Select a scenario file first.", severity="warning")
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        try:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), str(item.path)], check=False)
        except (SuspendNotSupported, OSError) as exc:  # headless or web driver; no such editor binary
            self.notify(f"Cannot open an editor here ({exc}); edit {item.path} elsewhere, it re-validates on save.",
                        severity="warning")
            return
        self.action_validate()
