"""Running a model for evaluation and play: the protocol every runner implements, and what they share.

The runners live in :mod:`~dndtune.evaluate.hf_runner` (Hugging Face folders),
:mod:`~dndtune.evaluate.llama_runner` (GGUF files in llama.cpp) and
:mod:`dndtune.deploy.cactus_engine` (Cactus bundles); :func:`dndtune.evaluate.open_model.open_runner`
picks one for a path. The HF and llama.cpp runners render conversations with the same
:class:`~dndtune.evaluate.render.ChatRenderer` (the HF tokenizer's template, or the template
embedded in the GGUF), tokenize the rendered text with special tokens parsed and no extra BOS (the
templates write their own), decode greedily unless a temperature is given, and cut the reply at
the family's end-of-turn token. ``GenerationSettings.grammar`` constrains a reply to a GBNF
grammar where the runtime supports one (llama.cpp; :attr:`RunnerInfo.applies_grammar` says which).
Generated text keeps special tokens, so a leaked ``<start_of_turn>`` shows up in the text
rather than vanishing in detokenization.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import psutil

from dndtune.dataset.chat import Message
from dndtune.errors import DndtuneError
from dndtune.evaluate.render import ChatRenderer
from dndtune.models.profiles import ModelProfile

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
    repeatable: bool = False
    """True: the reply depends on this prompt alone, not on what the runner ran before. llama.cpp then
    reuses only the part of its cached prefix that a fresh decode of this prompt would compute
    identically (whole prompt batches from position 0); a prefix computed in other batch shapes
    rounds differently and flips near-tied greedy picks (measured: 36 of 60 held-out replies of the
    demo model changed when perplexity scoring ran between them). Evaluation sets it; play reuses
    every cached token, for speed."""


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
    return int(psutil.Process().memory_info().rss)


class LoadMeter:
    """Wall time and resident memory a model load adds, counted from when the meter is made."""

    def __init__(self) -> None:
        self._rss = _rss()
        self._started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self._started

    def rss_added(self) -> int:
        return max(0, _rss() - self._rss)


class LoadedRunner:
    """The ``info`` and ``profile`` of :class:`ModelRunner`, for runners that set both while loading."""

    _info: RunnerInfo
    _profile: ModelProfile

    @property
    def info(self) -> RunnerInfo:
        return self._info

    @property
    def profile(self) -> ModelProfile:
        return self._profile


class TemplateRunner(LoadedRunner, ABC):
    """A runner that renders the chat template itself and feeds its own tokenizer the text.

    Prompts and scored turns are cut the same way for every such runtime, so HF and llama.cpp
    models are asked the very same tokens.
    """

    _renderer: ChatRenderer

    @property
    def renderer(self) -> ChatRenderer:
        return self._renderer

    @abstractmethod
    def _encode(self, text: str) -> list[int]:
        """Token ids of rendered text: special tokens parsed, no BOS added."""

    def _prompt_ids(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                    settings: GenerationSettings, limit: int) -> list[int]:
        """The generation prompt's ids; :class:`PromptTooLong` when the reply would not fit ``limit``."""
        ids = self._encode(self._renderer.render(messages, tools, add_generation_prompt=True))
        if len(ids) + settings.max_tokens > limit:
            raise PromptTooLong(f"prompt of {len(ids)} tokens + {settings.max_tokens} reply tokens exceeds {limit}")
        return ids

    def _turn_ids(self, messages: Sequence[Message],
                  tools: Sequence[dict[str, Any]] | None) -> tuple[list[int], list[int]] | None:
        """(prompt ids, last turn's ids) for scoring; None when there is no non-empty last turn."""
        split = self._renderer.split_turn(messages, tools, self._profile.end_of_turn_token)
        if split is None:
            return None
        prompt_ids, target_ids = self._encode(split.prompt), self._encode(split.target)
        return (prompt_ids, target_ids) if target_ids else None
