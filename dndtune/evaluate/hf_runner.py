"""A Hugging Face model folder as a :class:`~dndtune.evaluate.runner.ModelRunner` (transformers)."""

from __future__ import annotations

import time
from collections.abc import Sequence
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
from dndtune.models.profiles import profile_for_folder


class HFRunner(TemplateRunner):
    """A Hugging Face model folder (the run's ``merged/`` or a base model) on the CPU or a GPU.

    ``GenerationSettings.grammar`` is not applied: transformers has no GBNF sampler, so replies are
    unconstrained and reports say "grammar: not applied".
    """

    def __init__(self, folder: Path, *, label: str | None = None, device: str | None = None) -> None:
        # torch and transformers take seconds to import: only when an HF model is really run.
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not (folder / "config.json").is_file():
            raise DndtuneError("not a Hugging Face model folder (no config.json)", path=str(folder),
                               fix="pass a run folder, a .gguf file or a folder with config.json")
        meter = LoadMeter()
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
            load_seconds=meter.seconds(), rss_bytes=meter.rss_added(),
        )

    def _encode(self, text: str) -> list[int]:
        return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                 settings: GenerationSettings) -> Generation:
        torch = self._torch
        ids = self._prompt_ids(messages, tools, settings, self._info.context_length or DEFAULT_CONTEXT)
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
        turn = self._turn_ids(messages, tools)
        if turn is None:
            return None
        prompt_ids, target_ids = turn
        ids = torch.tensor([prompt_ids + target_ids], device=self._device)
        with torch.inference_mode():
            logits = self._model(ids).logits[0, len(prompt_ids) - 1:-1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            picked = logprobs.gather(1, torch.tensor(target_ids, device=self._device).unsqueeze(1))
        return TurnScore(nll=float(-picked.sum().item()), tokens=len(target_ids))

    def close(self) -> None:
        del self._model
