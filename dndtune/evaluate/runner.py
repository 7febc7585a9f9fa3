"""Running a model for evaluation and play: one protocol, a Hugging Face and a llama.cpp runner.

Both runners render conversations with the same :class:`~dndtune.evaluate.render.ChatRenderer`
(the HF tokenizer's template, or the template embedded in the GGUF), tokenize the rendered
text with special tokens parsed and no extra BOS (the templates write their own), decode
greedily unless a temperature is given, and cut the reply at the family's end-of-turn token.
``GenerationSettings.grammar`` constrains a reply to a GBNF grammar where the runtime supports one
(llama.cpp; :attr:`RunnerInfo.applies_grammar` says which).
Generated text keeps special tokens, so a leaked ``<start_of_turn>`` shows up in the text
rather than vanishing in detokenization.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from dndtune.dataset.chat import Message
from dndtune.errors import DndtuneError
from dndtune.evaluate.render import ChatRenderer
from dndtune.models.profiles import ModelProfile, profile_for_folder, profile_from_config

RunnerKind = Literal["gguf", "hf", "cactus"]
Finish = Literal["stop", "length"]
DEFAULT_CONTEXT = 4096
"""Context window used when a model allows more: enough for a scene, small enough for a phone."""


@dataclass(frozen=True)
class GenerationSettings:
    max_tokens: int = 256
    temperature: float = 0.0
    """0 decodes greedily (evaluation); play uses a small positive temperature."""
    seed: int = 0
    grammar: str | None = None
    """GBNF text the reply must match (``dndtune.models.grammar.roll_grammar``); None: unconstrained.
    Runtimes that cannot apply one ignore it (``RunnerInfo.applies_grammar`` is False)."""


@dataclass(frozen=True)
class Generation:
    text: str
    tokens: int
    finish: Finish
    prompt_tokens: int
    seconds: float
    """Wall time of the whole call (prompt processing and decoding)."""
    decode_seconds: float | None = None
    """Time from the first generated token to the last (None when the runtime does not expose it)."""

    @property
    def tokens_per_second(self) -> float | None:
        """Decode speed: tokens after the first over the time they took."""
        if self.decode_seconds is not None and self.tokens > 1 and self.decode_seconds > 0:
            return (self.tokens - 1) / self.decode_seconds
        return self.tokens / self.seconds if self.tokens and self.seconds > 0 else None


@dataclass(frozen=True)
class TurnScore:
    nll: float
    """Summed negative log-likelihood (nats) of the target tokens."""
    tokens: int


@dataclass(frozen=True)
class RunnerInfo:
    label: str
    kind: RunnerKind
    path: str
    family: str
    quant: str | None = None
    size_bytes: int | None = None
    context_length: int | None = None
    load_seconds: float | None = None
    rss_bytes: int | None = None
    """Resident memory the loaded model added to this process."""
    applies_grammar: bool = False
    """``GenerationSettings.grammar`` constrains this runtime's replies (llama.cpp); others ignore it."""


class PromptTooLong(DndtuneError):
    """The conversation does not fit the context window with room for the reply."""


@runtime_checkable
class ModelRunner(Protocol):
    """What evaluation and play need from a model; HF folders, GGUF files and Cactus bundles implement it."""

    @property
    def info(self) -> RunnerInfo: ...

    @property
    def profile(self) -> ModelProfile: ...

    def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                 settings: GenerationSettings) -> Generation: ...

    def score(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None) -> TurnScore | None:
        """NLL of the last message (an assistant turn) given the ones before; None if not measurable."""
        ...

    def close(self) -> None: ...


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _log_softmax_nll(logits: Any, token: int) -> float:
    """-log p(token) from one row of logits (numpy), computed stably."""
    import numpy as np

    row = np.asarray(logits, dtype=np.float64)
    peak = float(row.max())
    return float(peak + math.log(float(np.exp(row - peak).sum())) - row[token])


