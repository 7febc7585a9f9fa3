"""The Cactus engine as a :class:`~dndtune.evaluate.runner.ModelRunner`, through ``libcactus_engine``.

The native library ships only in cactus-compute's macOS arm64 wheel or is built from the Cactus
repository; it is found through ``CACTUS_LIB_PATH`` (the variable Cactus's own Python bindings
read). The four C functions used here (``cactus_init``, ``cactus_complete``, ``cactus_reset``,
``cactus_destroy``) are declared with the signatures of cactus-compute 2.2.2's bindings. The
engine renders the chat template and parses tool calls itself; its parsed ``function_calls`` are
written back in the model family's tool-call format so the evaluation reads them like any other
runner's output.
"""

from __future__ import annotations

import ctypes
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dndtune.dataset.chat import Message
from dndtune.errors import DndtuneError
from dndtune.evaluate.runner import Generation, GenerationSettings, LoadedRunner, LoadMeter, RunnerInfo, TurnScore
from dndtune.models.profiles import ModelProfile

LIB_ENV = "CACTUS_LIB_PATH"
RESPONSE_BUFFER = 1 << 20

_TokenCallback = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_uint32, ctypes.c_void_p)


def engine_library() -> Path | None:
    """``$CACTUS_LIB_PATH`` when it names an existing file, else None."""
    raw = os.environ.get(LIB_ENV)
    if not raw:
        return None
    path = Path(raw).expanduser()
    return path if path.is_file() else None


def _bind(library: Path) -> Any:
    try:
        lib = ctypes.CDLL(str(library))
    except OSError as exc:
        raise DndtuneError(f"cannot load the Cactus engine ({exc})", path=str(library),
                           fix="point CACTUS_LIB_PATH at a libcactus_engine built for this machine") from None
    lib.cactus_init.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_bool]
    lib.cactus_init.restype = ctypes.c_void_p
    lib.cactus_complete.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t,
                                    ctypes.c_char_p, ctypes.c_char_p, _TokenCallback, ctypes.c_void_p,
                                    ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t]
    lib.cactus_complete.restype = ctypes.c_int
    lib.cactus_reset.argtypes = [ctypes.c_void_p]
    lib.cactus_reset.restype = None
    lib.cactus_destroy.argtypes = [ctypes.c_void_p]
    lib.cactus_destroy.restype = None
    lib.cactus_get_last_error.argtypes = []
    lib.cactus_get_last_error.restype = ctypes.c_char_p
    return lib


class CactusRunner(LoadedRunner):
    """Converted Cactus weights (``cactus convert ... --weights-only``) run by the native engine."""

    def __init__(self, weights: Path, *, library: Path, profile: ModelProfile, label: str | None = None) -> None:
        self._lib = _bind(library)
        meter = LoadMeter()
        handle = self._lib.cactus_init(str(weights).encode("utf-8"), None, False)
        if not handle:
            raise DndtuneError(f"the Cactus engine cannot load the weights ({self._last_error()})", path=str(weights),
                               fix="convert them again with the same cactus-compute version as the engine")
        self._handle = handle
        self._profile = profile
        size = sum(p.stat().st_size for p in weights.iterdir() if p.is_file())
        self._info = RunnerInfo(label=label or weights.name, kind="cactus", path=str(weights), family=profile.family,
                                quant="CQ4", size_bytes=size, load_seconds=meter.seconds(),
                                rss_bytes=meter.rss_added())

    def _last_error(self) -> str:
        raw = self._lib.cactus_get_last_error()
        return raw.decode("utf-8", "replace") if raw else "no error message"

    def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                 settings: GenerationSettings) -> Generation:
        self._lib.cactus_reset(self._handle)
        stamps: list[float] = []

        def on_token(_text: bytes | None, _token: int, _user: Any) -> None:
            stamps.append(time.perf_counter())

        callback = _TokenCallback(on_token)
        options = {"max_tokens": settings.max_tokens, "temperature": settings.temperature,
                   "stop_sequences": list(self._profile.stop_tokens)}
        buffer = ctypes.create_string_buffer(RESPONSE_BUFFER)
        started = time.perf_counter()
        rc = self._lib.cactus_complete(self._handle, json.dumps(list(messages)).encode("utf-8"), buffer,
                                       len(buffer), json.dumps(options).encode("utf-8"),
                                       json.dumps(list(tools or [])).encode("utf-8"), callback, None, None, 0)
        ended = time.perf_counter()
        if rc < 0:
            raise DndtuneError(f"Cactus completion failed ({self._last_error()})", path=self._info.path)
        result = json.loads(buffer.value.decode("utf-8", "replace") or "{}")
        text = str(result.get("response") or "")
        for call in result.get("function_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("name"), str):
                text += self._profile.format_tool_call(call["name"], call.get("arguments") or {})
        tokens = len(stamps)
        return Generation(text=text, tokens=tokens, finish="length" if tokens >= settings.max_tokens else "stop",
                          prompt_tokens=int(result.get("prefill_tokens") or 0), seconds=ended - started,
                          decode_seconds=(stamps[-1] - stamps[0]) if len(stamps) > 1 else None)

    def score(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None) -> TurnScore | None:
        # The engine exposes no per-token likelihoods of given text through this API.
        return None

    def close(self) -> None:
        if self._handle:
            self._lib.cactus_destroy(self._handle)
            self._handle = None
