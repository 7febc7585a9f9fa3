"""Subprocess entry that runs llama.cpp's converter on one HF folder (started by :mod:`dndtune.export.convert`).

It runs in its own interpreter with the pinned converter's folder and ``gguf-py`` first on
``PYTHONPATH`` (see :func:`dndtune.export.toolchain.converter_env`), so the ``gguf`` it imports is
the one ``conversion/`` was written against, and the converter's torch and logging state never
touch the caller. It goes through the converter's model classes rather than its CLI for one
reason: llama.cpp recognises a BPE tokenizer's pre-tokenizer by hashing how it splits a fixed
text, and a tokenizer trained for dndtune (tests, custom vocabularies) has no entry in that table.
``--fallback-pre`` names the pre-tokenizer to use only when the hash is unknown; the caller
derives it from ``tokenizer.json`` and the export's tokenizer parity check proves it right.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_UNSUPPORTED = 3
EXIT_TOKENIZER = 4


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dndtune.export.convert_worker")
    parser.add_argument("model", type=Path)
    parser.add_argument("outfile", type=Path)
    parser.add_argument("--outtype", choices=("f16", "bf16", "f32"), default="f16")
    parser.add_argument("--fallback-pre", default=None)
    parser.add_argument("--model-name", default=None)
    return parser.parse_args(argv)


def _guess_pre(tokenizer: Any) -> str:
    """The llama.cpp pre-tokenizer that splits text the way this transformers tokenizer does.

    transformers rebuilds Qwen2's splitting (single digits, Qwen's regex) whatever tokenizer.json
    says, so the class decides first; a plain byte-level BPE splits with GPT-2's regex.
    """
    if type(tokenizer).__name__.startswith("Qwen2Tokenizer"):
        return "qwen2"
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pre = repr(getattr(backend, "pre_tokenizer", None))
    normalizer = repr(getattr(backend, "normalizer", None))
    if "ByteLevel" in pre and "use_regex=True" in pre:
        return "gpt-2"
    # SentencePiece-style BPE (spaces become U+2581, no word splitting beyond that): llama.cpp's
    # "gemma4" pre-tokenizer does exactly this (it is also what Gemma 3's tokenizer.json hashes to).
    spm_split = pre == "None" or ('Split(pattern=String(" ")' in pre and "MergedWithPrevious" in pre)
    if spm_split and 'Replace(pattern=String(" "), content="\u2581")' in normalizer.replace("▁", "\u2581"):
        return "gemma4"
    raise NotImplementedError(f"no llama.cpp pre-tokenizer is known to match {pre} with {normalizer}")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import logging

    import gguf
    import torch

    # Importable only in the subprocess, where PYTHONPATH puts the pinned converter first.
    from conversion import (  # type: ignore[import-not-found]
        ModelBase,
        ModelType,
        get_model_architecture,
        get_model_class,
    )

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    ftypes = {"f16": gguf.LlamaFileType.MOSTLY_F16, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
              "f32": gguf.LlamaFileType.ALL_F32}
    hparams = ModelBase.load_hparams(args.model, False)
    architecture = get_model_architecture(hparams, ModelType.TEXT)
    try:
        base: Any = get_model_class(architecture, mmproj=False)
    except NotImplementedError:
        print(f"dndtune-convert: unsupported architecture {architecture}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    fallback_pre: str | None = args.fallback_pre

    class Model(base):  # type: ignore[misc]
        # The converter requires every model class to name its architecture itself.
        model_arch = base.model_arch

        def _create_vocab_sentencepiece(self) -> Any:
            # Upstream imports sentencepiece before looking for tokenizer.model, so folders without
            # one (Qwen, Gemma saved by transformers) would need the package for nothing. Its
            # callers treat FileNotFoundError as "not a sentencepiece vocabulary".
            if not (Path(self.dir_model) / "tokenizer.model").is_file():
                raise FileNotFoundError("tokenizer.model")
            return super()._create_vocab_sentencepiece()

        def get_vocab_base_pre(self, tokenizer: Any) -> str:
            try:
                return str(super().get_vocab_base_pre(tokenizer))
            except NotImplementedError:
                if fallback_pre is None:
                    raise
                return fallback_pre if fallback_pre != "auto" else _guess_pre(tokenizer)

    with torch.inference_mode():
        model = Model(args.model, ftypes[args.outtype], args.outfile, model_name=args.model_name)
        try:
            model.write()
        except NotImplementedError as exc:
            print(f"dndtune-convert: {exc}", file=sys.stderr)
            return EXIT_TOKENIZER
    print(f"dndtune-convert: wrote {args.outfile} ({architecture})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
