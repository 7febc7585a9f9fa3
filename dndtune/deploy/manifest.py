"""``dndtune-model.json``: what an app reads to load a deployed model and talk to it.

It names the file and proves it (sha256, size), says how to prompt it (the chat template also
embedded in the GGUF, the tool-call and tool-response markers, the stop tokens), how to decode
it (the GBNF grammar file replies were evaluated under, and the stop strings), carries the
``roll`` tool schema the app must offer, and the evaluation scores and integration-test results
the version shipped with.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from dndtune import __version__
from dndtune.atomic import write_text_atomic
from dndtune.models.profiles import ModelProfile

BUNDLE_MANIFEST = "dndtune-model.json"
FORMAT_VERSION = 1


class ChatFormat(BaseModel):
    family: str
    template: str | None
    """The Jinja chat template (the GGUF embeds the same text as ``tokenizer.chat_template``)."""
    tool_call_open: str
    tool_call_close: str
    tool_response_open: str
    tool_response_close: str
    stop: list[str]
    tool_call_json: str = '{"name": "roll", "arguments": {"skill": ..., "character": ...}}'


class Decoding(BaseModel):
    """How the app should sample, to get the replies dndtune measured."""

    grammar_file: str | None
    """GBNF grammar (llama.cpp's format) beside this manifest, or None where the runtime takes none
    (the Cactus engine). Pass it to llama.cpp's grammar sampler (``--grammar-file``): every tool
    call is then one the app parses, with a skill from the tool schema."""
    grammar_root: str = "root"
    grammar_sha256: str | None = None
    stop: list[str]
    """Strings that end a reply: the family's end-of-turn token, then end of text."""


class BundleManifest(BaseModel):
    format: Literal["dndtune-model"] = "dndtune-model"
    format_version: int = FORMAT_VERSION
    name: str
    version: str
    """Run name plus the first 12 hex digits of the file's sha256: unique per exported file."""
    target: Literal["gguf", "cactus"]
    runtime: str
    """``llama.cpp`` (Cactus's React Native / Flutter SDKs) or ``cactus-engine``."""
    file: str | None
    """The model file (GGUF) or folder (Cactus weights) relative to this manifest."""
    sha256: str | None
    size_bytes: int | None
    quant: str | None
    context_length: int | None
    architecture: str | None
    chat_format: ChatFormat
    tool_schema: list[dict[str, Any]]
    decoding: Decoding | None = None
    """None in bundles made before dndtune shipped a grammar."""
    eval_scores: dict[str, float | None] = Field(default_factory=dict)
    integration: dict[str, Any] | None = None
    files: dict[str, str] = Field(default_factory=dict)
    """Other parts of the bundle by role (``merged``, ``adapter``, ``base``, ``weights``) for the Cactus target."""
    next_steps: list[str] = Field(default_factory=list)
    source: dict[str, Any] = Field(default_factory=dict)
    created_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    dndtune_version: str = __version__


def chat_format(profile: ModelProfile, template: str | None) -> ChatFormat:
    fmt = profile.tool_format
    return ChatFormat(family=profile.family, template=template, tool_call_open=fmt.call_open,
                      tool_call_close=fmt.call_close, tool_response_open=fmt.response_open,
                      tool_response_close=fmt.response_close, stop=list(profile.stop_tokens))


def write_bundle_manifest(folder: Path, manifest: BundleManifest) -> Path:
    path = folder / BUNDLE_MANIFEST
    write_text_atomic(path, manifest.model_dump_json(indent=2) + "\n")
    return path
