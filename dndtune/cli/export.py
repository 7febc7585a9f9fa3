"""``dndtune export RUN`` (merged model -> verified GGUF for a target) and ``dndtune bench RUN``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dndtune.cli.console import ConsoleSink
from dndtune.errors import DndtuneError
from dndtune.evaluate.export_gate import task_gate
from dndtune.export.bench import profile_performance
from dndtune.export.gate import gate_lines
from dndtune.export.manifest import write_manifest
from dndtune.export.run import export_run, find_export, resolve_target
from dndtune.export.targets import default_target
from dndtune.gguf.file import check_sha256
from dndtune.recipe.loader import load_recipe
from dndtune.registry import check_reexport, record_reexport
from dndtune.runs import RunLayout
from dndtune.units import format_size, parse_size

DEFAULT_OUTPUT = Path("training-output")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "export", help="convert a trained run to a GGUF that fits the target, verified in llama.cpp")
    p.add_argument("run", help="run folder (training-output/runs/NAME) or run name")
    p.add_argument("--target", choices=("mobile", "desktop"), default=None,
                   help="export target (default: the run recipe's target.kind, else mobile)")
    p.add_argument("--quant", default=None, metavar="TYPE",
                   help="export this one type instead of walking the ladder, e.g. Q5_K_M or Q4_0+emb=Q4_0")
    p.add_argument("--size-limit", default=None, metavar="SIZE",
                   help='largest file accepted, e.g. "2GB" or "1.5 GiB" (default: the target\'s)')
    p.add_argument("--gate", type=float, default=None, metavar="TOL",
                   help="keep going down the ladder while DM-turn perplexity stays within TOL "
                        "(relative, e.g. 0.05) of the first type that fits")
    p.add_argument("--prefer", choices=("first_fit", "smallest"), default=None,
                   help="first_fit: the first type that fits; smallest: the smallest file whose held-out scores "
                        "stay within target.gate of the f16 file, tried smallest first (default: the run recipe's "
                        "target.prefer)")
    p.add_argument("--prune", action="store_true",
                   help="when no type fits, drop the layers that matter least on held-out DM turns "
                        "(kept only within --gate, default 10 %%, of the unpruned perplexity)")
    p.add_argument("--strict", action="store_true",
                   help="fail when the model does not stop at end of turn or emits no parseable tool call")
    p.add_argument("--allow-drift", action="store_true",
                   help="accept a file whose next-token distributions drift past its type's KL tolerance "
                        "(the drift is still reported in model.json)")
    p.add_argument("--no-bench", action="store_true", help="skip the performance profile")
    p.add_argument("-v", "--verbose", action="store_true", help="show debug events")
    p.set_defaults(func=run_export)

    b: argparse.ArgumentParser = sub.add_parser(
        "bench", help="re-measure an exported GGUF's load time, tokens/s and peak RAM in llama.cpp")
    b.add_argument("run", help="run folder (training-output/runs/NAME) or run name")
    b.add_argument("--ctx", type=int, default=None, help="context length (default: the export target's)")
    b.add_argument("--threads", type=int, default=None, help="threads (default: the export target's, capped at cores)")
    b.set_defaults(func=run_bench)


def resolve_run(value: str, output_dir: Path = DEFAULT_OUTPUT) -> Path:
    given = Path(value).expanduser()
    if given.is_dir():
        return given
    named = output_dir / "runs" / value
    if named.is_dir():
        return named
    raise DndtuneError("no such run", path=value,
                       fix=f"give a run folder or the name of one under {output_dir / 'runs'}")


def run_export(args: argparse.Namespace) -> int:
    size_limit: int | None = None
    if args.size_limit is not None:
        try:
            size_limit = parse_size(args.size_limit)
        except ValueError:
            raise DndtuneError(f"bad --size-limit {args.size_limit!r}", fix='write e.g. 2GB, 1.5GiB or bytes') from None
    run_dir = resolve_run(args.run)
    layout = RunLayout(run_dir)
    output = run_dir.parent.parent
    check_reexport(output, layout.name)
    target = resolve_target(layout, args.target)
    evaluate_section = load_recipe(str(layout.recipe)).evaluate if layout.recipe.is_file() else None
    result = export_run(layout, target, ConsoleSink(verbose=args.verbose), args.quant,
                        size_limit=size_limit, gate=args.gate, prune=args.prune, strict=args.strict,
                        allow_drift=args.allow_drift, bench=not args.no_bench, prefer=args.prefer,
                        task_gate=task_gate(layout, target, evaluate_section))
    m = result.manifest
    record_reexport(output, layout.name, result.gguf, m.sha256, m.bytes)
    print(f"{result.gguf}")
    print(f"  {m.quant}  {format_size(m.bytes)} (limit {format_size(m.size_limit)})  sha256 {m.sha256[:16]}")
    for line in gate_lines(m.gate):
        print(f"  {line}")
    if m.pruning is not None:
        print(f"  layers {m.pruning['layers']} pruned (DM-turn perplexity {m.pruning['base_perplexity']:.3f} -> "
              f"{m.pruning['perplexity']:.3f})")
    if m.scores.get("perplexity") is not None:
        print(f"  held-out DM-turn perplexity {m.scores['perplexity']:.3f}")
    if m.perf is not None:
        print(f"  {m.perf.gen_tps:.1f} tok/s generation, {m.perf.prompt_tps:.0f} tok/s prompt, "
              f"peak RAM {m.perf.peak_rss_bytes / 1e6:.0f} MB ({m.perf.threads} threads, ctx {m.perf.n_ctx})")
    warnings = [c for c in m.verify if not c["passed"]]
    for check in warnings:
        print(f"  warning: {check['name']}: {check['detail']}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    run_dir = resolve_run(args.run)
    gguf, manifest = find_export(run_dir)
    check_sha256(gguf, manifest.sha256)
    kind = manifest.target.get("kind", "mobile")
    target = default_target(kind if kind in ("mobile", "desktop") else "mobile")
    n_ctx = args.ctx or int(manifest.target.get("n_ctx", target.n_ctx))
    threads = args.threads or target.with_overrides(threads=manifest.target.get("threads")).measure_threads()
    perf = profile_performance(gguf, n_ctx=n_ctx, threads=threads)
    write_manifest(run_dir / "export" / "model.json", manifest.model_copy(update={"perf": perf}))
    print(f"{gguf.name}: load {perf.load_s:.2f} s, prompt {perf.prompt_tps:.0f} tok/s, "
          f"generation {perf.gen_tps:.1f} tok/s, peak RAM {perf.peak_rss_bytes / 1e6:.0f} MB "
          f"(ctx {perf.n_ctx}, {perf.threads} threads, {perf.machine})")
    return 0
