"""The quant ladder's wall time against one direct quantize of the type it chooses (target <= 1.3x).

    python benchmarks/export_overhead.py                               # tiny random Gemma 3
    python benchmarks/export_overhead.py --model gemma-3-270m --limit 280MB

Both sides start from the same f16 GGUF in the same run. The ladder side is
``dndtune.export.ladder.walk_ladder`` over the mobile ladder (plus embedding rungs) with size
prediction; it quantizes only what can fit, so its cost over the direct quantize is reading the
f16 file's tensor table and predicting each rung. Verification, perplexity and the benchmark are
not part of either side (they run once on the chosen file whichever way it was chosen). The
best of ``--repeat`` runs of each side is compared.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny, a profile name (gemma-3-270m) or an HF folder")
    parser.add_argument("--limit", default=None, help="size limit (default: between the Q5_0 and Q5_K_M sizes)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from export_ladder import resolve_model

    from dndtune.events import ListSink
    from dndtune.export.convert import convert_hf_to_gguf
    from dndtune.export.ladder import expand_ladder, walk_ladder
    from dndtune.export.predict import predict, read_model_info
    from dndtune.export.quantize import quantize_gguf
    from dndtune.export.quants import Rung
    from dndtune.export.targets import default_target
    from dndtune.export.toolchain import ensure_converter, load_toolchain
    from dndtune.units import format_size, parse_size

    ensure_converter()
    with tempfile.TemporaryDirectory(prefix="dndtune-export-overhead-") as tmp:
        work = Path(tmp)
        f16 = convert_hf_to_gguf(resolve_model(args.model, work), work / "f16.gguf", load_toolchain()).path
        info = read_model_info(f16)
        ladder = list(default_target("mobile").ladder)
        if args.limit:
            limit = parse_size(args.limit)
        else:
            limit = (predict(info, Rung("Q5_K_M")).bytes + predict(info, Rung("Q5_0")).bytes) // 2
        ladder_times: list[float] = []
        direct_times: list[float] = []
        chosen = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            model = read_model_info(f16)
            rungs = expand_ladder(ladder, model)
            result = walk_ladder(model, rungs, limit,
                                 lambda r: quantize_gguf(f16, work / f"{r.label}.gguf", r, threads=args.threads),
                                 events=ListSink(), discard=lambda p: p.unlink(missing_ok=True))
            ladder_times.append(time.perf_counter() - start)
            chosen = result.chosen.rung
            tried = [t.rung for t in result.tries if t.actual_bytes is not None]
            result.chosen.path.unlink()
            start = time.perf_counter()
            direct = quantize_gguf(f16, work / "direct.gguf", chosen, threads=args.threads)
            direct_times.append(time.perf_counter() - start)
            direct.path.unlink()
    assert chosen is not None
    ratio = min(ladder_times) / min(direct_times)
    print(f"model {args.model}, limit {format_size(limit)}: ladder chose {chosen.label} "
          f"(quantized: {', '.join(tried)})")
    print(f"ladder {min(ladder_times):.2f} s, direct quantize {min(direct_times):.2f} s, ratio {ratio:.2f}x "
          f"(target <= 1.3x) {'OK' if ratio <= 1.3 else 'OVER'}")
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
