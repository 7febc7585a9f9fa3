"""One scenario file as the parser sees it: every message with its line, then the turns."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from dndtune.scenario.diagnostics import Diagnostic
from dndtune.scenario.models import Scenario, TurnRole
from dndtune.scenario.parser import parse_scenario

_ROLL_RE = re.compile(r"\[roll:[^\]]*\]")
_ROLE_STYLE = {TurnRole.USER: "bold cyan", TurnRole.DM: "bold magenta", TurnRole.TOOLCALL: "bold yellow"}
_ROLE_NAME = {TurnRole.USER: "User", TurnRole.DM: "DM", TurnRole.TOOLCALL: "TOOLCALL"}


def diagnostic_lines(diagnostics: list[Diagnostic]) -> list[Text]:
    lines = []
    for d in sorted(diagnostics, key=lambda d: (d.line, not d.is_error)):
        style = "red" if d.is_error else "yellow"
        lines.append(Text.assemble((f"line {d.line:>4} ", "dim"), (f"{d.severity.value:<8}", f"bold {style}"),
                                   d.message))
    return lines


def scenario_renderable(scenario: Scenario) -> RenderableType:
    parts: list[RenderableType] = []
    party = ", ".join(c.name for c in scenario.system.party) or "no party"
    parts.append(Text.assemble((scenario.title, "bold"), (f"  [{scenario.category}]", "dim")))
    meta = Text(f"{len(scenario.turns)} turns · {len(scenario.dm_turns)} DM · "
                f"{len(scenario.tool_calls)} rolls · party: {party}", style="dim")
    parts.append(meta)
    for turn in scenario.turns:
        head = Text.assemble((f"{turn.line:>4} ", "dim"), (_ROLE_NAME[turn.role], _ROLE_STYLE[turn.role]))
        body = Text(turn.text.strip())
        for match in _ROLL_RE.finditer(body.plain):
            body.stylize("bold yellow", match.start(), match.end())
        parts.extend([Text(""), head, Padding(body, (0, 0, 0, 5))])
    return Group(*parts)


class ScenarioDetail(VerticalScroll):
    """Re-parses the one selected file so a partly broken file still shows what was understood."""

    def compose(self) -> ComposeResult:
        yield Static(id="scenario-detail-body")

    def show_file(self, path: Path, category: str, display_root: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self._set(Text(f"cannot read {path.name}: {exc}", style="red"))
            return
        result = parse_scenario(text, str(path), category)
        try:
            shown = path.relative_to(display_root)
        except ValueError:
            shown = Path(path.name)
        parts: list[RenderableType] = [Text(str(shown), style="bold underline")]
        if result.diagnostics:
            parts.extend(diagnostic_lines(result.diagnostics))
        else:
            parts.append(Text("no problems found", style="green"))
        if result.scenario is not None:
            parts.extend([Text(""), scenario_renderable(result.scenario)])
        self._set(Group(*parts))

    def show_message(self, message: RenderableType) -> None:
        self._set(message)

    def _set(self, renderable: RenderableType) -> None:
        self.query_one("#scenario-detail-body", Static).update(renderable)
        self.scroll_home(animate=False)
