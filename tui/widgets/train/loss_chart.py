"""Train and eval loss over steps, drawn in braille so a curve fits in a few terminal rows."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widget import Widget

from tui.widgets.train.plot import Series, braille_plot

TRAIN_STYLE = "bold cyan"
EVAL_STYLE = "bold magenta"


class LossChart(Widget):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.train: list[tuple[int, float]] = []
        self.eval: list[tuple[int, float]] = []

    def set_data(self, train: list[tuple[int, float]], eval_: list[tuple[int, float]]) -> None:
        self.train = list(train)
        self.eval = list(eval_)
        self.refresh()

    def render(self) -> Group | Text:
        width, height = self.size.width, self.size.height
        legend = Text.assemble(("━ train", TRAIN_STYLE), ("  ", ""), ("━ eval", EVAL_STYLE))
        if self.train:
            legend.append(f"   last {self.train[-1][1]:.4f}", style="dim")
        if self.eval:
            legend.append(f"  eval {self.eval[-1][1]:.4f}", style="dim")
        if not self.train and not self.eval:
            return Text("loss appears here once training reports its first step", style="dim")
        series = [Series("train", [(float(s), v) for s, v in self.train], TRAIN_STYLE),
                  Series("eval", [(float(s), v) for s, v in self.eval], EVAL_STYLE)]
        plot = braille_plot(series, width, max(1, height - 1))
        return Group(legend, *plot)
