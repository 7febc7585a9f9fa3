"""The Play screen's conversation: the player's lines, the DM's replies as they stream, dice lines, notes."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from dndtune.play.session import DmTurn, RollEvent


def roll_line(roll: RollEvent) -> Text:
    """The tool result as ``dndtune play`` prints it: ``🎲 stealth (Mira): 1d20+5 -> [14] = 19 vs DC 15: success``."""
    r = roll.result
    kind = "AC" if "ac" in r else "DC"
    tail = f" vs {kind} {r.get(kind.lower())}: {r['outcome']}" if "outcome" in r else ""
    who = f" ({roll.character})" if roll.character else ""
    line = Text("  🎲 ", style="bold yellow")
    line.append(f"{roll.skill}{who}: ", style="bold")
    line.append(f"{r['dice']} -> {r['rolls']} = ", style="")
    line.append(str(r["total"]), style="bold yellow")
    if tail:
        outcome = str(r.get("outcome", ""))
        line.append(tail, style="green" if outcome in ("success", "hit") else "red")
    return line


class DmReply(Static):
    """One DM reply: narration (growing while it streams) with each roll's dice line where it was cast."""

    def __init__(self) -> None:
        super().__init__(classes="chat-dm")
        self.narration = ""
        self.rolls: list[tuple[int, RollEvent]] = []
        """Each roll with how much narration came before it."""
        self.turn: DmTurn | None = None
        self.rating: int | None = None
        self._show()

    def set_narration(self, text: str) -> None:
        self.narration = text
        self._show()

    def add_roll(self, roll: RollEvent) -> None:
        self.rolls.append((len(self.narration), roll))
        self._show()

    def finish(self, turn: DmTurn) -> None:
        self.turn = turn
        self.narration = turn.text
        self._show()

    def rate(self, score: int) -> None:
        self.rating = score
        self._show()

    def _show(self) -> None:
        parts: list[RenderableType] = []
        start = 0
        head = Text("DM", style="bold magenta")
        if self.turn is not None:
            head.append(f"  #{self.turn.number}", style="dim")
            if self.rating is not None:
                head.append(f"  rated {'★' * self.rating}{'☆' * (5 - self.rating)}", style="yellow")
        parts.append(head)
        for offset, roll in self.rolls:
            before = self.narration[start:offset].strip()
            if before:
                parts.append(Text(before))
            parts.append(roll_line(roll))
            start = offset
        rest = self.narration[start:].strip()
        if rest:
            parts.append(Text(rest))
        elif self.turn is None:
            parts.append(Text("…", style="dim"))
        elif not self.turn.text:
            parts.append(Text("(no narration)", style="dim italic"))
        if self.turn is not None and self.turn.invalid_calls:
            parts.append(Text(f"  [the model wrote {self.turn.invalid_calls} tool call(s) the app could not run]",
                              style="yellow"))
        self.update(Group(*parts))


class ChatLog(VerticalScroll):
    """Lines of the conversation, newest at the bottom, scrolled to the end as they come."""

    def add_player(self, text: str) -> None:
        self._add(Static(Text.assemble(("You ", "bold cyan"), text), classes="chat-you"))

    def add_opening(self, text: str) -> None:
        self._add(Static(Group(Text("DM", style="bold magenta"), Text(text)), classes="chat-dm"))

    def add_note(self, text: str, style: str = "dim") -> None:
        self._add(Static(Text(text, style=style), classes="chat-note"))

    def start_reply(self) -> DmReply:
        reply = DmReply()
        self._add(reply)
        return reply

    def _add(self, widget: Static) -> None:
        self.mount(widget)
        self.scroll_end(animate=False)

    def clear_log(self) -> None:
        self.remove_children()
