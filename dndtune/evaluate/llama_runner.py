"""A GGUF file as a :class:`~dndtune.evaluate.runner.ModelRunner`, in llama.cpp (llama-cpp-python).

The model profile and quant type come from the GGUF's own metadata, so a file is run without the
folder it was exported from.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dndtune.dataset.chat import Message
from dndtune.errors import DndtuneError
from dndtune.evaluate.render import ChatRenderer
from dndtune.evaluate.runner import (
    DEFAULT_CONTEXT,
    Finish,
    Generation,
    GenerationSettings,
    LoadMeter,
    RunnerInfo,
    TemplateRunner,
    TurnScore,
)
from dndtune.models.llama_grammar import check_grammar, constrained_llama
from dndtune.models.profiles import ModelProfile, profile_from_config


def gguf_profile(metadata: dict[str, str], n_vocab: int) -> ModelProfile:
    """The model profile of a GGUF, from the architecture sizes in its metadata."""
    arch = metadata.get("general.architecture", "")

    def get(key: str, default: str | None = None) -> str:
        value = metadata.get(f"{arch}.{key}", default)
        if value is None:
            raise DndtuneError(f"GGUF metadata lacks {arch}.{key}", fix="re-export the model with `dndtune export`")
        return value

    heads = int(get("attention.head_count"))
    hidden = int(get("embedding_length"))
    config = {
        "model_type": arch, "hidden_size": hidden, "num_hidden_layers": int(get("block_count")),
        "intermediate_size": int(get("feed_forward_length")), "num_attention_heads": heads,
        "num_key_value_heads": int(get("attention.head_count_kv", str(heads))),
        "head_dim": int(get("attention.key_length", str(hidden // heads))), "vocab_size": n_vocab,
    }
    return profile_from_config(config, name=metadata.get("general.name"))


def gguf_quant(metadata: dict[str, str]) -> str | None:
    """``Q4_K_M``, ``F16``... from ``general.file_type``."""
    from gguf import LlamaFileType

    raw = metadata.get("general.file_type")
    if raw is None:
        return None
    try:
        name = LlamaFileType(int(raw)).name
    except ValueError:
        return None
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


class LlamaCppRunner(TemplateRunner):
    """A GGUF file in llama.cpp (llama-cpp-python): the runtime Cactus's older SDKs embed.

    ``GenerationSettings.grammar`` is applied the way llama.cpp's common sampler applies it
    (:mod:`dndtune.models.llama_grammar`): sample, then check the token against the grammar.
    """

    def __init__(self, gguf: Path, *, label: str | None = None, n_ctx: int | None = None,
                 n_threads: int | None = None, n_batch: int = 512) -> None:
        # The bindings load a native library: only when a GGUF is really run.
        import llama_cpp

        if not gguf.is_file():
            raise DndtuneError("GGUF file not found", path=str(gguf), fix="export the run first: `dndtune export RUN`")
        meter = LoadMeter()
        self._lib = llama_cpp
        probe_ctx = n_ctx or DEFAULT_CONTEXT
        try:
            # Typed loosely: the bindings' annotations are partial and this class is their one user here.
            self._llm: Any = constrained_llama(model_path=str(gguf), n_ctx=probe_ctx, n_threads=n_threads,
                                               n_batch=n_batch, n_ubatch=n_batch, verbose=False, logits_all=False)
        except ValueError as exc:
            raise DndtuneError(f"llama.cpp cannot load this GGUF ({exc})", path=str(gguf),
                               fix="re-export it with `dndtune export`") from None
        metadata = dict(self._llm.metadata)
        template = metadata.get("tokenizer.chat_template")
        if not template:
            raise DndtuneError("the GGUF carries no chat template", path=str(gguf),
                               fix="re-export it with `dndtune export`, which embeds the template")
        self._profile = gguf_profile(metadata, self._llm.n_vocab())
        self._renderer = ChatRenderer(template, bos_token=self._piece(self._llm.token_bos()),
                                      eos_token=self._piece(self._llm.token_eos()))
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        self._grammars: dict[str, Any] = {}
        self._aligned = 0
        """How many leading cached tokens were decoded in whole n_batch chunks from position 0."""
        self._stop_ids = {self._llm.token_eos()}
        for token in self._profile.stop_tokens:
            ids = self._llm.tokenize(token.encode("utf-8"), add_bos=False, special=True)
            if len(ids) == 1:
                self._stop_ids.add(ids[0])
        arch = metadata.get("general.architecture", "")
        trained_ctx = metadata.get(f"{arch}.context_length")
        self._info = RunnerInfo(
            label=label or gguf.stem, kind="gguf", path=str(gguf), family=self._profile.family,
            quant=gguf_quant(metadata), size_bytes=gguf.stat().st_size,
            context_length=min(int(trained_ctx), probe_ctx) if trained_ctx else probe_ctx,
            load_seconds=meter.seconds(), rss_bytes=meter.rss_added(), applies_grammar=True,
        )

    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        return str(self._llm.detokenize([token], special=True).decode("utf-8", errors="replace"))

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._llm.metadata)

    def _encode(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _is_stop(self, token: int) -> bool:
        return token in self._stop_ids or bool(self._lib.llama_vocab_is_eog(self._vocab, token))

    def _grammar(self, text: str) -> Any:
        """The ``LlamaGrammar`` for ``text``, checked against this vocabulary once."""
        grammar = self._grammars.get(text)
        if grammar is None:
            from llama_cpp.llama_grammar import LlamaGrammar

            check_grammar(self._vocab, text)
            grammar = self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return grammar

    def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                 settings: GenerationSettings) -> Generation:
        return self.generate_stream(messages, tools, settings, None)

    def generate_stream(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                        settings: GenerationSettings, on_text: Callable[[str], None] | None) -> Generation:
        """:meth:`generate`, telling ``on_text`` the reply so far after each token (the Play screen streams it)."""
        ids = self._prompt_ids(messages, tools, settings, self._llm.n_ctx())
        sampling: dict[str, Any] = {"temp": 0.0}
        if settings.temperature > 0:
            self._llm.set_seed(settings.seed)
            sampling = {"temp": settings.temperature, "top_k": 40, "top_p": 0.95, "min_p": 0.05}
        if settings.grammar is not None:
            sampling["grammar"] = self._grammar(settings.grammar)
        if settings.repeatable:
            self._keep_aligned_prefix(ids)
        # Until the prompt is decoded whole (an error may cut it short), only the kept prefix is sure.
        self._aligned = self._llm.n_tokens if settings.repeatable else 0
        reply: list[int] = []
        finish: Finish = "length"
        started = time.perf_counter()
        first: float | None = None
        for token in self._llm.generate(ids, repeat_penalty=1.0, reset=True, **sampling):
            if first is None:
                first = time.perf_counter()
            if self._is_stop(token):
                finish = "stop"
                break
            reply.append(token)
            if on_text is not None:
                on_text(self._llm.detokenize(reply, prev_tokens=ids, special=True).decode("utf-8", errors="ignore"))
            if len(reply) >= settings.max_tokens:
                break
        ended = time.perf_counter()
        if settings.repeatable:
            # generate() decoded the prompt in n_batch chunks from the kept prefix, a chunk boundary:
            # its whole chunks are what a fresh decode holds (a prefix reused from anywhere is not).
            self._aligned = self._whole_batches(len(ids))
        text = self._llm.detokenize(reply, prev_tokens=ids, special=True).decode("utf-8", errors="replace")
        return Generation(text=text, tokens=len(reply), finish=finish, prompt_tokens=len(ids),
                          seconds=ended - started, decode_seconds=(ended - first) if first is not None else None)

    def _whole_batches(self, tokens: int) -> int:
        batch = int(self._llm.n_batch)
        return tokens // batch * batch

    def _cached_prefix(self, ids: list[int], limit: int) -> int:
        """How many leading tokens of ``ids`` the cache holds, looking at most ``limit`` tokens in."""
        common = 0
        for cached, wanted in zip(self._llm.input_ids[: min(limit, self._llm.n_tokens)], ids, strict=False):
            if int(cached) != wanted:
                break
            common += 1
        return common

    def _keep_aligned_prefix(self, ids: list[int]) -> None:
        """Leave in the cache only the prefix of ``ids`` that a fresh decode would compute bit for bit.

        That is the longest common prefix with what the cache holds, cut down to the tokens held in
        whole n_batch chunks decoded from position 0 (``self._aligned``) and to a chunk boundary, so
        that generate() goes on in the same chunks a fresh decode uses (with nothing kept, generate()
        resets and decodes the prompt whole).
        """
        self._llm.n_tokens = self._whole_batches(self._cached_prefix(ids, min(self._aligned, len(ids) - 1)))

    def score(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None) -> TurnScore | None:
        import numpy as np

        turn = self._turn_ids(messages, tools)
        if turn is None:
            return None
        prompt_ids, target_ids = turn
        if len(prompt_ids) + len(target_ids) > self._llm.n_ctx():
            return None
        n_vocab = self._llm.n_vocab()
        # Reuse the prompt already in the KV cache (generate() just processed it): rewind the
        # bindings' public token cursor to the shared prefix, keeping one token to re-evaluate
        # so the logits that predict the first target token are fresh.
        keep = self._cached_prefix(prompt_ids, len(prompt_ids) - 1)
        self._llm.n_tokens = keep
        self._aligned = min(self._aligned, keep)  # what follows is decoded in other batch shapes
        self._llm.eval(prompt_ids[keep:])
        nll = 0.0
        for index, token in enumerate(target_ids):
            # Only the last position's logits exist (logits_all would cost n_ctx x vocab floats).
            logits = np.ctypeslib.as_array(self._lib.llama_get_logits_ith(self._llm.ctx, -1), shape=(n_vocab,))
            nll += _log_softmax_nll(logits, token)
            if index + 1 < len(target_ids):
                self._llm.eval([token])
        return TurnScore(nll=nll, tokens=len(target_ids))

    def close(self) -> None:
        self._llm.close()


def _log_softmax_nll(logits: Any, token: int) -> float:
    """-log p(token) from one row of logits (numpy), computed stably."""
    import numpy as np

    row = np.asarray(logits, dtype=np.float64)
    peak = float(row.max())
    return float(peak + math.log(float(np.exp(row - peak).sum())) - row[token])
