"""Numeric field types of the recipe: numbers that refuse ``true``/``false`` and non-finite floats.

Pydantic's lax mode reads a YAML ``true`` as ``1`` (``max_steps: true`` trained one step) and
accepts ``.inf``/``.nan`` for floats (``epochs: .inf`` never ends). Strict mode would also refuse
``max_steps: "10"`` and ``epochs: 3`` (an int for a float) that existing recipes may use, so these
types only take out booleans and non-finite values and keep every other coercion as it was.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AllowInfNan, BeforeValidator
from pydantic_core import PydanticCustomError

MAX_STEPS = 1_000_000
"""Upper bound of step counts (max_steps, save/eval/logging intervals): far above any real
fine-tune of this project's models (the shipped recipes run hundreds), and low enough that a
typo such as ``10**12`` fails at load time instead of training for ever at a learning rate ~ 0."""

MAX_SEED = 2**32 - 1
"""numpy's ``random.seed`` (called by transformers' ``set_seed``) refuses anything outside 0..2**32-1."""


def _not_bool(kind: str) -> Any:
    def check(value: Any) -> Any:
        # bool is a subclass of int, so this must run before pydantic's own int/float parsing.
        if isinstance(value, bool):
            raise PydanticCustomError("plain_number", "must be {kind}, not true/false (got {got})",
                                      {"kind": kind, "got": str(value).lower()})
        # Here too, not only by AllowInfNan: pydantic checks bounds first and would say
        # "must be < 1 (got nan)" instead of naming the real problem.
        if isinstance(value, float) and not math.isfinite(value):
            raise PydanticCustomError("plain_number", "must be a finite number (got {got})", {"got": str(value)})
        return value

    return check


Int = Annotated[int, BeforeValidator(_not_bool("an integer"))]
"""An integer field: ``3`` or ``"3"``, never ``true``."""

Float = Annotated[float, BeforeValidator(_not_bool("a number")), AllowInfNan(False)]
"""A finite number: ``2e-4``, ``3`` or ``"0.5"``, never ``true``, ``.inf`` or ``.nan``."""
