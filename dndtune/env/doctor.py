"""The doctor as the first stage of a run (``dndtune doctor`` runs the same checklist).

:func:`dndtune.env.environment.collect_environment` gathers facts (no side effects: optional
engines are looked up, never imported, because importing Unsloth patches other libraries);
:func:`dndtune.env.checks.check_recipe` turns facts plus a recipe into pass / warn / fail lines,
each with a fix; :func:`check_run` reports them and refuses to start on a failure.
"""

from __future__ import annotations

from typing import Literal

from dndtune.env.checks import check_recipe
from dndtune.env.environment import EnvReport, collect_environment
from dndtune.env.report import DoctorReport, Status
from dndtune.errors import DndtuneError
from dndtune.events import DoctorCheck, EventSink
from dndtune.models.profiles import ModelProfile
from dndtune.recipe.schema import Recipe


def check_run(recipe: Recipe, events: EventSink, *, env: EnvReport | None = None,
              profile: ModelProfile | None = None) -> DoctorReport:
    """The doctor as the first stage of a run: report every check, refuse to start on a failure."""
    env = env or collect_environment(recipe.output.dir)
    report = DoctorReport(env, tuple(check_recipe(recipe, env, profile=profile)))
    levels: dict[Status, Literal["debug", "warning", "error"]] = {"pass": "debug", "warn": "warning", "fail": "error"}
    for check in report.checks:
        suffix = f" (fix: {check.fix})" if check.fix else ""
        events.emit(DoctorCheck(message=f"{check.name}: {check.message}{suffix}", level=levels[check.status],
                                name=check.name, status=check.status, detail=check.message, fix=check.fix))
    failures = report.failures()
    if failures:
        first = failures[0]
        more = f" (+{len(failures) - 1} more: dndtune doctor --recipe ... lists them)" if len(failures) > 1 else ""
        raise DndtuneError(f"{first.name}: {first.message}{more}", fix=first.fix)
    return report
