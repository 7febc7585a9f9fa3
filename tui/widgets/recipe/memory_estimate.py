"""The doctor's peak-memory estimate for the recipe being edited, against what this machine has free."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dndtune.env.environment import EnvReport
from dndtune.env.memory import estimate_peak_memory
from dndtune.env.memory_fit import memory_check
from dndtune.models.resolve import profile_for_recipe
from dndtune.recipe.schema import Recipe
from tui.format import size

STYLES = {"pass": "green", "warn": "yellow", "fail": "red"}


def gauge(share: float, width: int, style: str) -> Text:
    filled = max(0, min(width, round(share * width)))
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))


def estimate_text(recipe: Recipe | None, env: EnvReport | None, width: int = 22) -> Text:
    if recipe is None:
        return Text("no recipe", style="dim")
    if env is None:
        return Text("checking this machine…", style="dim")
    profile = profile_for_recipe(recipe.base_model)
    if profile is None:
        return Text("cannot estimate: the model's config is not on this machine", style="yellow")
    estimate = estimate_peak_memory(recipe, profile, backend=env.backend, bf16_supported=env.bf16_supported)
    check = memory_check(recipe, profile, env)
    available = env.available_memory
    share = estimate.total / available if available else 1.0
    style = STYLES[check.status]
    text = Text.assemble(("peak ", "dim"), (size(estimate.total), f"bold {style}"), "\n",
                         ("of ", "dim"), (size(available), "bold"), (f" {env.memory_label} free", "dim"), "\n")
    text.append_text(gauge(share, width, style))
    text.append(f" {share:.0%}", style=style)
    text.append_text(Text.assemble("\n", ("weights ", "dim"), size(estimate.weights),
                                   "\n", ("activ. ", "dim"), size(estimate.activations + estimate.attention),
                                   "\n", ("logits ", "dim"), size(estimate.logits)))
    if check.fix:
        text.append(f"\n{check.fix}", style=f"italic {style}")
    return text


class MemoryEstimate(Static):
    def show(self, recipe: Recipe | None, env: EnvReport | None) -> None:
        self.border_title = "memory estimate"
        self.update(estimate_text(recipe, env, width=max(8, self.size.width - 6)))