class HFRunner:
    """A Hugging Face model folder (the run's ``merged/`` or a base model) on the CPU or a GPU.

    ``GenerationSettings.grammar`` is not applied: transformers has no GBNF sampler, so replies are
    unconstrained and reports say "grammar: not applied".
    """

    def __init__(self, folder: Path, *, label: str | None = None, device: str | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not (folder / "config.json").is_file():
            raise DndtuneError("not a Hugging Face model folder (no config.json)", path=str(folder),
                               fix="pass a run folder, a .gguf file or a folder with config.json")
        rss_before = _rss()
        started = time.perf_counter()
        self._torch = torch
        self._device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model: Any = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
        self._model = model.to(self._device).eval()
        self._profile = profile_for_folder(folder)
        template = self._tokenizer.chat_template or self._profile.chat_template
        self._renderer = ChatRenderer(template, bos_token=self._tokenizer.bos_token or "",
                                      eos_token=self._tokenizer.eos_token or "")
        vocab = self._tokenizer.get_vocab()
        stops = {vocab[t] for t in self._profile.stop_tokens if t in vocab}
        if self._tokenizer.eos_token_id is not None:
            stops.add(self._tokenizer.eos_token_id)
        self._stop_ids = sorted(stops)
        size = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
        config_len = getattr(self._model.config, "max_position_embeddings", None)
        self._info = RunnerInfo(
            label=label or folder.name, kind="hf", path=str(folder), family=self._profile.family,
            quant="F32", size_bytes=size or None,
            context_length=min(int(config_len), DEFAULT_CONTEXT) if config_len else DEFAULT_CONTEXT,
            load_seconds=time.perf_counter() - started, rss_bytes=max(0, _rss() - rss_before),
        )

    @property
    def info(self) -> RunnerInfo:
        return self._info

    @property
    def profile(self) -> ModelProfile:
        return self._profile

    @property
    def renderer(self) -> ChatRenderer:
        return self._renderer

    def _encode(self, text: str) -> list[int]:
        return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                 settings: GenerationSettings) -> Generation:
        torch = self._torch
        ids = self._encode(self._renderer.render(messages, tools, add_generation_prompt=True))
        limit = self._info.context_length or DEFAULT_CONTEXT
        if len(ids) + settings.max_tokens > limit:
            raise PromptTooLong(f"prompt of {len(ids)} tokens + {settings.max_tokens} reply tokens exceeds {limit}")
        sampling: dict[str, Any] = {"do_sample": False}
        if settings.temperature > 0:
            # transformers samples from torch's global generator; seeding it is the only handle.
            torch.manual_seed(settings.seed)
            sampling = {"do_sample": True, "temperature": settings.temperature, "top_p": 0.95}
        started = time.perf_counter()
        with torch.inference_mode():
            out = self._model.generate(
                torch.tensor([ids], device=self._device), max_new_tokens=settings.max_tokens,
                eos_token_id=self._stop_ids, pad_token_id=self._tokenizer.pad_token_id or self._stop_ids[0],
                top_k=None, **sampling,
            )
        seconds = time.perf_counter() - started
        new = [int(t) for t in out[0, len(ids):].tolist()]
        cut = next((i for i, t in enumerate(new) if t in self._stop_ids), None)
        finish: Finish = "stop" if cut is not None else "length"
        reply = new[:cut] if cut is not None else new
        text = str(self._tokenizer.decode(reply, skip_special_tokens=False))
        return Generation(text=text, tokens=len(reply), finish=finish, prompt_tokens=len(ids), seconds=seconds)

    def score(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None) -> TurnScore | None:
        torch = self._torch
        split = self._renderer.split_turn(messages, tools, self._profile.end_of_turn_token)
        if split is None:
            return None
        prompt_ids = self._encode(split.prompt)
        target_ids = self._encode(split.target)
        if not target_ids:
            return None
        ids = torch.tensor([prompt_ids + target_ids], device=self._device)
        with torch.inference_mode():
            logits = self._model(ids).logits[0, len(prompt_ids) - 1:-1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            picked = logprobs.gather(1, torch.tensor(target_ids, device=self._device).unsqueeze(1))
        return TurnScore(nll=float(-picked.sum().item()), tokens=len(target_ids))

    def close(self) -> None:
        del self._model


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


class LlamaCppRunner:
    """A GGUF file in llama.cpp (llama-cpp-python): the runtime Cactus's older SDKs embed.

    ``GenerationSettings.grammar`` is applied the way llama.cpp's common sampler applies it
    (:mod:`dndtune.models.llama_grammar`): sample, then check the token against the grammar.
    """

    def __init__(self, gguf: Path, *, label: str | None = None, n_ctx: int | None = None,
                 n_threads: int | None = None) -> None:
        import llama_cpp

        from dndtune.models.llama_grammar import constrained_llama

        if not gguf.is_file():
            raise DndtuneError("GGUF file not found", path=str(gguf), fix="export the run first: `dndtune export RUN`")
        rss_before = _rss()
        started = time.perf_counter()
        self._lib = llama_cpp
        probe_ctx = n_ctx or DEFAULT_CONTEXT
        try:
            # Typed loosely: the bindings' annotations are partial and this class is their one user here.
            self._llm: Any = constrained_llama(model_path=str(gguf), n_ctx=probe_ctx, n_threads=n_threads,
                                               verbose=False, logits_all=False)
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
            load_seconds=time.perf_counter() - started, rss_bytes=max(0, _rss() - rss_before),
            applies_grammar=True,
        )

    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        return str(self._llm.detokenize([token], special=True).decode("utf-8", errors="replace"))

    @property
    def info(self) -> RunnerInfo:
        return self._info

    @property
    def profile(self) -> ModelProfile:
        return self._profile

    @property
    def renderer(self) -> ChatRenderer:
        return self._renderer

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

            from dndtune.models.llama_grammar import check_grammar

            check_grammar(self._vocab, text)
            grammar = self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return grammar

    def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                 settings: GenerationSettings) -> Generation:
        ids = self._encode(self._renderer.render(messages, tools, add_generation_prompt=True))
        limit = self._llm.n_ctx()
        if len(ids) + settings.max_tokens > limit:
            raise PromptTooLong(f"prompt of {len(ids)} tokens + {settings.max_tokens} reply tokens exceeds {limit}")
        sampling: dict[str, Any] = {"temp": 0.0}
        if settings.temperature > 0:
            self._llm.set_seed(settings.seed)
            sampling = {"temp": settings.temperature, "top_k": 40, "top_p": 0.95, "min_p": 0.05}
        if settings.grammar is not None:
            sampling["grammar"] = self._grammar(settings.grammar)
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
            if len(reply) >= settings.max_tokens:
                break
        ended = time.perf_counter()
        text = self._llm.detokenize(reply, prev_tokens=ids, special=True).decode("utf-8", errors="replace")
        return Generation(text=text, tokens=len(reply), finish=finish, prompt_tokens=len(ids),
                          seconds=ended - started, decode_seconds=(ended - first) if first is not None else None)

    def score(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None) -> TurnScore | None:
        import numpy as np

        split = self._renderer.split_turn(messages, tools, self._profile.end_of_turn_token)
        if split is None:
            return None
        prompt_ids = self._encode(split.prompt)
        target_ids = self._encode(split.target)
        if not target_ids or len(prompt_ids) + len(target_ids) > self._llm.n_ctx():
            return None
        n_vocab = self._llm.n_vocab()
        # Reuse the prompt already in the KV cache (generate() just processed it): rewind the
        # bindings' public token cursor to the shared prefix, keeping one token to re-evaluate
        # so the logits that predict the first target token are fresh.
        cached = [int(t) for t in self._llm.input_ids[: self._llm.n_tokens]]
        keep = 0
        for a, b in zip(cached, prompt_ids[:-1], strict=False):
            if a != b:
                break
            keep += 1
        self._llm.n_tokens = keep
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


def open_runner(path: Path, *, label: str | None = None, n_ctx: int | None = None) -> ModelRunner:
    """A runner for a ``.gguf`` file or a Hugging Face model folder."""
    if path.is_file() and path.suffix.lower() == ".gguf":
        return LlamaCppRunner(path, label=label, n_ctx=n_ctx)
    if path.is_dir() and (path / "config.json").is_file():
        return HFRunner(path, label=label)
    raise DndtuneError("not a model", path=str(path),
                       fix="pass a .gguf file, a Hugging Face model folder or a run folder")
