"""``dndtune models list|compare|promote|rollback|history|bench|check``: manage model versions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dndtune.cli.console import ConsoleSink
from dndtune.deploy import DeployOptions, deploy
from dndtune.errors import DndtuneError
from dndtune.evaluate.report import format_value
from dndtune.registry import (
    Registry,
    check_recorded,
    hash_gguf,
    list_versions,
    measure,
    promote,
    record_deploy,
    record_perf,
    rollback,
    verify_export,
    verify_promoted,
    warnings_against,
)
from dndtune.registry.compare import comparison_rows, rating_verdict
from dndtune.registry.store import now
from dndtune.runs import find_run

DEFAULT_OUTPUT = Path("training-output")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("models", help="list, compare, promote and roll back model versions")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="runs folder (default training-output)")
    cmds = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    ls = cmds.add_parser("list", help="every run: base model, data hash, quant, size, scores, ratings, speed")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.set_defaults(func=run_list)

    cmp = cmds.add_parser("compare", help="two versions side by side: scores, ratings, speed and sample replies")
    cmp.add_argument("a", metavar="A")
    cmp.add_argument("b", metavar="B")
    cmp.add_argument("--samples", type=int, default=3, help="sample replies to show (default 3)")
    cmp.set_defaults(func=run_compare)

    pro = cmds.add_parser("promote", help="mark a run as the deployed version (the old one stays in the history)")
    pro.add_argument("run", metavar="RUN")
    pro.add_argument("--note", default="", help="why (kept in the history)")
    pro.add_argument("--strict", action="store_true", help="refuse when the run is slower, larger or scores worse")
    pro.set_defaults(func=run_promote)

    rb = cmds.add_parser("rollback", help="bring back the previously promoted version (and redeploy it where "
                                          "`dndtune deploy` last installed one)")
    rb.add_argument("--note", default="")
    rb.add_argument("--no-redeploy", action="store_true",
                    help="only change the registry; print the deploy command instead of running it")
    rb.set_defaults(func=run_rollback)

    hist = cmds.add_parser("history", help="every promotion and rollback")
    hist.set_defaults(func=run_history)

    bench = cmds.add_parser("bench", help="measure a run's GGUF (tokens/s, memory) on this machine and record it")
    bench.add_argument("run", metavar="RUN")
    bench.add_argument("--tokens", type=int, default=64)
    bench.set_defaults(func=run_bench)

    check = cmds.add_parser("check", help="warn when a version is slower, larger or worse than the promoted one")
    check.add_argument("run", metavar="RUN", nargs="?", help="version to check (default: the newest run)")
    check.add_argument("--strict", action="store_true", help="exit 1 on any warning (for CI alerts)")
    check.set_defaults(func=run_check)


def _versions(args: argparse.Namespace, *, changing: bool = False) -> tuple[list[Any], Any]:
    """Every version and the registry state; a command that only shows them works on the backup of a damaged
    registry (with a warning), one that changes it refuses at once (writing the backup back would drop the
    last change)."""
    registry = Registry(args.output)
    if changing:
        state = registry.read()
    else:
        state, warning = registry.read_or_backup()
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    return list_versions(args.output, state), state


def _fmt(value: float | int | None, kind: str = "pct") -> str:
    if kind == "pct":
        return format_value("score", value)
    return format_value(kind, value)


def run_list(args: argparse.Namespace) -> int:
    versions, _ = _versions(args)
    if args.format == "json":
        print(json.dumps([_as_json(v) for v in versions], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"model versions in {args.output / 'runs'}")
    for column in ("", "run", "base model", "data", "quant", "size", "recall", "exact skill", "uses result",
                   "coherence", "ppl", "rating", "tok/s", "changes"):
        table.add_column(column)
    for v in versions:
        s = v.scores
        rating = _rating(v)
        table.add_row("*" if v.promoted else "", v.name, Path(v.base_model).name if v.base_model else "-",
                      (v.data_hash or "-")[:8], v.quant or "-", _fmt(v.size_bytes, "size_bytes"),
                      _fmt(s.get("recall")), _fmt(s.get("exact_skill")), _fmt(s.get("consistency")),
                      _fmt(s.get("coherence")), _fmt(s.get("perplexity"), "perplexity"), rating,
                      _fmt(v.perf.tokens_per_second if v.perf else None, "tokens_per_second"), v.changes or "")
    Console().print(table)
    if not versions:
        print(f"no runs under {args.output / 'runs'}")
    return 0


def _as_json(v: Any) -> dict[str, Any]:
    return {"name": v.name, "promoted": v.promoted, "status": v.status, "base_model": v.base_model,
            "data_hash": v.data_hash, "quant": v.quant, "size_bytes": v.size_bytes, "sha256": v.sha256,
            "scores": v.scores, "ratings": {"count": v.ratings.count, "mean": v.ratings.mean},
            "perf": v.perf.model_dump() if v.perf else None, "changes": v.changes}


def _find(versions: list[Any], name: str, args: argparse.Namespace) -> Any:
    folder = find_run(name, args.output).root
    for v in versions:
        if v.run.root.resolve() == folder.resolve():
            return v
    raise DndtuneError("the run is not under the runs folder", path=str(folder),
                       fix=f"move it under {args.output / 'runs'} or pass --output")


def run_compare(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    versions, _ = _versions(args)
    a, b = _find(versions, args.a, args), _find(versions, args.b, args)
    table = Table(title=f"{a.name} vs {b.name}")
    table.add_column("")
    table.add_column(a.name, justify="right")
    table.add_column(b.name, justify="right")
    for row in comparison_rows(a, b):
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(f"player ratings: {rating_verdict(a.name, a.ratings, b.name, b.ratings)}", markup=False)
    _print_samples(console, a, b, args.samples)
    return 0


def _rating(v: Any) -> str:
    return f"{v.ratings.mean:.2f} ({v.ratings.count})" if v.ratings.mean is not None else "-"


def _shown(reply: str) -> str:
    return reply.strip() or f"(nothing but whitespace, {len(reply)} characters)"


def _print_samples(console: Any, a: Any, b: Any, limit: int) -> None:
    from rich.table import Table

    if a.report is None or b.report is None:
        console.print("sample replies: evaluate both runs first (`dndtune eval RUN`)")
        return
    theirs = {(s.source, s.turn): s for s in b.report.samples}
    shown = 0
    for sample in a.report.samples:
        other = theirs.get((sample.source, sample.turn))
        if other is None:
            continue
        console.print(f"\n{sample.source} turn {sample.turn}, after: {sample.prompt[:100]}")
        table = Table(show_lines=True, expand=True)
        table.add_column(a.name, ratio=1)
        table.add_column(b.name, ratio=1)
        table.add_row(_shown(sample.reply), _shown(other.reply))
        console.print(table)
        shown += 1
        if shown >= limit:
            break
    if not shown:
        console.print("sample replies: the two evaluations share no prompts (evaluate both on the same set)")


def run_promote(args: argparse.Namespace) -> int:
    versions, state = _versions(args, changing=True)
    candidate = _find(versions, args.run, args)
    # Refuse a failed run or a damaged/changed file before comparing anything.
    verified = verify_export(candidate.run)
    warnings = _warnings(candidate, versions, state)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if warnings and args.strict:
        raise DndtuneError(f"{candidate.name} is worse than the promoted version",
                           fix="drop --strict to promote anyway")
    entry = promote(args.output, candidate.run.root, note=args.note, verified=verified)
    print(f"promoted {entry.version}" + (f" (was {entry.previous})" if entry.previous else ""))
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    entry = rollback(args.output, note=args.note)
    print(f"rolled back to {entry.version} (from {entry.previous})")
    deployed = Registry(args.output).read().last_deploy
    if deployed is None:
        print("nothing was deployed with `dndtune deploy` yet: ship it with "
              f"`dndtune deploy {entry.version} --to <app assets folder>`")
        return 0
    command = deployed.command(entry.version)
    if args.no_redeploy or not Path(deployed.to).is_dir():
        why = "" if args.no_redeploy else f" ({deployed.to} is not there any more)"
        print(f"the app still has {deployed.version}{why}; to ship {entry.version} there: {command}")
        return 0
    print(f"redeploying {entry.version} to {deployed.to} ({command})")
    result = deploy(find_run(entry.version, args.output), Path(deployed.to),
                    DeployOptions(target=deployed.target, name=deployed.name, test=deployed.tested), ConsoleSink())
    record_deploy(args.output, deployed.model_copy(update={"version": entry.version, "at": now()}))
    print(f"  {result.installed}")
    return 0


def run_history(args: argparse.Namespace) -> int:
    _, state = _versions(args)
    if not state.history:
        print("no promotions yet")
    for entry in state.history:
        sha = f" sha256 {entry.sha256[:12]}" if entry.sha256 else ""
        note = f"  {entry.note}" if entry.note else ""
        print(f"{entry.at}  {entry.action:<8} {entry.version}  (before: {entry.previous or '-'}){sha}{note}")
    current = state.promoted or "-"
    print(f"promoted now: {current}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    run = find_run(args.run, args.output)
    if run.gguf is None:
        raise DndtuneError("the run has no exported GGUF", path=str(run.root), fix=f"dndtune export {run.name}")
    record = measure(run.gguf, tokens=args.tokens)
    record_perf(args.output, run.name, record)
    print(f"{run.name}: {record.tokens_per_second:.1f} tok/s decode, "
          f"{(record.prompt_tokens_per_second or 0):.0f} tok/s prompt, "
          f"+{(record.peak_rss_bytes or 0) / 1e6:.0f} MB RAM on {record.machine}")
    return 0


def _warnings(candidate: Any, versions: list[Any], state: Any) -> list[str]:
    promoted = next((v for v in versions if v.name == state.promoted), None)
    if promoted is None or promoted.name == candidate.name:
        return []
    return warnings_against(candidate, promoted)


def run_check(args: argparse.Namespace) -> int:
    versions, state = _versions(args)
    if not versions:
        raise DndtuneError("no runs to check", path=str(args.output / "runs"), fix="train and export a run first")
    candidate = _find(versions, args.run, args) if args.run else max(versions, key=lambda v: v.run.root.stat().st_mtime)
    if state.promoted is None:
        print(f"{candidate.name}: nothing promoted yet, nothing to compare against")
        return 0
    # The promoted file must still be the one the registry recorded, or every comparison is against the wrong model.
    verify_promoted(args.output, state)
    warnings = _warnings(candidate, versions, state)
    if candidate.name != state.promoted and candidate.gguf is not None:
        try:  # a candidate promoted before whose file changed can no longer be rolled back to
            check_recorded(state, hash_gguf(candidate.run), fix="")
        except DndtuneError as exc:
            warnings.append(exc.message)
    for warning in warnings:
        print(f"warning: {candidate.name}: {warning}")
    if not warnings:
        print(f"{candidate.name}: not slower, larger or worse than the promoted {state.promoted}")
    return 1 if warnings and args.strict else 0
