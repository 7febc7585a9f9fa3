"""A scenarios folder can hold anything a user drops into it: every case ends in one clear line.

Issue 12, scenario side. Each test names the probe it covers: what used to be a traceback, a hang
or bad input accepted now gives ``path:line: error: message`` (naming the limit where there is
one), and only the bad file fails; the rest of the folder is still validated. Runnable alone:
``.venv/bin/pytest tests/reliability/test_scenarios.py``.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dndtune.cli.main import main
from dndtune.events import ListSink
from dndtune.scenario.dice import read_dice
from dndtune.scenario.formatter import format_text
from dndtune.scenario.limits import MAX_DICE, MAX_MODIFIER, MAX_SIDES, MIN_SIDES
from dndtune.scenario.loader import load_scenarios
from dndtune.scenario.parser import parse_scenario
from tests.scenario.samples import GOOD

HUGE = "9" * 5000
"""More digits than Python converts (4300): ``int()`` on it used to crash validation."""


def errors(text: str) -> list[str]:
    return [str(d) for d in parse_scenario(text, "s.md", "combat").diagnostics if d.is_error]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``training-data/combat/good.md``: the file every test expects still to validate."""
    monkeypatch.setenv("DNDTUNE_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "training-data"
    (root / "combat").mkdir(parents=True)
    (root / "combat" / "good.md").write_text(GOOD, encoding="utf-8")
    return root


def validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """``dndtune validate ROOT`` through the real entry point: (exit code, output lines)."""
    code = main(["validate", str(root)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out.strip().splitlines()


def symlink(link: Path, target: str) -> None:
    try:
        os.symlink(target, link)
    except (OSError, NotImplementedError) as exc:  # Windows without the privilege, some mounts
        pytest.skip(f"this OS or file system cannot make symbolic links: {exc}")


# --- tracebacks -> one clear line ---------------------------------------------------------------


def test_directory_named_md_is_not_read_as_a_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "combat" / "notes.md").mkdir()
    (folder / "combat" / "notes.md" / "inner.md").write_text(GOOD.replace("Goblin Ambush", "Inner"))
    code, out = validate(folder, capsys)
    assert code == 0
    assert out == ["2 file(s) checked: 2 valid, 0 error(s), 0 warning(s)"]


def test_symlink_loop_is_one_error_and_the_rest_is_validated(folder: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    symlink(folder / "combat" / "a.md", "b.md")
    symlink(folder / "combat" / "b.md", "a.md")
    code, out = validate(folder, capsys)
    assert code == 1
    assert out == [
        f"{folder}/combat/a.md:1: error: symbolic link loop: the link leads back to itself (fix the link or delete it)",
        f"{folder}/combat/b.md:1: error: symbolic link loop: the link leads back to itself (fix the link or delete it)",
        "3 file(s) checked: 1 valid, 2 error(s), 0 warning(s)",
    ]


def test_dangling_symlink_names_its_target(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    symlink(folder / "combat" / "gone.md", "moved-away.md")
    code, out = validate(folder, capsys)
    assert code == 1
    assert out[0] == (f"{folder}/combat/gone.md:1: error: broken symbolic link: it points to 'moved-away.md', "
                      "which does not exist (fix the link or delete it)")
    assert out[-1] == "2 file(s) checked: 1 valid, 1 error(s), 0 warning(s)"
    # Named directly, a broken link is the same clear line, not "no such file".
    assert main(["validate", str(folder / "combat" / "gone.md")]) == 1
    assert "broken symbolic link" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("HP 28/31", f"HP {HUGE}/31",
         "s.md:9: error: Thorin Ironfist: HP 999999999999… (5000 digits) is out of range (limit 0-10000)"),
        ("XP 900 | Inventory: battleaxe", f"XP {HUGE} | Inventory: battleaxe",
         "s.md:9: error: Thorin Ironfist: XP 999999999999… (5000 digits) is out of range (limit 0-1000000)"),
        ("Fighter 3", f"Fighter {HUGE}",
         "s.md:9: error: Thorin Ironfist: level 999999999999… (5000 digits) is out of range (limit 1-20)"),
        ("potion x2", f"potion x{HUGE}", "s.md:9: error: Thorin Ironfist: quantity of 'healing potion' "
                                         "999999999999… (5000 digits) is out of range (limit 1-1000000)"),
        ("1d20+1 = 17+1", f"1d20+{HUGE} = 17+{HUGE}",
         "s.md:19: error: '1d20+999999999999999999999999…' has modifier +999999999999… (5000 digits): "
         "the limit is -100 to +100"),
        ("= 18", f"= 18 vs DC {HUGE}: success",
         "s.md:19: error: DC 999999999999… (5000 digits) is out of range (limit 1-100)"),
        ("17+1 = 18", f"17+1 = {HUGE}",
         "s.md:19: error: total 999999999999… (5000 digits) is impossible for 1d20+1 (range 2-21)"),
        ("= 17+1", f"= {HUGE}+1", "s.md:19: error: number 999999999999… (5000 digits) in "
                                  f"'{HUGE[:59]}…' is out of range (faces are 1-20, a modifier -100 to +100)"),
        ("1d20+1 = 17", f"{HUGE}d20+1 = 17",
         f"s.md:19: error: '{HUGE[:29]}…' rolls 999999999999… (5000 digits) dice: "
         "the limit is 1-100 dice"),
    ],
    ids=["hp", "xp", "level", "quantity", "modifier", "dc", "total", "face", "dice-count"],
)
def test_5000_digit_numbers_are_errors_naming_the_limit(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    assert expected in errors(GOOD.replace(old, new, 1))


def test_nul_bytes_are_an_error_at_their_line() -> None:
    assert errors(GOOD.replace("Three goblins", "Three\0go\0blins")) == [
        "s.md:22: error: NUL byte (\\x00) in the text (2 in the file): a scenario is plain UTF-8 text; "
        "remove it, or move a binary file out of the folder"]


def test_binary_and_non_utf8_files_fail_alone(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "combat" / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (folder / "combat" / "latin1.md").write_bytes(GOOD.replace("Narrate", "Narré").encode("latin-1"))
    code, out = validate(folder, capsys)
    assert code == 1
    assert out == [
        f"{folder}/combat/image.md:1: error: not UTF-8 text (byte 0x89 cannot be decoded): save the file as "
        "UTF-8, or move a binary file out of the folder",
        f"{folder}/combat/latin1.md:5: error: not UTF-8 text (byte 0xe9 cannot be decoded): save the file as "
        "UTF-8, or move a binary file out of the folder",
        "3 file(s) checked: 1 valid, 2 error(s), 0 warning(s)",
    ]


def test_bad_files_do_not_stop_the_dataset_stage_loader(folder: Path) -> None:
    """The dataset stage reads through ``load_scenarios``: bad files become diagnostics, good ones load."""
    (folder / "combat" / "latin1.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    sink = ListSink()
    loaded = load_scenarios(folder, sink)
    assert [s.title for s in loaded.scenarios] == ["Goblin Ambush"]
    assert loaded.failed_files == [str(folder / "combat" / "latin1.md")]
    assert [e.data["line"] for e in sink.events if e.kind == "scenario.diagnostic"] == [1]


def test_utf8_bom_is_accepted_silently(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "combat" / "windows.md").write_text(GOOD.replace("Goblin", "Orc"), encoding="utf-8-sig")
    assert validate(folder, capsys) == (0, ["2 file(s) checked: 2 valid, 0 error(s), 0 warning(s)"])
    assert parse_scenario("\ufeff" + GOOD, "s.md", "c").scenario == parse_scenario(GOOD, "s.md", "c").scenario


def test_oversized_file_is_refused_before_reading(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "combat" / "dump.md").write_bytes(b"a" * (3 * 1024 * 1024))
    code, out = validate(folder, capsys)
    assert code == 1
    assert out[0] == (f"{folder}/combat/dump.md:1: error: file is 3.1 MB; a scenario file may be at most 2 MB "
                      "(split it, or move it out of the folder)")


def test_unwritable_cache_does_not_fail_validation(folder: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("DNDTUNE_CACHE_DIR", str(blocker))
    assert validate(folder, capsys) == (0, ["1 file(s) checked: 1 valid, 0 error(s), 0 warning(s)"])


def test_scenarios_check_names_the_files_it_left_out(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "combat" / "image.md").write_bytes(b"\xff\xfe\x00")
    assert main(["scenarios", "check", "--root", str(folder)]) == 0
    err = capsys.readouterr().err
    assert f"1 file(s) with errors left out; run: dndtune validate {folder}" in err


def test_scenarios_fmt_skips_an_unreadable_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "combat" / "image.md").write_bytes(b"\xff\xfe\x00")
    assert main(["scenarios", "fmt", "--check", str(folder)]) == 1
    captured = capsys.readouterr()
    assert f"{folder}/combat/image.md:1: error: not UTF-8 text" in captured.err
    assert "all files already formatted" in captured.out


# --- accepted bad input -> clear error ----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [("Three goblins", "<!-- Three goblins", 22), ("World: Forgotten", "<!-- World: Forgotten", 6)],
    ids=["dm-turn", "system"],
)
def test_unclosed_comment_is_an_error_at_its_line(old: str, new: str, line: int) -> None:
    assert f"s.md:{line}: error: '<!--' is never closed, so everything after it would be trained on as text: " \
           "add '-->' where the comment ends" in errors(GOOD.replace(old, new))


def test_closed_comments_still_vanish() -> None:
    text = GOOD.replace("Three goblins", "Three <!-- a\nnote --> goblins")
    result = parse_scenario(text, "s.md", "c")
    assert result.ok and result.scenario is not None
    assert result.scenario.turns[-1].text == "Three\n         goblins crouch behind a log."


@pytest.mark.parametrize(
    ("hp", "expected"),
    [("HP -5/31", "Thorin Ironfist: HP -5 is below 0 (HP runs from 0 to the maximum, here 0-31)"),
     ("HP 40/31", "Thorin Ironfist: HP 40 exceeds maximum 31"),
     ("HP 20000/20000", "Thorin Ironfist: maximum HP 20000 is out of range (limit 1-10000)")],
)
def test_hit_points_outside_their_range(hp: str, expected: str) -> None:
    assert errors(GOOD.replace("HP 28/31", hp)) == [f"s.md:9: error: {expected}"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [("XP 900 | Inventory: battleaxe", "XP 2000000 | Inventory: battleaxe",
      "s.md:9: error: Thorin Ironfist: XP 2000000 is out of range (limit 0-1000000)"),
     ("potion x2", "potion x2000000",
      "s.md:9: error: Thorin Ironfist: quantity of 'healing potion' 2000000 is out of range (limit 1-1000000)"),
     ("= 18", "= 18 vs DC 500: failure", "s.md:19: error: DC 500 is out of range (limit 1-100)")],
    ids=["xp", "quantity", "dc"],
)
def test_values_past_the_limits_name_them(old: str, new: str, expected: str) -> None:
    assert errors(GOOD.replace(old, new, 1)) == [expected]


def test_absurd_modifier_names_the_limit() -> None:
    text = GOOD.replace("1d20+1 = 17+1 = 18", "1d20+999999999999 = 17+999999999999 = 1000000000016")
    assert errors(text) == ["s.md:19: error: '1d20+999999999999' has modifier +999999999999: "
                            "the limit is -100 to +100"]


@pytest.mark.parametrize(
    ("dice", "expected"),
    [("0d6", "'0d6' rolls 0 dice: the limit is 1-100 dice"),
     ("101d6", "'101d6' rolls 101 dice: the limit is 1-100 dice"),
     ("1d1", "'1d1' has 1-sided dice: the limit is 2-1000 faces"),
     ("1d1001", "'1d1001' has 1001-sided dice: the limit is 2-1000 faces"),
     ("1d20-101", "'1d20-101' has modifier -101: the limit is -100 to +100"),
     ("1q20", "'1q20' is not a dice expression (write NdM+K, e.g. 1d20+3 or 2d6; 1-100 dice, 2-1000 faces, "
              "a modifier from -100 to +100)")],
)
def test_dice_errors_say_the_limits(dice: str, expected: str) -> None:
    assert read_dice(dice) == (None, expected)
    assert (MAX_DICE, MIN_SIDES, MAX_SIDES, MAX_MODIFIER) == (100, 2, 1000, 100)  # what the messages say
    assert read_dice("100d1000-100")[1] is None


# --- hangs -> linear time -----------------------------------------------------------------------


def _seconds(call: Callable[[], object]) -> float:
    """CPU seconds of this process: what a quadratic pattern multiplies, and what other processes on a
    busy machine (a parallel test worker, a training run) do not inflate the way they inflate wall time.
    The garbage collector is off while it runs, as in ``timeit``: a full collection of a test worker's
    heap once charged 0.6 s to an 0.08 s parse (a CI flake)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.process_time()
        call()
        return time.process_time() - start
    finally:
        if enabled:
            gc.enable()


def _parse_and_format(text: str) -> None:
    parse_scenario(text, "s.md", "c")
    format_text(text)  # `scenarios fmt` walks the same text


@pytest.mark.parametrize("piece", ["[roll: ", "<!-- "], ids=["roll-markers", "comment-openers"])
def test_the_two_reported_hangs_are_linear(piece: str) -> None:
    """56 KB of ``[roll: `` took 40 s and 1.4 MB over 2 minutes; now 1.4 MB is well under a second."""
    text = GOOD.replace("Three goblins", piece * (1_400_000 // len(piece)))
    assert _seconds(lambda: _parse_and_format(text)) < 3.0
    assert len(errors(text)) == 1  # one clear line, not one per opener


# Patterns that made a backtracking regex rescan the rest of the text (or line) at every repeat.
PATHOLOGICAL = ["[roll: ", "[roll", "[ roll :", "[roll: a (", "<!-- ", "<!--", "<!-- tags:", " ", "\t", "#", "## ",
                "vs DC 1 ", " vs ", "=", "1d20+", "x", "9", "(", "[", "]", "roll: ", "- ", "|", "HP ", ":", "->",
                " x", "x1 ", "1 ", "+1", "-", "\n", "a\n", "\n## DM\n", "\n- A | ", "roll: a = 1d20 = 5\n",
                "[roll: perception] "]
PLACES: dict[str, Callable[[str], str]] = {
    "dm": lambda body: GOOD.replace("Three goblins", body),
    "toolcall": lambda body: GOOD.replace("17+1 = 18", "17+1 = 18" + body),
    "toolcall-skill": lambda body: GOOD.replace("roll: perception (Thorin)", "roll: perception" + body),
    "party": lambda body: GOOD.replace("| Inventory: battleaxe", "| Inventory: battleaxe" + body),
    "title": lambda body: GOOD.replace("# Goblin Ambush", "# Goblin" + body),
    "header": lambda body: GOOD.replace("## User", "## User" + body),
    "raw": lambda body: body,
}
SECONDS_PER_100KB = 1.0
"""Generous (a quadratic pattern took 70 s per 100 KB; these take 0.01-0.4 s), so a loaded CI
machine does not flake, while any return to quadratic time fails by orders of magnitude."""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    piece=st.sampled_from(PATHOLOGICAL) | st.text(min_size=1, max_size=12),
    place=st.sampled_from(sorted(PLACES)),
    tail=st.sampled_from(["", "b", "]", "-->", "\n"]) | st.text(max_size=4),
)
def test_parse_time_is_linear_in_file_size(piece: str, place: str, tail: str) -> None:
    text = PLACES[place](piece * (50_000 // len(piece)) + tail)
    elapsed = _seconds(lambda: _parse_and_format(text))
    assert elapsed < 0.05 + SECONDS_PER_100KB * len(text) / 100_000, (
        f"{elapsed:.2f}s for {len(text)} chars of {piece!r} in {place}")
