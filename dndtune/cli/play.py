"""``dndtune play RUN_OR_GGUF``: play a scene with the model in the terminal and rate its replies.

Only terminal I/O lives here; the session (dice, tool-call loop, rating storage) is
:mod:`dndtune.play.session`. Input and output are plain text streams, so the loop runs the same
under a test's ``StringIO`` as at a TTY.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any, TextIO

from dndtune.errors import DndtuneError
from dndtune.evaluate.open_model import open_runner
from dndtune.evaluate.runner import GenerationSettings
from dndtune.evaluate.targets import resolve_target
from dndtune.events import NullSink
from dndtune.hashing import sha256_file
from dndtune.play.dice import DiceRoller, modifier_key
from dndtune.play.ratings import ratings_path_for
from dndtune.play.session import PlaySession, Scene
from dndtune.scenario.loader import load_scenarios
from dndtune.scenario.skills import normalize_skill

DEFAULT_OUTPUT = Path("training-output")
HELP = "Type what your party does. Commands: /quit, /help. After each DM reply: 1-5 [note] to rate, Enter to skip."


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "play", help="play-test the model in the terminal: real dice for its roll calls, rate each reply 1-5")
    p.add_argument("target", metavar="RUN_OR_GGUF", help="run folder or name, .gguf file or HF model folder")
    p.add_argument("--scenario", type=Path, default=None, metavar="FILE",
                   help="start from this scenario's system prompt and opening narration")
    p.add_argument("--seed", type=int, default=None, help="dice and sampling seed (default: random)")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (0: greedy)")
    p.add_argument("--max-tokens", type=int, default=256, help="reply budget per generation")
    p.add_argument("--mod", action="append", default=[], metavar="NAME:SKILL=N",
                   help="roll modifier, e.g. Mira:stealth=+5 or :perception=2 for everyone (repeatable)")
    p.add_argument("--dc", type=int, default=None, help="DC every check and save is judged against (none: no DC)")
    p.add_argument("--no-rate", action="store_true", help="do not ask for ratings")
    p.add_argument("--grammar", action=argparse.BooleanOptionalAction, default=True,
                   help="decode a GGUF's replies under the roll grammar the deploy bundle ships, as the app does")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="runs folder (default training-output)")
    p.set_defaults(func=run_play)


def parse_modifiers(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for raw in values:
        who_skill, _, number = raw.partition("=")
        who, _, skill = who_skill.rpartition(":")
        canonical = normalize_skill(skill)
        try:
            value = int(number)
        except ValueError:
            value = None
        if canonical is None or value is None:
            raise DndtuneError(f"bad --mod {raw!r}", fix="write NAME:SKILL=N, e.g. Mira:stealth=+5")
        out[modifier_key(canonical, who or None)] = value
    return out


def run_play(args: argparse.Namespace) -> int:
    return play(args, sys.stdin, sys.stdout)


def play(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    target = resolve_target(args.target, args.output)
    scene = _scene(args.scenario) if args.scenario else Scene.default()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    dc = args.dc

    def target_for(skill: str, character: str | None) -> tuple[str, int] | None:
        return ("DC", dc) if dc is not None and skill not in ("attack", "initiative") else None

    runner = open_runner(target.model, label=target.label)
    try:
        session = PlaySession(
            runner=runner, scene=scene,
            dice=DiceRoller(random.Random(seed), parse_modifiers(args.mod), target=target_for),
            settings=GenerationSettings(max_tokens=args.max_tokens, temperature=args.temperature, seed=seed),
            ratings_path=ratings_path_for(target.model, target.run.root if target.run else None),
            model_sha256=sha256_file(target.model) if target.model.is_file() else None,
            grammar=args.grammar,
        )
        return _loop(session, stdin, stdout, rate=not args.no_rate, seed=seed)
    finally:
        runner.close()


def _scene(path: Path) -> Any:
    loaded = load_scenarios(path, NullSink())
    if not loaded.scenarios:
        raise DndtuneError("the scenario has errors", path=str(path), fix=f"run `dndtune validate {path}`")
    return Scene.from_scenario(loaded.scenarios[0])


def _say(out: TextIO, text: str = "") -> None:
    out.write(text + "\n")
    out.flush()


def _loop(session: Any, stdin: TextIO, out: TextIO, *, rate: bool, seed: int) -> int:
    _say(out, f"== {session.scene.title} ==  (model {session.runner.info.label}, dice seed {seed})")
    _say(out, HELP)
    for text in session.scene.opening:
        _say(out, f"\nDM: {text}")
    rated = 0
    while True:
        out.write("\nYou> ")
        out.flush()
        line = stdin.readline()
        if not line:
            break
        line = line.strip()
        if line in ("/quit", "/exit"):
            break
        if line == "/help":
            _say(out, HELP)
            continue
        if not line:
            continue
        turn = session.send(line)
        for roll in turn.rolls:
            r = roll.result
            kind = "AC" if "ac" in r else "DC"
            tail = f" vs {kind} {r.get(kind.lower())}: {r['outcome']}" if "outcome" in r else ""
            who = f" ({roll.character})" if roll.character else ""
            _say(out, f"  [roll] {roll.skill}{who}: {r['dice']} -> {r['rolls']} = {r['total']}{tail}")
        if turn.invalid_calls:
            _say(out, f"  [the model wrote {turn.invalid_calls} tool call(s) the app could not run]")
        _say(out, f"\nDM: {turn.text or '(no narration)'}")
        if rate and _ask_rating(session, turn.number, stdin, out):
            rated += 1
    if rated and session.ratings_path is not None:
        _say(out, f"\n{rated} rating(s) saved to {session.ratings_path}")
    return 0


def _ask_rating(session: Any, number: int, stdin: TextIO, out: TextIO) -> bool:
    while True:
        out.write("Rate this reply 1-5 (optional note), Enter to skip: ")
        out.flush()
        answer = stdin.readline().strip()
        if not answer:
            return False
        score, _, note = answer.partition(" ")
        if score.isdigit() and 1 <= int(score) <= 5:
            session.rate(number, int(score), note)
            return True
        _say(out, "  a rating is a number from 1 to 5, then an optional note")
