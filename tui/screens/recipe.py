"""Recipe: pick one from recipes/, edit the common values with inline validation, see memory, save as new."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.recipe.loader import dump_recipe, list_recipes, load_recipe
from dndtune.recipe.schema import Recipe
from tui.screens.base import DndtuneScreen
from tui.widgets.recipe.fields import edited_yaml, field_errors, overrides_for, resolve
from tui.widgets.recipe.memory_estimate import MemoryEstimate
from tui.widgets.recipe.recipe_form import RecipeForm


class RecipeScreen(DndtuneScreen):
    MODE = "recipe"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save as…"),
        Binding("ctrl+r", "reload", "Reload list"),
        Binding("escape", "focus_list", "Recipes", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.base: Recipe | None = None
        self.text = ""
        self.source = ""
        self.edits: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield from self.compose_nav()
        with Horizontal(id="recipe-body"):
            with Vertical(id="recipe-side"):
                yield OptionList(id="recipe-list")
                yield MemoryEstimate(id="recipe-memory")
            with Vertical(id="recipe-main"):
                yield RecipeForm(id="recipe-form")
                yield Static(id="recipe-status")
                with Horizontal(id="recipe-save-row"):
                    yield Input(placeholder="new recipe name, then Enter", id="recipe-save-name", compact=True)
                with VerticalScroll(id="recipe-resolved"):
                    yield Static(id="recipe-resolved-body")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#recipe-list").border_title = "recipes"
        self.query_one("#recipe-form").border_title = "edit"
        self.query_one("#recipe-resolved").border_title = "resolved"
        self.query_one("#recipe-save-row").display = False
        self.watch(self.app, "environment", self._show_memory)
        self.watch(self.app, "recipe", self._recipe_changed)
        self.action_reload()

    def _recipe_changed(self) -> None:
        """Follow a recipe chosen elsewhere (the app's start-up pick, a palette command)."""
        recipe = self.dndtune.recipe
        if recipe is None or recipe.source_path is None:
            return
        if self.base is None or self.base.source_path != recipe.source_path:
            self._load(recipe.source_path)
            self._highlight(recipe.source_path)

    # --- picking ------------------------------------------------------------------------------

    def action_reload(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        paths = list_recipes(self.dndtune.settings.cwd)
        current = self.dndtune.recipe.source_path if self.dndtune.recipe is not None else None
        highlight = None
        for index, path in enumerate(paths):
            options.add_option(Option(path.stem, id=str(path)))
            if current is not None and path.resolve() == current:
                highlight = index
        if not paths:
            self._status(Text("No recipes found in recipes/: add a YAML recipe there (see docs/recipes.md).",
                              style="red"))
            return
        options.highlighted = highlight if highlight is not None else 0

    def _highlight(self, path: Path) -> None:
        options = self.query_one(OptionList)
        for index in range(options.option_count):
            option_id = options.get_option_at_index(index).id
            if option_id is not None and Path(option_id).resolve() == path.resolve():
                options.highlighted = index

    @on(OptionList.OptionSelected, "#recipe-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self._load(Path(event.option.id))
            self.query_one(RecipeForm).focus()

    def _load(self, path: Path) -> None:
        try:
            recipe = load_recipe(str(path), cwd=self.dndtune.settings.cwd)
            text = path.read_text(encoding="utf-8")
        except (DndtuneError, OSError) as exc:
            self._status(Text(str(exc), style="red"))
            return
        self.base, self.text, self.source, self.edits = recipe, text, path.name, {}
        self.query_one(RecipeForm).load(recipe)
        self._use(recipe)

    # --- editing ------------------------------------------------------------------------------

    def on_recipe_form_edited(self, message: RecipeForm.Edited) -> None:
        if self.base is None:
            return
        self.edits = message.edits
        form = self.query_one(RecipeForm)
        errors = field_errors(self.text, self.source, self.edits)
        form.show_errors(errors)
        if errors:
            self._status(Text(f"fix {len(errors)} value(s); the last valid recipe stays in use", style="red"))
            return
        try:
            recipe = resolve(self.text, self.source, self.edits)
        except DndtuneError as exc:
            self._status(Text(exc.message, style="red"))
            return
        self._use(recipe.model_copy(update={"source_path": self.base.source_path}))

    def _use(self, recipe: Recipe) -> None:
        self.dndtune.recipe_edits = tuple(overrides_for(self.edits))
        self.dndtune.recipe = recipe
        name = recipe.source_path.stem if recipe.source_path else "recipe"
        status = Text.assemble(("using ", "dim"), (name, "bold"))
        if self.edits:
            status.append(f" with {len(self.edits)} edit(s)", style="yellow")
            status.append("  ctrl+s saves them as a new recipe", style="dim")
        self._status(status)
        self.query_one("#recipe-resolved-body", Static).update(
            Syntax(dump_recipe(recipe), "yaml", theme="ansi_dark", background_color="default"))
        self._show_memory()

    def _show_memory(self) -> None:
        self.query_one(MemoryEstimate).show(self.dndtune.recipe, self.dndtune.environment)

    def _status(self, text: Text) -> None:
        self.query_one("#recipe-status", Static).update(text)

    # --- saving -------------------------------------------------------------------------------

    def action_save(self) -> None:
        row = self.query_one("#recipe-save-row")
        row.display = True
        self.query_one("#recipe-save-name", Input).focus()

    def action_focus_list(self) -> None:
        self.query_one("#recipe-save-row").display = False
        self.query_one(OptionList).focus()

    @on(Input.Submitted, "#recipe-save-name")
    def _save(self, event: Input.Submitted) -> None:
        name = event.value.strip().removesuffix(".yaml")
        if self.base is None or self.dndtune.recipe is None:
            return
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            self.notify("Use letters, digits, - _ . for the name.", severity="error")
            return
        target = self.dndtune.settings.cwd / "recipes" / f"{name}.yaml"
        if target.exists():
            self.notify(f"{target.name} exists already; pick another name.", severity="error")
            return
        text = edited_yaml(self.text, self.edits, self.dndtune.recipe, self.source)
        try:
            write_text_atomic(target, text)
        except DndtuneError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"saved recipes/{target.name}", title="Recipe")
        event.input.value = ""
        self.query_one("#recipe-save-row").display = False
        self.base = None
        self.dndtune.recipe = load_recipe(str(target), cwd=self.dndtune.settings.cwd)
        self.action_reload()
