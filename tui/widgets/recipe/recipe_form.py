"""The common recipe values as one-line inputs, each with its validation message right under it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static

from dndtune.recipe.schema import Recipe
from tui.widgets.recipe.fields import FIELDS


def input_id(key: str) -> str:
    return "field-" + key.replace(".", "-").replace("_", "-")


class RecipeForm(VerticalScroll):
    class Edited(Message):
        """The set of values that differ from the loaded recipe changed."""

        def __init__(self, edits: dict[str, str]) -> None:
            super().__init__()
            self.edits = edits

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        for field in FIELDS:
            with Horizontal(classes="field-row"):
                yield Label(field.label, classes="field-label")
                yield Input(id=input_id(field.key), placeholder=field.placeholder, compact=True)
            yield Static("", id=input_id(field.key) + "-error", classes="field-error")

    def load(self, recipe: Recipe) -> None:
        """Show ``recipe``'s values; edits are measured against them from now on."""
        self._initial = {f.key: f.current(recipe) for f in FIELDS}
        for field in FIELDS:
            self.query_one(f"#{input_id(field.key)}", Input).value = self._initial[field.key]
        self.show_errors({})

    def edits(self) -> dict[str, str]:
        out = {}
        for field in FIELDS:
            value = self.query_one(f"#{input_id(field.key)}", Input).value.strip()
            if value != self._initial.get(field.key, ""):
                out[field.key] = value
        return out

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        # Setting values in load() also lands here; those compare equal to the loaded ones, so no edits.
        self.post_message(self.Edited(self.edits()))

    def show_errors(self, errors: dict[str, str]) -> None:
        for field in FIELDS:
            message = errors.get(field.key, "")
            error = self.query_one(f"#{input_id(field.key)}-error", Static)
            error.update(message)
            error.display = bool(message)
            self.query_one(f"#{input_id(field.key)}", Input).set_class(bool(message), "-invalid")
