from __future__ import annotations

import io
import json
import random
from argparse import Namespace
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from dndtune.dataset.chat import Message
from dndtune.errors import DndtuneError
from dndtune.events import NullSink
from dndtune.play.dice import DiceRoller
from dndtune.play.ratings import read_ratings, summarize_ratings
from dndtune.play.session import MAX_TOOL_ROUNDS, PlaySession, Scene
from dndtune.scenario.loader import load_scenarios
from tests.evaluate.models import TinyModels, make_run
from tests.evaluate.scripted import ScriptedRunner, qwen_call

ROOT = Path(__file__).resolve().parents[2]


def dm(messages: Sequence[Message]) -> str:
    """Asks for a stealth roll, then narrates the result it was given."""
    last = messages[-1]
    if last["role"] == "tool":
        result = json.loads(last["content"])
        return f"You rolled {result['total']}. The guard never looks up."
    return "Keep to the shadows." + qwen_call("stealth", "Mira")


def test_dice_are_seeded_and_judged() -> None:
    def roll(seed: int) -> dict[str, object]:
        return DiceRoller(random.Random(seed), {"mira:stealth": 5}, target=lambda s, c: ("DC", 12)).roll("stealth",
                                                                                                        "Mira")
    a, b = roll(3), roll(3)
    assert a == b
    assert a["dice"] == "1d20+5" and a["modifier"] == 5 and a["total"] == a["rolls"][0] + 5  # type: ignore[index]
    assert a["dc"] == 12 and a["outcome"] == ("success" if a["total"] >= 12 else "failure")  # type: ignore[operator]
    damage = DiceRoller(random.Random(1)).roll("damage", None)
    assert damage["dice"] == "1d8" and "outcome" not in damage and "character" not in damage
    attack = DiceRoller(random.Random(1), target=lambda s, c: ("AC", 30)).roll("attack", "Borin")
    assert attack["outcome"] == "miss"


def test_roll_calls_are_executed_and_fed_back(tmp_path: Path) -> None:
    runner = ScriptedRunner(dm)
    session = PlaySession(runner=runner, dice=DiceRoller(random.Random(7)), ratings_path=tmp_path / "r.jsonl",
                          model_sha256="abc")
    turn = session.send("Mira sneaks past the guard.")
    assert [r.skill for r in turn.rolls] == ["stealth"] and turn.rolls[0].character == "Mira"
    total = turn.rolls[0].result["total"]
    assert turn.text == f"Keep to the shadows.\n\nYou rolled {total}. The guard never looks up."
    roles = [m["role"] for m in session.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert session.messages[2]["tool_calls"][0]["function"]["arguments"] == {"skill": "stealth", "character": "Mira"}
    assert json.loads(session.messages[3]["content"]) == turn.rolls[0].result
    assert len(runner.prompts) == 2 and runner.prompts[1][-1]["role"] == "tool"


def test_a_model_that_never_stops_calling_is_cut_off_and_the_turn_ends_on_the_dm() -> None:
    runner = ScriptedRunner(lambda m: "Look closer." + qwen_call("perception", "Mira"))
    session = PlaySession(runner=runner, dice=DiceRoller(random.Random(0)))
    turn = session.send("I look around.")
    assert len(turn.rolls) == MAX_TOOL_ROUNDS
    # The call of the round past the limit is not resolved: the conversation ends on the DM, not on a
    # tool result, so the next player line is a proper turn (Gemma's template refuses user after tool).
    assert session.messages[-1]["role"] == "assistant" and not session.messages[-1]["tool_calls"]
    session.send("I keep looking.")
    assert [m["role"] for m in session.messages].count("user") == 2


def test_a_failed_turn_leaves_no_trace_in_the_conversation() -> None:
    def breaks(messages: Sequence[Message]) -> str:
        if messages[-1]["content"] == "boom":
            raise DndtuneError("the chat template rejects this conversation")
        return "The door creaks."

    session = PlaySession(runner=ScriptedRunner(breaks), dice=DiceRoller(random.Random(0)))
    session.send("I open the door.")
    before = list(session.messages)
    with pytest.raises(DndtuneError):
        session.send("boom")
    assert session.messages == before
    session.send("I step inside.")
    assert session.messages[-2]["content"] == "I step inside."


def test_every_round_is_asked_for_under_the_roll_grammar() -> None:
    from dndtune.evaluate.runner import Generation, GenerationSettings
    from dndtune.models.grammar import roll_grammar

    asked: list[GenerationSettings] = []

    class Recorder(ScriptedRunner):
        def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                     settings: GenerationSettings) -> Generation:
            asked.append(settings)
            return super().generate(messages, tools, settings)

    runner = Recorder(lambda m: "Roll it." + qwen_call("stealth", "Mira") if m[-1]["role"] == "user" else "Done.")
    PlaySession(runner=runner, dice=DiceRoller(random.Random(0))).send("I sneak.")
    assert len(asked) == 2 and {s.grammar for s in asked} == {roll_grammar(runner.profile)}
    assert asked[0].seed != asked[1].seed and {s.temperature for s in asked} == {0.7}
    asked.clear()
    PlaySession(runner=runner, dice=DiceRoller(random.Random(0)), grammar=False).send("I sneak.")
    assert {s.grammar for s in asked} == {None}


