"""Scenario -> chat messages: the exact shape, the roll tool schema, and a real chat template."""

from __future__ import annotations

import json

from transformers.utils.chat_template_utils import render_jinja_template

from dndtune.dataset.chat import roll_tool, scenario_to_messages, system_prompt, tool_result, tools
from dndtune.scenario.models import Outcome, RollResult, Scenario
from dndtune.scenario.skills import SKILLS
from tests.dataset.conftest import QWEN_TEMPLATE

SYSTEM = (
    "Role: Dungeon Master. Narrate vividly, ask for rolls with the roll tool.\n"
    "World: Forgotten Realms\n"
    "Location: Triboar Trail, a muddy cart road east of Phandalin\n"
    "Party:\n"
    "- Thorin Ironfist | Mountain Dwarf Fighter 3 | HP 28/31 | XP 900 | Inventory: battleaxe, healing potion x2\n"
    "- Lyra Moonwhisper | High Elf Wizard 3 | HP 14/18 | XP 900 | Inventory: quarterstaff, 12 gp"
)


def _msg(role: str, content: str, name: str | None = None, calls: list[tuple[str, str]] | None = None) -> dict:
    tool_calls = None
    if calls is not None:
        tool_calls = [{"type": "function", "function": {"name": "roll", "arguments": {"skill": s, "character": c}}}
                      for s, c in calls]
    return {"role": role, "content": content, "name": name, "tool_calls": tool_calls}


def test_small_scenario_becomes_exact_messages(small: Scenario) -> None:
    assert scenario_to_messages(small) == [
        _msg("system", SYSTEM),
        _msg("user", "I scan the treeline for movement."),
        # The marker names nobody; the call takes the character from the result line.
        _msg("assistant", "Thorin squints into the pines.", calls=[("perception", "Thorin")]),
        _msg("tool", '{"skill": "perception", "character": "Thorin", "dice": "1d20+1", "rolls": [17], '
                     '"modifier": 1, "total": 18, "dc": 13, "outcome": "success"}', name="roll"),
        _msg("assistant", "Three goblins crouch behind a log near Phandalin, and the dwarf spots them. "
                          "Roll initiative!", calls=[("initiative", "Thorin"), ("initiative", "Lyra")]),
        _msg("tool", '{"skill": "initiative", "character": "Thorin", "dice": "1d20+1", "rolls": [11], '
                     '"modifier": 1, "total": 12}', name="roll"),
        _msg("tool", '{"skill": "initiative", "character": "Lyra", "dice": "1d20+2", "rolls": [16], '
                     '"modifier": 2, "total": 18}', name="roll"),
        _msg("assistant", "Lyra acts first. What do you do?"),
        _msg("user", "Okay. Lyra casts Fire Bolt at the nearest goblin."),
        _msg("assistant", "Lyra hurls a mote of fire.", calls=[("attack", "Lyra")]),
        _msg("tool", '{"skill": "attack", "character": "Lyra", "dice": "1d20+5", "rolls": [9], '
                     '"modifier": 5, "total": 14, "ac": 15, "outcome": "miss"}', name="roll"),
        _msg("assistant", "The bolt scorches the log instead, and the goblin ducks with a jeer."),
    ]


def test_every_message_has_the_same_keys(shipped: list[Scenario]) -> None:
    for scenario in shipped:
        for m in scenario_to_messages(scenario):
            assert list(m) == ["role", "content", "name", "tool_calls"]
            for call in m["tool_calls"] or ():
                assert list(call["function"]["arguments"]) == ["skill", "character"]
            assert "[roll" not in m["content"].lower()


def test_tool_calls_match_tool_results(shipped: list[Scenario]) -> None:
    for scenario in shipped:
        messages = scenario_to_messages(scenario)
        for i, m in enumerate(messages):
            calls = m["tool_calls"] or []
            if not calls:
                continue
            answers = messages[i + 1:i + 1 + len(calls)]
            assert [a["role"] for a in answers] == ["tool"] * len(calls)
            for call, answer in zip(calls, answers, strict=True):
                assert json.loads(answer["content"])["skill"] == call["function"]["arguments"]["skill"]


