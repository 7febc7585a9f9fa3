"""What every dndtune screen shares: the nav bar on top, the footer of bindings below."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from tui.messages import RunUpdated
from tui.widgets.common.nav_bar import NavBar

if TYPE_CHECKING:
    from tui.app import DndtuneApp


class DndtuneScreen(Screen[None]):
    MODE: ClassVar[str] = ""

    @property
    def dndtune(self) -> DndtuneApp:
        """The app with its real type (Textual types ``self.app`` as any App)."""
        return cast("DndtuneApp", self.app)

    def compose_nav(self) -> ComposeResult:
        yield NavBar(self.MODE, self.dndtune.run_state)

    def compose_footer(self) -> ComposeResult:
        yield Footer()

    def on_run_updated(self, message: RunUpdated) -> None:
        # The nav bar's run badge is on every screen.
        self.query_one(NavBar).refresh()


class LiveRunScreen(DndtuneScreen):
    """A screen drawn from the run state: redrawn when it is shown and after every run update.

    Textual calls ``on_run_updated`` of each class in the MRO, so the nav bar refresh above runs too.
    """

    def redraw(self) -> None:
        raise NotImplementedError

    def on_screen_resume(self) -> None:
        self.redraw()

    def on_run_updated(self, message: RunUpdated) -> None:
        self.redraw()
