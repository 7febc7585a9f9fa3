"""Model profiles: what dndtune must know about a base model family to train and export it.

A profile carries the chat template (one that can express dice-roll tool calls), how to read a
tool call back out of generated text, the end-of-turn tokens, the default LoRA targets and the
architecture sizes the memory estimator needs. The six named profiles are the supported bases;
any other Gemma 2/3 or Qwen 2/2.5/3 checkpoint gets a profile from its ``config.json``.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from dndtune.errors import DndtuneError

Family = Literal["gemma2", "gemma3", "qwen2", "qwen3"]

MODEL_TYPE_FAMILIES: dict[str, Family] = {
    "gemma2": "gemma2",
    "gemma3_text": "gemma3",
    "gemma3": "gemma3",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
}
"""``config.model_type`` -> family. Qwen 2.5 checkpoints report ``qwen2``."""

SUPPORTED_ARCHITECTURES = "Gemma 2, Gemma 3, Qwen 2, Qwen 2.5, Qwen 3"

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Every attention and MLP projection: the usual choice for small models (QLoRA paper, Unsloth)."""


@dataclass(frozen=True)
class ModelDims:
    """Architecture sizes, enough to count parameters and estimate activation memory."""

    hidden_size: int
    num_layers: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_embeddings: bool
    qkv_bias: bool
    qk_norm: bool
    norms_per_layer: int

    @property
    def q_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.num_kv_heads * self.head_dim

    def layer_params(self) -> int:
        h = self.hidden_size
        attention = h * self.q_size + 2 * h * self.kv_size + self.q_size * h
        if self.qkv_bias:
            attention += self.q_size + 2 * self.kv_size
        mlp = 3 * h * self.intermediate_size
        norms = self.norms_per_layer * h + (2 * self.head_dim if self.qk_norm else 0)
        return attention + mlp + norms

    def param_count(self) -> int:
        """Exact for these decoder families (checked against loaded models in the tests)."""
        embed = self.vocab_size * self.hidden_size
        head = 0 if self.tie_embeddings else embed
        return embed + head + self.num_layers * self.layer_params() + self.hidden_size

    def lora_params(self, r: int, targets: tuple[str, ...] | list[str]) -> int:
        """Trainable parameters LoRA adds: r x (in + out) per targeted projection per layer."""
        h, i = self.hidden_size, self.intermediate_size
        shapes = {
            "q_proj": (h, self.q_size), "k_proj": (h, self.kv_size), "v_proj": (h, self.kv_size),
            "o_proj": (self.q_size, h), "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h),
        }
        per_layer = sum(r * (shapes[t][0] + shapes[t][1]) for t in targets if t in shapes)
        return per_layer * self.num_layers

    @classmethod
    def from_config(cls, config: Mapping[str, Any], family: Family) -> ModelDims:
        """Sizes from a ``config.json`` (a nested ``text_config`` is used for multimodal Gemma 3)."""
        cfg = config.get("text_config") or config
        try:
            hidden = int(cfg["hidden_size"])
            heads = int(cfg["num_attention_heads"])
            return cls(
                hidden_size=hidden,
                num_layers=int(cfg["num_hidden_layers"]),
                intermediate_size=int(cfg["intermediate_size"]),
                num_heads=heads,
                num_kv_heads=int(cfg.get("num_key_value_heads") or heads),
                head_dim=int(cfg.get("head_dim") or hidden // heads),
                vocab_size=int(cfg["vocab_size"]),
                tie_embeddings=bool(config.get("tie_word_embeddings", cfg.get("tie_word_embeddings", True))),
                **_FAMILY_SHAPE[family],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DndtuneError(f"config.json lacks an architecture size ({exc})",
                               fix="point base_model.name_or_path at a complete model folder") from None


# Per-family layer shape: Qwen 2 has q/k/v biases, Qwen 3 and Gemma 3 normalize q and k,
# Gemma 2/3 wrap both sublayers in pre- and post-norms.
_FAMILY_SHAPE: dict[Family, dict[str, Any]] = {
    "gemma2": {"qkv_bias": False, "qk_norm": False, "norms_per_layer": 4},
    "gemma3": {"qkv_bias": False, "qk_norm": True, "norms_per_layer": 4},
    "qwen2": {"qkv_bias": True, "qk_norm": False, "norms_per_layer": 2},
    "qwen3": {"qkv_bias": False, "qk_norm": True, "norms_per_layer": 2},
}


@dataclass(frozen=True)
class ToolFormat:
    """How a family writes a tool call in its assistant turn and where results come back."""

    call_open: str
    call_close: str
    response_open: str
    response_close: str

    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.escape(self.call_open) + r"(.*?)" + re.escape(self.call_close), re.DOTALL)


GEMMA_TOOLS = ToolFormat("```tool_call\n", "\n```", "```tool_response\n", "\n```")
QWEN_TOOLS = ToolFormat("<tool_call>\n", "\n</tool_call>", "<tool_response>\n", "\n</tool_response>")


@dataclass(frozen=True)
class TemplateSource:
    """Where a chat template lives: dndtune's own package or TRL's copies of the official ones."""

    package: Literal["dndtune", "trl"]
    filename: str


@dataclass(frozen=True)
class ModelProfile:
    name: str
    family: Family
    hf_id: str | None
    dims: ModelDims
    template: TemplateSource
    training_template: TemplateSource | None
    tool_format: ToolFormat
    bos_token: str | None
    eos_token: str
    end_of_turn_token: str
    required_tokens: tuple[str, ...]
    lora_target_modules: tuple[str, ...] = LORA_TARGETS
    prefer_tokenizer_template: bool = False
    """Keep a checkpoint's own template when it renders tool calls in ``tool_format`` (Qwen ships one)."""

    @property
    def chat_template(self) -> str:
        """The Jinja chat template for inference and export (renders tools, tool calls, tool results)."""
        return _read_template(self.template)

    @property
    def training_chat_template(self) -> str:
        """The same template with ``{% generation %}`` markers, for assistant-only loss."""
        if self.training_template is not None:
            return _read_template(self.training_template)
        return self.chat_template.replace("{#- generation -#}", "{%- generation -%}").replace(
            "{#- endgeneration -#}", "{%- endgeneration -%}"
        )

    @property
    def stop_tokens(self) -> tuple[str, ...]:
        """Tokens that end a reply at inference (end of turn first, then end of text)."""
        return tuple(dict.fromkeys((self.end_of_turn_token, self.eos_token)))

    def param_count(self) -> int:
        return self.dims.param_count()

    def parse_tool_calls(self, text: str) -> list[dict[str, Any]]:
        """Tool calls in generated text, as ``{"name": str, "arguments": dict}``, in order.

        Blocks that are cut off or are not a JSON object with a string ``name`` are skipped:
        evaluation counts them as missing calls rather than crashing on one bad generation.
        """
        calls: list[dict[str, Any]] = []
        for match in self.tool_format.pattern().finditer(text):
            call = _normalize_call(match.group(1).strip())
            if call is not None:
                calls.append(call)
        return calls

    def format_tool_call(self, name: str, arguments: Mapping[str, Any]) -> str:
        """The text the model writes for one call (what the chat template renders)."""
        body = json.dumps({"name": name, "arguments": dict(arguments)}, ensure_ascii=False)
        return f"{self.tool_format.call_open}{body}{self.tool_format.call_close}"


def _normalize_call(raw: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    arguments = obj.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return {"name": obj["name"], "arguments": arguments}


@lru_cache(maxsize=16)
def _read_template(source: TemplateSource) -> str:
    if source.package == "dndtune":
        return resources.files("dndtune.models").joinpath("templates", source.filename).read_text("utf-8")
    # TRL ships the official Qwen templates (and training variants) as data files; reading them
    # by path avoids importing trl, which pulls in transformers.
    spec = importlib.util.find_spec("trl")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / "chat_templates" / source.filename
        if path.is_file():
            return path.read_text("utf-8")
    raise DndtuneError(f"chat template {source.filename} not found in the installed trl",
                       fix="pip install -U 'trl>=0.24'")


def _gemma(name: str, family: Family, hf_id: str | None, dims: ModelDims) -> ModelProfile:
    return ModelProfile(
        name=name, family=family, hf_id=hf_id, dims=dims,
        template=TemplateSource("dndtune", "gemma3_tools.jinja"), training_template=None,
        tool_format=GEMMA_TOOLS, bos_token="<bos>", eos_token="<eos>", end_of_turn_token="<end_of_turn>",
        required_tokens=("<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"),
    )


def _qwen(name: str, family: Family, hf_id: str | None, dims: ModelDims) -> ModelProfile:
    stem = "qwen3" if family == "qwen3" else "qwen2_5"
    return ModelProfile(
        name=name, family=family, hf_id=hf_id, dims=dims,
        template=TemplateSource("trl", f"{stem}.jinja"),
        training_template=TemplateSource("trl", f"{stem}_training.jinja"),
        tool_format=QWEN_TOOLS, bos_token=None, eos_token="<|endoftext|>", end_of_turn_token="<|im_end|>",
        required_tokens=("<|im_start|>", "<|im_end|>", "<|endoftext|>"),
        prefer_tokenizer_template=True,
    )


def _dims(family: Family, hidden: int, layers: int, inter: int, heads: int, kv: int, head_dim: int,
          vocab: int) -> ModelDims:
    return ModelDims(hidden_size=hidden, num_layers=layers, intermediate_size=inter, num_heads=heads,
                     num_kv_heads=kv, head_dim=head_dim, vocab_size=vocab, tie_embeddings=True,
                     **_FAMILY_SHAPE[family])


def builtin_profiles() -> dict[str, ModelProfile]:
    """The named profiles a recipe's ``base_model.profile`` may use (sizes from the models' config.json)."""
    profiles = [
        _gemma("gemma-3-270m", "gemma3", "google/gemma-3-270m", _dims("gemma3", 640, 18, 2048, 4, 1, 256, 262144)),
        _gemma("gemma-3-1b", "gemma3", "google/gemma-3-1b-it", _dims("gemma3", 1152, 26, 6912, 4, 1, 256, 262144)),
        _qwen("qwen2.5-0.5b", "qwen2", "Qwen/Qwen2.5-0.5B-Instruct", _dims("qwen2", 896, 24, 4864, 14, 2, 64, 151936)),
        _qwen("qwen2.5-1.5b", "qwen2", "Qwen/Qwen2.5-1.5B-Instruct",
              _dims("qwen2", 1536, 28, 8960, 12, 2, 128, 151936)),
        _qwen("qwen3-0.6b", "qwen3", "Qwen/Qwen3-0.6B", _dims("qwen3", 1024, 28, 3072, 16, 8, 128, 151936)),
        _qwen("qwen3-1.7b", "qwen3", "Qwen/Qwen3-1.7B", _dims("qwen3", 2048, 28, 6144, 16, 8, 128, 151936)),
    ]
    return {p.name: p for p in profiles}


def get_profile(name: str) -> ModelProfile:
    profiles = builtin_profiles()
    if name not in profiles:
        raise DndtuneError(f"unknown model profile {name!r}", fix=f"use one of {', '.join(profiles)}")
    return profiles[name]


def family_for_model_type(model_type: str | None) -> Family:
    family = MODEL_TYPE_FAMILIES.get(model_type or "")
    if family is None:
        raise DndtuneError(f"unsupported architecture {model_type!r}",
                           fix=f"dndtune supports {SUPPORTED_ARCHITECTURES}")
    return family


def profile_from_config(config: Mapping[str, Any], *, name: str | None = None,
                        hf_id: str | None = None) -> ModelProfile:
    """A profile for any supported checkpoint, from its ``config.json`` contents.

    The family (and with it the template, tokens and LoRA targets) comes from ``model_type``;
    the sizes come from the config itself, so a tiny test model estimates like a tiny model.
    """
    family = family_for_model_type(config.get("model_type"))
    dims = ModelDims.from_config(config, family)
    label = name or f"{family}-custom"
    if family in ("gemma2", "gemma3"):
        return _gemma(label, family, hf_id, dims)
    return _qwen(label, family, hf_id, dims)


def read_config(folder: Path) -> dict[str, Any]:
    """``folder/config.json`` as a dict, or a one-line error naming the folder."""
    path = folder / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise DndtuneError("not a model folder (no config.json)", path=str(folder),
                           fix="point base_model.name_or_path at a Hugging Face model folder") from None
    except json.JSONDecodeError as exc:
        raise DndtuneError(f"config.json is not valid JSON ({exc.msg})", path=str(path), line=exc.lineno) from None
    if not isinstance(data, dict):
        raise DndtuneError("config.json is not a JSON object", path=str(path))
    return data


def profile_for_folder(folder: Path, *, name: str | None = None) -> ModelProfile:
    """Read ``folder/config.json`` and build its profile (see :func:`profile_from_config`)."""
    return profile_from_config(read_config(folder), name=name)


def with_dims_from_config(profile: ModelProfile, config: Mapping[str, Any]) -> ModelProfile:
    """The named profile, with sizes replaced by a checkpoint's actual config (they should agree)."""
    return replace(profile, dims=ModelDims.from_config(config, profile.family))
