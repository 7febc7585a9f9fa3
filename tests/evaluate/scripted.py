"""A ModelRunner that replies with given texts: controlled predictions for the metric machinery.

Random tiny models write noise, so the scores' arithmetic is checked on replies chosen by the
test; the real runners are exercised separately on the tiny GGUF and HF model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dndtune.dataset.chat import Message
from dndtune.evaluate.runner import Generation, GenerationSettings, RunnerInfo, TurnScore
from dndtune.models.profiles import ModelProfile, get_profile


def qwen_call(skill: str, character: str | None = None) -> str:
    args = {"skill": skill} if character is None else {"skill": skill, "character": character}
    return get_profile("qwen2.5-0.5b").format_tool_call("roll", args)


class ScriptedRunner:
    def __init__(self, reply: Callable[[Sequence[Message]], str], *, label: str = "scripted",
                 nll_per_token: float = 1.0, finish: str = "stop", size: int = 1000) -> None:
        self._reply = reply
        self._profile = get_profile("qwen2.5-0.5b")
        self._nll = nll_per_token
        self._finish = finish
        self._info = RunnerInfo(label=label, kind="gguf", path=f"/nonexistent/{label}.gguf", family="qwen2",
                                quant="Q8_0", size_bytes=size)
        self.prompts: list[list[Message]] = []

    @property
    def info(self) -> RunnerInfo:
        return self._info

    @property
    def profile(self) -> ModelProfile:
        return self._profile

    def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                 settings: GenerationSettings) -> Generation:
        self.prompts.append(list(messages))
        text = self._reply(messages)
        finish = "length" if self._finish == "length" else "stop"
        return Generation(text=text, tokens=len(text.split()), finish=finish, prompt_tokens=10, seconds=0.5,
                          decode_seconds=0.4)

    def score(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None) -> TurnScore | None:
        return TurnScore(nll=self._nll * 10, tokens=10)

    def close(self) -> None:
        return None
