"""Size and llama.cpp speed of every quant type of one model, as ratios against its f16 GGUF.

    python benchmarks/export_ladder.py                          # tiny random Gemma 3 (seconds)
    python benchmarks/export_ladder.py --model gemma-3-270m     # the real Gemma 3 270M (demo profile)
    python benchmarks/export_ladder.py --model PATH --quants Q8_0,Q4_0 --ctx 2048 --threads 2

The model is converted once with the pinned llama.cpp converter, then each type is quantized
and profiled with the export stage's own code (fresh llama.cpp worker per measurement: load
time, prompt and generation tokens/s, peak RSS). The predicted size is printed beside the real
one. Ratios are against f16 in the same run, so they hold on any machine; absolute tokens/s
depend on the machine and on what else it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUANTS = "Q8_0,Q6_K,Q5_K_M,Q5_0,Q4_K_M,Q4_0,Q4_0+emb=Q4_0"


def resolve_model(name: str, work: Path) -> Path:
    if name == "tiny":
        from dndtune.models.profiles import get_profile
        from dndtune.train.tiny import save_tiny_model

        return save_tiny_model("gemma3", work / "tiny", chat_template=get_profile("gemma-3-270m").chat_template,
                               hidden_size=256, layers=2)
    if Path(name).is_dir():
        return Path(name)
    from dndtune.models.resolve import resolve_model as resolve
    from dndtune.recipe.schema import BaseModelSection

    return resolve(BaseModelSection(profile=name), offline=True).path


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny, a profile name (gemma-3-270m) or an HF folder")
    parser.add_argument("--quants", default=DEFAULT_QUANTS)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    from dndtune.export.bench import profile_performance
    from dndtune.export.convert import convert_hf_to_gguf
    from dndtune.export.predict import predict, read_model_info
    from dndtune.export.quantize import quantize_gguf
    from dndtune.export.quants import Rung
    from dndtune.export.toolchain import ensure_converter, load_toolchain

    ensure_converter()
    toolchain = load_toolchain()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dndtune-export-bench-") as tmp:
        work = Path(tmp)
        folder = resolve_model(args.model, work)
        start = time.perf_counter()
        f16 = convert_hf_to_gguf(folder, work / "f16.gguf", toolchain).path
        convert_s = time.perf_counter() - start
        info = read_model_info(f16)
        perf = profile_performance(f16, n_ctx=args.ctx, threads=args.threads)
        base = {"quant": "F16", "predicted": f16.stat().st_size, "bytes": f16.stat().st_size, "quantize_s": 0.0,
                "perf": perf.model_dump()}
        rows.append(base)
        for label in args.quants.split(","):
            rung = Rung.parse(label)
            predicted = predict(info, rung).bytes
            result = quantize_gguf(f16, work / f"{rung.label}.gguf", rung, threads=args.threads)
            perf = profile_performance(result.path, n_ctx=args.ctx, threads=args.threads)
            rows.append({"quant": rung.label, "predicted": predicted, "bytes": result.bytes,
                         "quantize_s": result.seconds, "perf": perf.model_dump()})
            result.path.unlink()
    f16_row = rows[0]["perf"]
    print(f"model {args.model}: f16 GGUF {rows[0]['bytes'] / 1e6:.1f} MB, converted in {convert_s:.1f} s; "
          f"ctx {args.ctx}, {args.threads} threads, {f16_row['machine']}")
    print(f"{'quant':<16}{'MB':>9}{'pred MB':>9}{'size':>7}{'quant s':>9}{'load s':>8}{'pp t/s':>9}{'pp':>6}"
          f"{'tg t/s':>9}{'tg':>6}{'RSS MB':>8}")
    for row in rows:
        p = row["perf"]
        print(f"{row['quant']:<16}{row['bytes'] / 1e6:>9.1f}{row['predicted'] / 1e6:>9.1f}"
              f"{row['bytes'] / rows[0]['bytes']:>7.2f}{row['quantize_s']:>9.2f}{p['load_s']:>8.2f}"
              f"{p['prompt_tps']:>9.0f}{p['prompt_tps'] / f16_row['prompt_tps']:>6.2f}"
              f"{p['gen_tps']:>9.1f}{p['gen_tps'] / f16_row['gen_tps']:>6.2f}{p['peak_rss_bytes'] / 1e6:>8.0f}")
    if args.json:
        args.json.write_text(json.dumps({"convert_s": convert_s, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