def test_roll_tool_schema() -> None:
    tool = roll_tool()
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == "roll"
    params = function["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["skill"]
    assert params["properties"]["skill"]["enum"] == list(SKILLS)
    assert params["properties"]["character"]["type"] == "string"
    assert tools() == [tool]
    tools()[0]["function"]["name"] = "changed"  # Callers get fresh copies, never a shared global.
    assert roll_tool()["function"]["name"] == "roll"


def test_tool_result_without_target_or_faces() -> None:
    result = RollResult(skill="stealth", count=1, sides=20, modifier=-1, total=7)
    assert json.loads(tool_result(result)) == {
        "skill": "stealth", "dice": "1d20-1", "rolls": [], "modifier": -1, "total": 7}
    saved = RollResult(skill="dexterity save", character="Pip", count=1, sides=20, faces=(4,), total=4,
                       target_kind="DC", target_value=12, outcome=Outcome.FAILURE)
    assert json.loads(tool_result(saved))["outcome"] == "failure"


def test_system_prompt_leaves_out_missing_fields(small: Scenario) -> None:
    bare = small.system.model_copy(update={"world": None, "location": None, "party": ()})
    assert system_prompt(bare) == "Role: Dungeon Master. Narrate vividly, ask for rolls with the roll tool."


def test_messages_render_through_a_qwen_tool_template(small: Scenario) -> None:
    messages = scenario_to_messages(small)
    rendered, _ = render_jinja_template([messages], tools=tools(), chat_template=QWEN_TEMPLATE)
    text = rendered[0]
    assert text.startswith("<|im_start|>system\nRole: Dungeon Master.")
    assert '"name": "roll"' in text and '"enum": ["acrobatics"' in text
    assert ('<tool_call>\n{"name": "roll", "arguments": {"skill": "perception", "character": "Thorin"}}\n'
            "</tool_call>") in text
    assert text.count("<tool_call>\n{\"name\": \"roll\"") == 4
    assert text.count("<tool_response>") == 4
    # Two results of one TOOLCALL share a single user turn, as the template intends.
    assert '"total": 12}\n</tool_response>\n<tool_response>\n{"skill": "initiative", "character": "Lyra"' in text
    assert "[roll" not in text.split("</tools>")[1]


def test_shipped_scenarios_all_render(shipped: list[Scenario]) -> None:
    conversations = [scenario_to_messages(s) for s in shipped]
    rendered, _ = render_jinja_template(conversations, tools=tools(), chat_template=QWEN_TEMPLATE)
    for messages, text in zip(conversations, rendered, strict=True):
        calls = sum(len(m["tool_calls"] or ()) for m in messages)
        assert text.count("<tool_call>\n{\"name\": \"roll\"") == calls
        assert text.count("<|im_start|>assistant") == sum(1 for m in messages if m["role"] == "assistant")


def test_dm_opening_gets_a_player_line_first(shipped: list[Scenario]) -> None:
    from dndtune.dataset.chat import OPENING_USER_MESSAGE

    opening = [s for s in shipped if s.turns[0].role.value == "dm"]
    assert opening, "the shipped data has scenarios that open with the DM"
    messages = scenario_to_messages(opening[0])
    assert [m["role"] for m in messages[:3]] == ["system", "user", "assistant"]
    assert messages[1]["content"] == OPENING_USER_MESSAGE


def test_shipped_scenarios_render_through_every_profile_template(shipped: list[Scenario]) -> None:
    from dndtune.models.profiles import get_profile

    for name in ("gemma-3-270m", "qwen2.5-0.5b", "qwen3-0.6b"):
        profile = get_profile(name)
        for template in (profile.chat_template, profile.training_chat_template):
            for scenario in shipped:
                rendered = render_jinja_template([scenario_to_messages(scenario)], tools=tools(),
                                                 chat_template=template)[0][0]
                assert scenario.dm_turns[-1].text.split()[0] in rendered, (name, scenario.path)
