"""Seconds per training step, tokens/s and peak memory: dndtune's engines against a plain script.

    python benchmarks/train_step.py                         # tiny random Gemma 3, all configurations
    python benchmarks/train_step.py --model gemma-3-270m    # the real Gemma 3 270M (demo profile)
    python benchmarks/train_step.py --model PATH --configs plain,trl,unsloth --steps 8

Every configuration trains the same LoRA (same rank, targets, data, order, seed) on the same
conversations, truncated so every step sees exactly ``--seq-len`` tokens per sequence, in its
own child process (Unsloth patches the process it is imported in, and peak RSS must not carry
over). The first ``--warmup`` steps are not timed. Ratios are against ``plain`` in the same run:

``plain``      transformers ``Trainer`` + PEFT, float32 weights, the model's own loss: what a
               plain fine-tuning script does. (TRL 1.x's ``SFTTrainer`` cannot train on a CPU-only
               PyTorch: its loss kernel is Triton, which only CUDA builds ship; dndtune's ``trl``
               engine computes the loss without it.)
``trl``        dndtune, ``train.engine: trl`` (TRL + PEFT, bf16 where the CPU/GPU has it)
``unsloth``    dndtune, ``train.engine: unsloth`` (skipped where it is not installed)
``trl-gc``     ``trl`` with gradient checkpointing (the recipe default: less memory, more time)
``unsloth-gc`` ``unsloth`` with gradient checkpointing
``trl-heap``   ``trl`` without handing freed memory back to the OS after each step: what the
               ``malloc_trim`` of ``dndtune/train/allocator.py`` costs (what it saves shows over a
               whole run, whose sequences vary in length: benchmarks/RESULTS.md)

No timed assertions live in the test suite; this script is where speed is measured.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ("plain", "trl", "unsloth", "trl-gc", "unsloth-gc", "trl-heap")
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# --- parent: prepare data, run children, report -----------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="tiny, gemma-3-270m (demo profile) or a model folder")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {CONFIGS}")
    parser.add_argument("--steps", type=int, default=6, help="timed optimizer steps per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    parser.add_argument("--seq-len", type=int, default=512, help="tokens per sequence")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank")
    parser.add_argument("--threads", type=int, default=0, help="torch threads in each child (0: torch default)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every configuration this many times, interleaved, and report medians "
                        "(for machines shared with other jobs)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args)), flush=True)
        return 0

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    wanted = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(unknown)}")
    with tempfile.TemporaryDirectory(prefix="dndtune-bench-") as tmp:
        work = Path(tmp)
        model, family = prepare_model(args.model, work)
        count = prepare_data(model, family, work, args)
        print(f"model {args.model} ({model}), {count} conversations x {args.seq_len} tokens, "
              f"batch {args.batch_size}, LoRA r={args.rank}, {args.warmup} warmup + {args.steps} timed steps",
              flush=True)
        runs: dict[str, list[dict[str, Any]]] = {}
        for round_index in range(args.rounds):
            for config in wanted:
                if config.startswith("unsloth") and not unsloth_installed():
                    if round_index == 0:
                        print(f"{config:11s} skipped: unsloth is not installed", flush=True)
                    continue
                result = run_config(config, model, work, args)
                runs.setdefault(config, []).append(result)
                label = f"{config:11s}" + (f" (round {round_index + 1})" if args.rounds > 1 else "")
                print(f"{label} " + (f"error: {result['error']}" if "error" in result else fmt(result)), flush=True)
        results = [combine(config, found) for config, found in runs.items()]
    report(results, args)
    return 0


def unsloth_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("unsloth") is not None


def prepare_model(name: str, work: Path) -> tuple[Path, str]:
    from dndtune.models.profiles import get_profile, profile_for_folder

    if name == "tiny":
        from dndtune.train.tiny import save_tiny_model

        profile = get_profile("gemma-3-270m")
        # Wider than the test model so a step costs more than the trainer's bookkeeping.
        path = save_tiny_model("gemma3", work / "tiny", chat_template=profile.chat_template, hidden_size=256,
                               layers=4)
        return path, profile.family
    if Path(name).is_dir():
        return Path(name), profile_for_folder(Path(name)).family
    from dndtune.models.resolve import resolve_model
    from dndtune.recipe.schema import BaseModelSection

    resolved = resolve_model(BaseModelSection(profile=name))
    return resolved.path, resolved.profile.family


def prepare_data(model: Path, family: str, work: Path, args: argparse.Namespace) -> int:
    """Conversations from the shipped scenarios whose assistant tokens start within ``seq_len``."""
    from transformers import AutoTokenizer

    from dndtune.dataset.chat import scenario_to_messages, tools
    from dndtune.events import NullSink
    from dndtune.models.compat import choose_chat_templates
    from dndtune.models.profiles import profile_for_folder
    from dndtune.scenario.loader import load_scenarios
    from dndtune.train.tokenize import ChatRenderer, tokenize_conversation

    profile = profile_for_folder(model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    template = choose_chat_templates(tokenizer, profile).inference
    renderer = ChatRenderer(tokenizer, template, profile.end_of_turn_token)
    loaded = load_scenarios(ROOT / "training-data", NullSink(), None)
    conversations = []
    for scenario in loaded.scenarios:
        messages = scenario_to_messages(scenario)
        if family.startswith("gemma") and messages[1]["role"] == "assistant":
            # Gemma's template wants a user turn first; the opening narration becomes a reply to one.
            messages.insert(1, {"role": "user", "content": "Let's begin.", "name": None, "tool_calls": None})
        item = tokenize_conversation(renderer, messages, tools=tools(), max_length=args.seq_len)
        if len(item.input_ids) == args.seq_len and item.trained_tokens > 0:
            conversations.append({"messages": messages, "tools": tools()})
    needed = (args.warmup + args.steps) * args.batch_size
    if not conversations:
        raise SystemExit(f"no scenario reaches {args.seq_len} tokens with assistant tokens in it; lower --seq-len")
    # Repeat the pool so every configuration sees the same sequence of full-length batches.
    data = [conversations[i % len(conversations)] for i in range(needed)]
    (work / "data.json").write_text(json.dumps({"conversations": data, "template": template,
                                                "end_of_turn": profile.end_of_turn_token}))
    return len(conversations)


def run_config(config: str, model: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", config, "--work", str(work), "--model", str(model),
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--seq-len", str(args.seq_len),
               "--batch-size", str(args.batch_size), "--rank", str(args.rank), "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"config": config, "error": tail}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def combine(config: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of one configuration (errors only when every round failed)."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    merged = dict(ok[0])
    for key in ("s_per_step", "cpu_s_per_step", "tokens_per_s", "peak_rss_bytes"):
        merged[key] = statistics.median(r[key] for r in ok)
    if all(r.get("peak_vram_bytes") for r in ok):
        merged["peak_vram_bytes"] = statistics.median(r["peak_vram_bytes"] for r in ok)
    merged["rounds"] = len(ok)
    return merged


def fmt(result: dict[str, Any]) -> str:
    return (f"{result['s_per_step']:.3f} s/step ({result['cpu_s_per_step']:.3f} CPU-s)  "
            f"{result['tokens_per_s']:8.0f} tok/s  "
            f"peak RSS {result['peak_rss_bytes'] / 2**30:.2f} GiB"
            + (f"  peak VRAM {result['peak_vram_bytes'] / 2**30:.2f} GiB" if result.get("peak_vram_bytes") else "")
            + f"  ({result['dtype']}, loss {result['first_loss']:.3f} -> {result['last_loss']:.3f})")


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    ok = [r for r in results if "error" not in r]
    base = next((r for r in ok if r["config"] == "plain"), None)
    if base is not None:
        rounds = f", medians of {args.rounds} interleaved rounds" if args.rounds > 1 else ""
        print(f"\nagainst plain (same run, same machine{rounds}):")
        for r in ok:
            speed = base["s_per_step"] / r["s_per_step"]
            cpu = base["cpu_s_per_step"] / r["cpu_s_per_step"]
            memory = r["peak_rss_bytes"] / base["peak_rss_bytes"]
            line = (f"  {r['config']:11s} {speed:5.2f}x faster per step (wall), {cpu:5.2f}x (CPU time), "
                    f"{memory:5.2f}x the peak RSS")
            if r.get("peak_vram_bytes") and base.get("peak_vram_bytes"):
                line += f", {r['peak_vram_bytes'] / base['peak_vram_bytes']:5.2f}x the peak VRAM"
            print(line)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results},
                                        indent=2) + "\n")


# --- child: one configuration in a fresh process ----------------------------------------------


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    config: str = args.child
    engine = "plain" if config == "plain" else config.split("-")[0]
    if engine == "unsloth":
        # Before torch/transformers: Unsloth patches them on import.
        from dndtune.train.engine import activate_engine, probe_facts, select_engine

        activate_engine(select_engine("unsloth", load_in_4bit=False, dtype="auto", facts=probe_facts()))
    import torch

    from dndtune.machine import peak_rss_bytes

    if args.threads:
        torch.set_num_threads(args.threads)
    data = json.loads((args.work / "data.json").read_text())
    gc = config.endswith("-gc")
    started = time.perf_counter()
    if engine == "plain":
        times, losses, dtype = _train_plain(Path(args.model), data, args, gc)
    else:
        times, losses, dtype = _train_dndtune(engine, Path(args.model), data, args, gc,
                                              release=not config.endswith("-heap"))
    timed = [wall for wall, _ in times[args.warmup:]]
    s_per_step = statistics.median(timed)
    cpu_per_step = statistics.median(cpu for _, cpu in times[args.warmup:])
    peak_vram = int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None
    return {
        "config": config, "dtype": dtype, "s_per_step": s_per_step, "cpu_s_per_step": cpu_per_step,
        "steps_timed": len(timed), "step_s": timed, "step_cpu_s": [cpu for _, cpu in times[args.warmup:]],
        "tokens_per_s": args.seq_len * args.batch_size / s_per_step,
        "peak_rss_bytes": peak_rss_bytes(),
        "peak_vram_bytes": peak_vram, "first_loss": losses[0], "last_loss": losses[-1],
        "threads": torch.get_num_threads(), "wall_s": time.perf_counter() - started,
    }


def _train_dndtune(engine: str, model: Path, data: dict[str, Any], args: argparse.Namespace,
                   gc: bool, *, release: bool = True) -> tuple[list[tuple[float, float]], list[float], str]:
    from dndtune.runs import RunLayout
    from dndtune.train.engine import probe_facts, select_engine
    from dndtune.train.job import Hyperparameters, ModelSpec, TrainJob
    from dndtune.train.load import LoraSpec
    from dndtune.train.trainer import train_adapter

    choice = select_engine(engine, load_in_4bit=False, dtype="auto", facts=probe_facts())  # type: ignore[arg-type]
    total = args.warmup + args.steps
    job = TrainJob(
        model=ModelSpec(model, data["template"], data["end_of_turn"], TARGETS),
        lora=LoraSpec(r=args.rank, alpha=2 * args.rank, dropout=0.0, target_modules=TARGETS),
        hparams=Hyperparameters(max_steps=total, lr=1e-4, warmup_ratio=0.0, batch_size=args.batch_size,
                                grad_accum=1, save_steps=10 * total, eval_steps=10 * total, logging_steps=1,
                                early_stopping_patience=None, gradient_checkpointing=gc),
        max_seq_length=args.seq_len, layout=RunLayout(args.work / f"run-{engine}-{gc}-{release}"), engine=choice,
        resume=False, release_freed_memory=release,
    )
    sink = _StepClock()
    train_adapter(job, data["conversations"], [], sink)
    return sink.durations(), sink.losses, choice.dtype


def _now() -> tuple[float, float]:
    """Wall clock and this process's CPU time (all threads): the second barely moves when other jobs
    compete for the cores, so it is the steadier measure on a shared machine."""
    return time.perf_counter(), time.process_time()


def _durations(stamps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(stamps)]


class _StepClock:
    """Times optimizer steps from the ``train.step`` events (logging every step)."""

    def __init__(self) -> None:
        self.stamps: list[tuple[float, float]] = []
        self.losses: list[float] = []

    def emit(self, event: Any) -> None:
        if event.kind == "train.begin":
            self.stamps = [_now()]
        elif event.kind == "train.step":
            self.stamps.append(_now())
            self.losses.append(float(event.data["loss"]))

    def durations(self) -> list[tuple[float, float]]:
        return _durations(self.stamps)


def _train_plain(model_path: Path, data: dict[str, Any], args: argparse.Namespace,
                 gc: bool) -> tuple[list[tuple[float, float]], list[float], str]:
    """The baseline: a plain transformers Trainer + PEFT script on the same tokens."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from dndtune.train.tokenize import ChatRenderer, tokenize_conversation

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    renderer = ChatRenderer(tokenizer, data["template"], data["end_of_turn"])
    items = [tokenize_conversation(renderer, c["messages"], tools=c["tools"], max_length=args.seq_len)
             for c in data["conversations"]]
    dataset = Dataset.from_dict({"input_ids": [i.input_ids for i in items], "labels": [i.labels for i in items]})
    torch.manual_seed(42)
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0,
                                             target_modules=list(TARGETS), task_type="CAUSAL_LM"))
    stamps: list[tuple[float, float]] = []
    losses: list[float] = []

    class Clock(TrainerCallback):
        def on_train_begin(self, *a: Any, **k: Any) -> None:
            stamps.append(_now())

        def on_log(self, *a: Any, logs: dict[str, Any] | None = None, **k: Any) -> None:
            if logs and "loss" in logs:
                stamps.append(_now())
                losses.append(float(logs["loss"]))

    training_args = TrainingArguments(
        output_dir=str(args.work / "run-plain"), max_steps=args.warmup + args.steps,
        per_device_train_batch_size=args.batch_size, learning_rate=1e-4, warmup_steps=0, logging_steps=1,
        save_strategy="no", report_to="none", disable_tqdm=True, seed=42, gradient_checkpointing=gc,
        gradient_checkpointing_kwargs={"use_reentrant": False}, use_cpu=not torch.cuda.is_available(),
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=dataset,
                      data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True), callbacks=[Clock()])
    trainer.train()
    return _durations(stamps), losses, "float32"


if __name__ == "__main__":
    raise SystemExit(main())
