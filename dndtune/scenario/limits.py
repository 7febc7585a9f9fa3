"""Every numeric limit a scenario is held to, in one place, and the messages that name them.

The limits are generous for D&D 5e (a DC rarely passes 30, a modifier +20, HP a few hundred) but
they stop absurd values: a 5000-digit number would make Python refuse the conversion, and a
``1d20+999999999999`` would teach the model nonsense. Messages always say what the limit is.
"""

from __future__ import annotations

MAX_DICE = 100
"""Dice in one ``NdM+K`` expression (N)."""
MIN_SIDES, MAX_SIDES = 2, 1000
"""Faces of one die (M)."""
MAX_MODIFIER = 100
"""Absolute value of a roll's modifier (K)."""
MAX_TARGET = 100
"""Highest DC or AC (5e tops out near 30)."""
MAX_HP = 10_000
MAX_XP = 1_000_000
"""5e's level-20 threshold is 355,000; kept well above for homebrew."""
MIN_LEVEL, MAX_LEVEL = 1, 20
MAX_QUANTITY = 1_000_000
"""Items of one inventory line (coins included)."""
MAX_FILE_BYTES = 2 * 1024 * 1024
"""A scenario is a few kilobytes; a bigger .md file is almost surely not one (and costs memory to read)."""
MAX_DIGITS = 15
"""More digits than any limit above has: such a number is out of range without converting it
(Python refuses to convert more than 4300 digits, which used to crash validation)."""

DICE_LIMITS = (f"1-{MAX_DICE} dice, {MIN_SIDES}-{MAX_SIDES} faces, "
               f"a modifier from -{MAX_MODIFIER} to +{MAX_MODIFIER}")
"""How the dice limits read in a message."""


def clip(text: str, width: int = 60) -> str:
    """``text`` shortened for a one-line message; a pasted wall of text must not become the message."""
    text = " ".join(text.split()) if len(text) < 4 * width else " ".join(text[: 4 * width].split())
    return text if len(text) <= width else text[: width - 1] + "…"


def show_number(digits: str) -> str:
    """A number as a message shows it: a 5000-digit one is cut, with its length."""
    return digits if len(digits) <= 20 else f"{digits[:12]}… ({len(digits)} digits)"


def to_int(digits: str) -> int | None:
    """``digits`` (optional sign, ASCII or Unicode decimal digits) as an int, or None when it has
    more than :data:`MAX_DIGITS` digits: then it is out of every range here, so never converted."""
    body = digits.lstrip("+-").lstrip("0")
    if len(body) > MAX_DIGITS:
        return None
    return int(digits)


def range_error(what: str, value: int | str, low: int, high: int) -> str | None:
    """``"<what> <value> is out of range (limit low-high)"``, or None when ``value`` is within.

    ``value`` may be the digits as written (a string), so an over-long number is reported
    without being converted.
    """
    number = to_int(value) if isinstance(value, str) else value
    if number is not None and low <= number <= high:
        return None
    shown = show_number(value) if isinstance(value, str) else str(value)
    span = f"{low} to +{high}" if low < 0 else f"{low}-{high}"
    return f"{what} {shown} is out of range (limit {span})"
