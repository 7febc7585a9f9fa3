"""Models: the versions table (``models list``), two versions side by side (``models compare``), promote and
roll back after a confirmation, and ``models check``'s warnings for the version under the cursor.

Version A is the promoted one until ``a`` pins the row under the cursor; B follows the cursor.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from dndtune.errors import DndtuneError
from dndtune.registry import ModelVersion, promote, rollback, verify_export, warnings_against
from tui.screens.base import DndtuneScreen
from tui.widgets.models.compare_pane import alerts_renderable, compare_renderable, samples_renderable
from tui.widgets.models.confirm import ConfirmDialog
from tui.widgets.models.versions import Versions, read_versions
from tui.widgets.models.versions_table import VersionsTable


def check_warnings(candidate: ModelVersion, versions: Versions) -> list[str]:
    """What ``dndtune models check`` / ``promote`` warn about: the candidate against the promoted version."""
    promoted = versions.promoted
    if promoted is None or promoted.name == candidate.name:
        return []
    return warnings_against(candidate, promoted)


class RegistryChanged(Message):
    def __init__(self, text: str | None, error: str | None = None) -> None:
        super().__init__()
        self.text = text
        self.error = error


class ModelsScreen(DndtuneScreen):
    MODE = "models"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "pin", "Compare as A"),
        Binding("p", "promote", "Promote"),
        Binding("b", "rollback", "Roll back"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.versions: Versions | None = None
        self.pinned: str | None = None
        self.working = False

    def compose(self) -> ComposeResult:
        yield from self.compose_nav()
        yield VersionsTable(id="models-table")
        with Horizontal(id="models-compare-row"):
            with VerticalScroll(id="models-compare"):
                yield Static(id="models-compare-body")
            with VerticalScroll(id="models-samples"):
                yield Static(id="models-samples-body")
        yield Static(id="models-alerts")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#models-table").border_title = "versions"
        self.query_one("#models-compare").border_title = "compare"
        self.query_one("#models-samples").border_title = "ratings and replies"
        self.action_reload()
        self.query_one(VersionsTable).focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # --- showing ---------------------------------------------------------------------------------

    def action_reload(self) -> None:
        try:
            self.versions = read_versions(self.dndtune.output_dir())
        except DndtuneError as exc:
            self.versions = None
            self.notify(str(exc), title="Models", severity="error", timeout=15)
        table = self.query_one(VersionsTable)
        table.show(self.versions.versions if self.versions else [], self._a_name())
        self.query_one("#models-table").border_subtitle = (
            f"promoted: {self.versions.state.promoted or '-'}" if self.versions else "")
        self.show_selection()

    def _a_name(self) -> str | None:
        if self.versions is None:
            return None
        if self.versions.find(self.pinned) is not None:
            return self.pinned
        a = self.versions.promoted or (self.versions.versions[0] if self.versions.versions else None)
        return a.name if a is not None else None

    @property
    def selected(self) -> ModelVersion | None:
        """The version under the cursor (B)."""
        if self.versions is None or not self.versions.versions:
            return None
        row = self.query_one(VersionsTable).cursor_row
        return self.versions.versions[min(max(row, 0), len(self.versions.versions) - 1)]

    def show_selection(self) -> None:
        body = self.query_one("#models-compare-body", Static)
        replies = self.query_one("#models-samples-body", Static)
        alerts = self.query_one("#models-alerts", Static)
        b = self.selected
        if self.versions is None or b is None:
            body.update("")
            replies.update("")
            alerts.update(alerts_renderable(None, None, [], self.versions.warning if self.versions else None))
            return
        a = self.versions.find(self._a_name()) or b
        body.update(compare_renderable(a, b))
        replies.update(samples_renderable(a, b))
        alerts.update(alerts_renderable(b, self.versions.promoted, check_warnings(b, self.versions),
                                        self.versions.warning))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_selection()

    def action_pin(self) -> None:
        version = self.selected
        if version is not None:
            self.pinned = version.name
            self.action_reload()

    # --- promote and roll back -----------------------------------------------------------------

    def action_promote(self) -> None:
        version = self.selected
        if self.versions is None or version is None:
            self.notify("No version to promote.", severity="warning")
            return
        if version.promoted:
            self.notify(f"{version.name} is already the promoted version.", severity="warning")
            return
        warnings = check_warnings(version, self.versions)
        was = self.versions.state.promoted
        question = f"Promote {version.name}" + (f" in place of {was}?" if was else "?") + \
            " The app and `dndtune deploy` ship the promoted version."

        def answered(yes: bool | None) -> None:
            if yes:
                self._change("promote", version)

        self.app.push_screen(ConfirmDialog("promote", question, warnings, yes="Promote"), answered)

    def action_rollback(self) -> None:
        if self.versions is None:
            return
        stack = self.versions.state.promotions()
        if len(stack) < 2:
            self.notify("There is no earlier promoted version to roll back to.", severity="warning")
            return
        question = f"Roll back from {stack[-1]} to {stack[-2]}?"

        def answered(yes: bool | None) -> None:
            if yes:
                self._change("rollback", None)

        self.app.push_screen(ConfirmDialog("roll back", question, yes="Roll back"), answered)

    def _change(self, action: str, version: ModelVersion | None) -> None:
        if self.working:
            self.notify("Still writing the last change.", severity="warning")
            return
        self.working = True
        self._apply(action, version)

    @work(thread=True, exclusive=True, group="registry", exit_on_error=False)
    def _apply(self, action: str, version: ModelVersion | None) -> None:
        """Hashes the GGUF and rewrites the registry: off the UI thread."""
        root = self.dndtune.output_dir()
        try:
            if action == "promote" and version is not None:
                verified = verify_export(version.run)
                entry = promote(root, version.run.root, verified=verified)
                text = f"promoted {entry.version}" + (f" (was {entry.previous})" if entry.previous else "")
            else:
                entry = rollback(root)
                text = f"rolled back to {entry.version} (from {entry.previous})"
        except DndtuneError as exc:
            self.post_message(RegistryChanged(None, str(exc)))
        except Exception as exc:
            self.post_message(RegistryChanged(None, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(RegistryChanged(text))

    def on_registry_changed(self, message: RegistryChanged) -> None:
        self.working = False
        if message.error is not None:
            self.notify(message.error, title="Models", severity="error", timeout=15)
        else:
            self.notify(message.text or "", title="Models")
        self.action_reload()
