"""``dndtune deploy RUN --to PATH [--target gguf|cactus]``: ship a run's model into an app's assets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dndtune.cli.console import ConsoleSink
from dndtune.deploy import DeployOptions, deploy
from dndtune.deploy.cactus_convert import CACTUS_PACKAGE, install_cactus
from dndtune.deploy.integration import summary_lines
from dndtune.registry import DeployRecord, record_deploy
from dndtune.runs import find_run

DEFAULT_OUTPUT = Path("training-output")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "deploy", help="copy a run's model into an app's assets folder (GGUF or Cactus layout) and test it")
    p.add_argument("run", metavar="RUN", help="run folder or name (default folder: training-output/runs)")
    p.add_argument("--to", type=Path, required=True, metavar="PATH", help="the app's assets folder")
    p.add_argument("--target", choices=("gguf", "cactus"), default="gguf",
                   help="gguf: GGUF + manifest for Cactus's React Native/Flutter SDKs (llama.cpp); "
                        "cactus: merged safetensors + tokenizer (and base + adapter) for `cactus convert`")
    p.add_argument("--name", default=None,
                   help="folder name inside PATH: letters, digits, '-', '_', '.' (default: the run name); "
                        "a bundle already there is kept as .NAME.previous")
    p.add_argument("--convert", action="store_true",
                   help="with --target cactus: run `cactus convert` (needs the optional cactus-compute package)")
    p.add_argument("--install-cactus", action="store_true",
                   help="first install cactus-compute==2.2.2 with --no-deps (proprietary licence; never a "
                        "default dependency) plus scipy and sentencepiece")
    p.add_argument("--bits", type=int, choices=(1, 2, 3, 4), default=4, help="Cactus weight bits (default 4)")
    p.add_argument("--no-base", action="store_true", help="with --target cactus: leave the base model out")
    p.add_argument("--skip-tests", action="store_true", help="do not run the integration suite")
    p.add_argument("--strict", action="store_true", help="install nothing when a required integration check fails")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="runs folder (default training-output)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=run_deploy)


def run_deploy(args: argparse.Namespace) -> int:
    events = ConsoleSink(verbose=args.verbose)
    if args.install_cactus:
        print(f"installing {CACTUS_PACKAGE} (--no-deps; proprietary licence) ...")
        print(install_cactus())
    run = find_run(args.run, args.output)
    options = DeployOptions(target=args.target, name=args.name, test=not args.skip_tests, strict=args.strict,
                            convert=args.convert, bits=args.bits, with_base=not args.no_base)
    result = deploy(run, args.to, options, events)
    record_deploy(args.output, DeployRecord(version=run.name, to=str(args.to.resolve()), name=result.installed.name,
                                            target=args.target, tested=not args.skip_tests))
    m = result.manifest
    print(f"{result.installed}")
    print(f"  {m.target} bundle {m.version}  runtime {m.runtime}"
          + (f"  {m.quant}" if m.quant else "") + (f"  {m.size_bytes / 1e6:.1f} MB" if m.size_bytes else ""))
    if result.integration is not None:
        for line in summary_lines(result.integration):
            print(f"  {line}")
    if result.previous is not None:
        print(f"  the bundle it replaced is kept in {result.previous} "
              "(a hidden folder: Android's default asset rules leave it out of the app)")
    for step in result.notes:
        print(f"  next: {step}")
    return 0
