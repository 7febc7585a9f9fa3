from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from dndtune.evaluate.examples import dm_turns, load_scenario_folder
from dndtune.evaluate.judge import JudgeItem, RuleJudge
from dndtune.evaluate.quality import coherence, hygiene, perplexity, role_check, summarize
from dndtune.events import NullSink

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = ("Party:\n- Mira Vale | Half-Elf Rogue 3\n- Borin Stonefist | Dwarf Fighter 3\n"
           "The skeletons rattle in the flooded chapel. A candle flickers on the altar.")
GARBAGE = "bri\x14ri\u05c9ringmyCringringringringringringry ,, ]]\u0101 ##1x9 ring ring"


def test_leaked_markers_and_runaway() -> None:
    h = hygiene("The door opens.<|im_start|>user\nI go in", 40, "length", has_calls=False)
    assert h.leaked == ("<|im_start|>",) and h.runaway and not h.empty
    clean = hygiene("The door opens.", 5, "stop", has_calls=False)
    assert clean.leaked == () and not clean.runaway
    assert hygiene("   ", 1, "stop", has_calls=False).empty
    assert not hygiene("<tool_call>\n{}\n</tool_call>", 9, "stop", has_calls=True).empty


@pytest.mark.parametrize("text", [
    "As an AI language model, I cannot roll dice.",
    "I'm sorry, but I can't help with that.",
    "Here is the continuation of the story: the door opens.",
    "The goblin falls. I hope this helps! Is there anything else?",
])
def test_out_of_character_talk(text: str) -> None:
    assert role_check(text, CONTEXT, ["Mira Vale", "Borin Stonefist"], ()).ooc


def test_in_character_narration_passes() -> None:
    check = role_check("The skeletons lurch toward Mira. Borin raises his shield.", CONTEXT,
                       ["Mira Vale", "Borin Stonefist"], ["Mira"])
    assert check == type(check)(ooc=(), foreign_rollers=(), foreign_names=())


def test_characters_outside_the_scenario() -> None:
    check = role_check("The skeletons lurch toward Gandalf and Frodo.", CONTEXT, ["Mira Vale"], ["Legolas", "Borin"])
    assert check.foreign_rollers == ("Legolas",)
    assert check.foreign_names == ("Gandalf", "Frodo")


def test_sentence_initial_capitals_are_not_names() -> None:
    assert role_check("Suddenly the candle dies. Darkness falls.", CONTEXT, [], ()).foreign_names == ()


def test_coherence_of_reference_replies_is_high_and_of_noise_low() -> None:
    examples = load_scenario_folder([ROOT / "training-data"], NullSink())
    scores = [c.score for e in examples for t in dm_turns(e)
              if (c := coherence(t.reference_text, t.conversation_text)) is not None]
    assert len(scores) > 100
    assert statistics.mean(scores) >= 0.9
    noise = coherence(GARBAGE, CONTEXT)
    assert noise is not None and noise.score < 0.4


def test_coherence_parts() -> None:
    loop = coherence("the skeleton rattles " * 12, CONTEXT)
    assert loop is not None and loop.non_repetition < 0.2
    off_topic = coherence("Preheat the oven and whisk three eggs with sugar until fluffy.", CONTEXT)
    assert off_topic is not None and off_topic.grounding < 0.5
    unfinished = coherence("The skeletons rattle toward the altar and", CONTEXT)
    assert unfinished is not None and unfinished.complete == 0.0
    assert coherence('<tool_call>\n{"name": "roll"}\n</tool_call>', CONTEXT) is None


def test_perplexity_is_exp_mean_nll_and_finite() -> None:
    assert perplexity(20.0, 10) == pytest.approx(math.e ** 2)
    assert perplexity(0.0, 0) is None
    assert math.isfinite(perplexity(1e9, 1) or 0.0)


def test_summary_rates() -> None:
    hyg = [hygiene("A.", 2, "stop", has_calls=False), hygiene("B<eos>", 9, "length", has_calls=False)]
    roles = [role_check("A.", CONTEXT, [], ()), role_check("As an AI, B", CONTEXT, [], ())]
    s = summarize(hyg, roles, [coherence("The skeletons rattle.", CONTEXT), None], 30.0, 10, 2)
    assert (s.stop_rate, s.runaway_rate, s.leak_rate, s.ooc_rate, s.in_role_rate) == (0.5, 0.5, 0.5, 0.5, 0.5)
    assert s.mean_reply_tokens == 5.5 and s.max_reply_tokens == 9
    assert s.perplexity == pytest.approx(math.exp(3.0))
    assert s.coherence is not None and set(s.coherence_parts) == {"wellformed", "non_repetition", "grounding",
                                                                  "complete"}


def test_rule_judge_penalises_role_breaks_and_contradictions() -> None:
    judge = RuleJudge()
    ctx = [{"role": "system", "content": CONTEXT}]
    result = {"skill": "perception", "character": "Mira", "total": 17, "dc": 13, "outcome": "success"}
    good = judge.judge(JudgeItem(context=ctx, reply="Mira notices the skeletons by the altar.", reference=None,
                                 results=(result,)))
    contradicted = judge.judge(JudgeItem(context=ctx, reply="Mira fails to notice the skeletons by the altar.",
                                         reference=None, results=(result,)))
    ooc = judge.judge(JudgeItem(context=ctx, reply="As an AI, I say Mira notices the skeletons by the altar.",
                                reference=None, results=(result,)))
    assert good.score > 0.8 and not good.reasons
    assert contradicted.score <= good.score / 2 + 1e-9 and "contradicts" in contradicted.reasons[0]
    assert ooc.score < good.score and "out of role" in ooc.reasons[0]