def test_ratings_are_stored_per_model_file(tmp_path: Path) -> None:
    path = tmp_path / "ratings.jsonl"
    session = PlaySession(runner=ScriptedRunner(lambda m: "The torch gutters."), dice=DiceRoller(random.Random(0)),
                          ratings_path=path, model_sha256="sha-1")
    session.send("I wait.")
    session.send("I wait again.")
    session.rate(1, 4, "nice mood")
    session.rate(2, 2)
    other = PlaySession(runner=ScriptedRunner(lambda m: "Hm."), dice=DiceRoller(random.Random(0)),
                        ratings_path=path, model_sha256="sha-2")
    other.send("Hello?")
    other.rate(1, 5)
    stored = read_ratings(path)
    assert [(r.sha256, r.turn, r.rating) for r in stored] == [("sha-1", 1, 4), ("sha-1", 2, 2), ("sha-2", 1, 5)]
    assert stored[0].note == "nice mood" and stored[0].player == "I wait." and stored[0].reply == "The torch gutters."
    summary = summarize_ratings(path, "sha-1")
    assert summary.count == 2 and summary.mean == 3.0 and summary.notes == ("nice mood",)
    with pytest.raises(DndtuneError, match="1 to 5"):
        session.rate(1, 6)
    with pytest.raises(DndtuneError, match="no DM reply 9"):
        session.rate(9, 3)


def test_scene_from_a_scenario_keeps_its_opening() -> None:
    loaded = load_scenarios(ROOT / "training-data" / "combat" / "bandit-toll-at-ashford-bridge.md", NullSink())
    scene = Scene.from_scenario(loaded.scenarios[0])
    assert "Sela Marsh" in scene.system and scene.opening[0].startswith("Three bandits")
    assert Scene.default().system.startswith("Role: Dungeon Master")


def test_terminal_play_without_a_tty_on_the_real_gguf(tiny: TinyModels, tmp_path: Path) -> None:
    from dndtune.cli.play import play

    run = make_run(tmp_path, tiny, "playtest")
    args = Namespace(target=str(run), scenario=ROOT / "training-data" / "combat" / "bandit-toll-at-ashford-bridge.md",
                     seed=11, temperature=0.7, max_tokens=8, mod=["Sela:attack=+5"], dc=None, no_rate=False,
                     grammar=True, output=tmp_path)
    stdin = io.StringIO("Sela charges the crossbowman.\n4 good pacing\n/help\nWe tie him up.\n\n/quit\n")
    stdout = io.StringIO()
    assert play(args, stdin, stdout) == 0
    text = stdout.getvalue()
    assert "Bandit Toll at Ashford Bridge" in text and "DM: Three bandits" in text
    assert text.count("Rate this reply") == 2 and "1 rating(s) saved" in text
    ratings = read_ratings(run / "ratings.jsonl")
    assert len(ratings) == 1 and ratings[0].rating == 4 and ratings[0].note == "good pacing"
    assert ratings[0].sha256 is not None and ratings[0].model.startswith("playtest")


def test_bad_modifier_is_a_user_error() -> None:
    from dndtune.cli.play import parse_modifiers

    assert parse_modifiers(["Mira:stealth=+5", ":perception=2"]) == {"mira:stealth": 5, ":perception": 2}
    with pytest.raises(DndtuneError, match="bad --mod"):
        parse_modifiers(["Mira:sneaking=+5"])
