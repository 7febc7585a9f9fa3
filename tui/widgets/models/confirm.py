"""A yes/no question over the current screen: promote or roll back only after the user says so."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, question: str, warnings: list[str] | None = None, yes: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.warnings = list(warnings or [])
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self._body(), id="confirm-body")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", id="confirm-yes", variant="warning" if self.warnings else "primary")
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-box").border_title = self.title_text
        self.query_one("#confirm-no", Button).focus()

    def _body(self) -> RenderableType:
        parts: list[RenderableType] = [Text(self.question)]
        if self.warnings:
            parts.append(Text(""))
            parts.extend(Text(f"⚠ {w}", style="yellow") for w in self.warnings)
        return Group(*parts)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
