"""``dndtune eval RUN_OR_GGUF``: tool-call, roll-result, quality and regression scores of a model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dndtune.cli.console import ConsoleSink
from dndtune.errors import DndtuneError
from dndtune.evaluate import EvalOptions, evaluate, open_runner
from dndtune.evaluate.examples import load_jsonl, load_scenario_folder
from dndtune.evaluate.gate import Tolerance, pick_quant
from dndtune.evaluate.ladder import REFERENCE_LABEL, ladder_models, recipe_ladder
from dndtune.evaluate.regression import regressions
from dndtune.evaluate.report import comparison_rows, plot_comparison, report_json, write_eval_file
from dndtune.evaluate.targets import resolve_target
from dndtune.paths import cache_dir
from dndtune.registry.store import Registry
from dndtune.registry.versions import load_version
from dndtune.runs import RunFolder

DEFAULT_OUTPUT = Path("training-output")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "eval", help="evaluate a model: tool calls, use of roll results, response quality, regressions")
    p.add_argument("targets", nargs="+", metavar="RUN_OR_GGUF",
                   help="run folder or name, .gguf file or HF model folder; several are compared side by side")
    p.add_argument("--scenarios", type=Path, action="append", default=[], metavar="PATH",
                   help="evaluate on these scenario files/folders instead of the run's held-out split")
    p.add_argument("--ladder", nargs="*", metavar="QUANT", default=None,
                   help="also evaluate the base model, the f16 GGUF and each quant (default: the run's ladder) "
                        "and pick the smallest quant within --tolerance of f16")
    p.add_argument("--tolerance", type=float, default=0.05,
                   help="quality gate: allowed absolute drop of 0-1 scores (perplexity: 2x this, relative)")
    p.add_argument("--max-tokens", type=int, default=200, help="reply budget per DM turn (default 200)")
    p.add_argument("--max-turns", type=int, default=None, help="evaluate only the first N DM turns")
    p.add_argument("--no-regression", action="store_true", help="skip the fixed regression suite")
    p.add_argument("--grammar", action=argparse.BooleanOptionalAction, default=True,
                   help="decode GGUF replies under the roll grammar the deploy bundle ships, as the app does; "
                        "--no-grammar measures the model unconstrained. HF folders are never constrained "
                        "(the report says 'not applied')")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="runs folder (default training-output)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a regression-suite case that passes for the promoted model fails here, "
                        "or when no quant passes the quality gate")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress events")
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    events = ConsoleSink(verbose=args.verbose)
    targets = [resolve_target(t, args.output) for t in args.targets]
    primary = targets[0]
    examples, source = _examples(args, primary, events)
    models = [(t.label, t.model) for t in targets]
    gate_reference: str | None = None
    if args.ladder is not None:
        models, gate_reference = _with_ladder(args, primary, models, events)
    reports = [_evaluate_one(label, path, examples, source, args, events) for label, path in models]

    written: list[Path] = []
    if primary.run is not None:
        written.append(write_eval_file(primary.run.eval_json, reports, primary=reports[0].model.label))
        written.append(plot_comparison(reports, primary.run.layout.eval_chart))
    if args.format == "json":
        print(report_json(reports))
    else:
        _print_table(reports)
        for path in written:
            print(f"wrote {path}")
    failed = _gate(reports, gate_reference, args) if gate_reference else False
    broken = _regressions_vs_promoted(reports[0], primary, args)
    return 1 if args.strict and (broken or failed) else 0


def _examples(args: argparse.Namespace, primary: Any, events: Any) -> tuple[list[Any], str]:
    if args.scenarios:
        return load_scenario_folder(args.scenarios, events, cache_dir() / "scenarios"), \
            ", ".join(str(p) for p in args.scenarios)
    split = primary.run.eval_split if primary.run is not None else None
    if split is None:
        raise DndtuneError("no held-out split to evaluate on", path=str(primary.model),
                           fix="pass --scenarios PATH (a folder of scenario files), or give a run folder")
    return load_jsonl(split), str(split)


def _with_ladder(args: argparse.Namespace, primary: Any, models: list[tuple[str, Path]], events: Any
                 ) -> tuple[list[tuple[str, Path]], str]:
    if primary.run is None:
        raise DndtuneError("--ladder needs a run", path=str(primary.model), fix="give a run folder or run name")
    quants = args.ladder or recipe_ladder(primary.run)
    extra = [(m.label, m.path) for m in ladder_models(primary.run, quants, events=events)]
    seen = {path for _, path in models}
    return models + [(label, path) for label, path in extra if path not in seen], REFERENCE_LABEL


def _evaluate_one(label: str, path: Path, examples: list[Any], source: str, args: argparse.Namespace,
                  events: Any) -> Any:
    runner = open_runner(path, label=label)
    try:
        options = EvalOptions(max_tokens=args.max_tokens, max_turns=args.max_turns,
                              regression=not args.no_regression, grammar=args.grammar)
        return evaluate(runner, examples, options=options, events=events, source=source)
    finally:
        runner.close()


def _print_table(reports: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dndtune eval", show_lines=False)
    table.add_column("score")
    for report in reports:
        table.add_column(report.model.label, justify="right")
    for label, values in comparison_rows(reports):
        table.add_row(label, *values)
    console = Console()
    console.print(table)
    first = reports[0]
    console.print(f"{first.data.evaluated_turns}/{first.data.turns} DM turns from {first.data.source}"
                  + "".join(f"; skipped {n}: {why}" for why, n in first.data.skipped.items()))


def _gate(reports: list[Any], reference_label: str, args: argparse.Namespace) -> bool:
    reference = next(r for r in reports if r.model.label == reference_label)
    candidates = [r for r in reports if r.model.kind == "gguf" and r is not reference]
    decision = pick_quant(reference, candidates, Tolerance(score_drop=args.tolerance,
                                                           perplexity_rise=2 * args.tolerance))
    stream = sys.stdout if args.format == "table" else sys.stderr
    for check in decision.checks:
        verdict = "ok" if check.passed else "; ".join(check.failures)
        print(f"gate {check.label}: {verdict}", file=stream)
    print(f"quality gate: {decision.chosen or 'no quant'} is the smallest within tolerance of {reference_label}",
          file=stream)
    return decision.chosen is None


def _regressions_vs_promoted(report: Any, primary: Any, args: argparse.Namespace) -> list[str]:
    state = Registry(args.output).read()
    if state.promoted is None or report.regression is None:
        return []
    if primary.run is not None and primary.run.name == state.promoted:
        return []
    promoted = load_version(RunFolder(args.output / "runs" / state.promoted), state).report
    if promoted is None or promoted.regression is None:
        return []
    broken = regressions(promoted.regression, report.regression)
    if broken:
        print(f"warning: regression suite: {', '.join(broken)} pass for the promoted {state.promoted} "
              "and fail here", file=sys.stderr)
    return broken
