"""The evaluated DM turns: where each came from, the expected and the generated roll call, the reply."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from dndtune.evaluate.report import Sample


def _calls(calls: Sequence[str]) -> str:
    return ", ".join(calls) if calls else "no roll"


def turn_renderable(sample: Sample) -> RenderableType:
    matched = sample.expected_calls == sample.predicted_calls
    head = Text.assemble((f"{sample.source.rsplit('/', 1)[-1]} ", "bold"), (f"turn {sample.turn}", "dim"))
    calls = Text.assemble(("expected ", "dim"), _calls(sample.expected_calls), ("  got ", "dim"),
                          (_calls(sample.predicted_calls), "green" if matched else "bold red"),
                          (" ✓" if matched else " ✗", "green" if matched else "red"))
    reply = sample.reply.strip()
    body = Text(reply) if reply else Text(f"(nothing but whitespace, {len(sample.reply)} characters)",
                                          style="italic yellow")
    parts: list[RenderableType] = [head, calls]
    if sample.prompt.strip():
        parts.append(Text.assemble(("after: ", "dim"), (sample.prompt.strip()[:160], "dim italic")))
    parts.append(Padding(body, (0, 0, 0, 1)))
    if sample.outcome:
        parts.append(Text(f" roll result used: {sample.outcome}", style="dim"))
    return Group(*parts)


def turns_renderable(samples: Sequence[Sample], evaluated: int | None = None) -> RenderableType:
    if not samples:
        return Text("The evaluated turns appear here.", style="dim")
    parts: list[RenderableType] = []
    if evaluated is not None and evaluated > len(samples):
        parts.append(Text(f"{len(samples)} of {evaluated} turns kept in eval.json; press e to evaluate and "
                          "list every turn", style="dim italic"))
    for sample in samples:
        if parts:
            parts.append(Text(""))
        parts.append(turn_renderable(sample))
    return Group(*parts)
