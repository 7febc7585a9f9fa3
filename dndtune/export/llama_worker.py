"""Subprocess entry for everything that runs llama.cpp: quantize, probe (verify + perplexity), bench.

``python -m dndtune.export.llama_worker TASK REQUEST.json RESULT.json``. The export stage runs
llama.cpp out of process on purpose: a ``GGML_ABORT`` in the C library ends only this
process (the CLI or TUI reports a clean error), llama.cpp's log output never reaches the TUI's
terminal (no process-wide log callback is installed in the caller), an interrupted export can
kill the child without leaving a writer behind, and peak RSS measured here is the model's, not
the caller's torch heap.
"""

from __future__ import annotations

import ctypes
import json
import sys
import time
from pathlib import Path
from typing import Any

from dndtune.machine import peak_rss_bytes
from dndtune.models.llama_grammar import GrammarConstraint


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in _TASKS:
        print(f"usage: python -m dndtune.export.llama_worker {{{','.join(_TASKS)}}} REQUEST RESULT", file=sys.stderr)
        return 2
    request = json.loads(Path(args[1]).read_text(encoding="utf-8"))
    result = _TASKS[args[0]](request)
    Path(args[2]).write_text(json.dumps(result), encoding="utf-8")
    return int(result.get("rc", 0))


def quantize(request: dict[str, Any]) -> dict[str, Any]:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = int(request["ftype"])
    params.nthread = int(request.get("nthread", 0))
    if request.get("token_embedding_type") is not None:
        params.token_embedding_type = int(request["token_embedding_type"])
    prune = [int(i) for i in request.get("prune_layers") or []]
    keep_alive = None
    if prune:
        keep_alive = (ctypes.c_int32 * (len(prune) + 1))(*prune, -1)
        params.prune_layers = ctypes.cast(keep_alive, ctypes.POINTER(ctypes.c_int32))
    start = time.perf_counter()
    rc = llama_cpp.llama_model_quantize(str(request["src"]).encode(), str(request["dst"]).encode(),
                                        ctypes.byref(params))
    del keep_alive
    return {"rc": int(rc), "seconds": time.perf_counter() - start}


class _Session:
    """A loaded model with one sequence, decoded through llama.cpp's batch API."""

    def __init__(self, path: str, n_ctx: int, n_threads: int, n_batch: int = 512) -> None:
        import llama_cpp

        self.lib = llama_cpp
        start = time.perf_counter()
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_batch=n_batch, n_ubatch=n_batch,
                                   n_threads=n_threads, n_threads_batch=n_threads, verbose=False)
        self.load_s = time.perf_counter() - start
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)
        self.llm.close()

    def reset(self) -> None:
        self.lib.llama_memory_clear(self.lib.llama_get_memory(self.llm.ctx), True)

    def decode(self, tokens: list[int], start: int, want: list[bool]) -> list[Any]:
        """Decode ``tokens`` at positions ``start..``; returns log-prob rows where ``want`` is set."""
        import numpy as np

        rows: list[Any] = []
        for offset in range(0, len(tokens), self.n_batch):
            chunk = tokens[offset:offset + self.n_batch]
            flags = want[offset:offset + self.n_batch]
            self.batch.n_tokens = len(chunk)
            for i, (token, flag) in enumerate(zip(chunk, flags, strict=True)):
                self.batch.token[i] = token
                self.batch.pos[i] = start + offset + i
                self.batch.n_seq_id[i] = 1
                self.batch.seq_id[i][0] = 0
                self.batch.logits[i] = flag
            rc = self.lib.llama_decode(self.llm.ctx, self.batch)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            for i, flag in enumerate(flags):
                if flag:
                    ptr = self.lib.llama_get_logits_ith(self.llm.ctx, i)
                    logits = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)
                    rows.append(_log_softmax(logits))
        return rows

    def is_eog(self, token: int) -> bool:
        return bool(self.lib.llama_vocab_is_eog(self.vocab, token))


def _log_softmax(x: Any) -> Any:
    import numpy as np

    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())


def probe(request: dict[str, Any]) -> dict[str, Any]:
    session = _Session(request["model"], int(request["n_ctx"]), int(request.get("n_threads", 2)))
    llm = session.llm
    try:
        lib = session.lib
        result: dict[str, Any] = {
            "load_s": session.load_s,
            "n_vocab": session.n_vocab,
            "bos": int(lib.llama_vocab_bos(session.vocab)),
            "eos": int(lib.llama_vocab_eos(session.vocab)),
            "eot": int(lib.llama_vocab_eot(session.vocab)),
            "metadata": {k: v for k, v in llm.metadata.items() if not k.startswith("tokenizer.ggml.")
                         or k.endswith(("_id", ".pre", ".model", "add_bos_token"))},
            "eog": {str(t): session.is_eog(int(t)) for t in request.get("token_ids", [])},
            "tokenized": [llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
                          for text in request.get("tokenize", [])],
        }
        result["generated"] = [_generate(session, item) for item in request.get("generate", [])]
        result["kl"] = _kl(session, request.get("kl", []))
        nll = []
        for item in request.get("nll", []):
            session.reset()
            tokens = [int(t) for t in item["tokens"]][: session.n_ctx]
            mask = [bool(m) for m in item["mask"]][: len(tokens)]
            # The logits at position i predict token i + 1.
            want = [mask[i + 1] if i + 1 < len(tokens) else False for i in range(len(tokens))]
            rows = session.decode(tokens, 0, want)
            targets = [tokens[i + 1] for i in range(len(tokens)) if want[i]]
            total = -sum(float(r[t]) for r, t in zip(rows, targets, strict=True))
            nll.append({"nll": total, "count": len(targets)})
        result["nll"] = nll
        return result
    finally:
        session.close()


def _generate(session: _Session, item: dict[str, Any]) -> dict[str, Any]:
    """Greedy reply to ``item["tokens"]``, under ``item["grammar"]`` (GBNF text) when one is given."""
    import numpy as np

    session.reset()
    tokens = [int(t) for t in item["tokens"]]
    row = session.decode(tokens, 0, [False] * (len(tokens) - 1) + [True])[-1]
    grammar = GrammarConstraint(session.vocab, item["grammar"]) if item.get("grammar") else None
    out: list[int] = []
    stopped = False
    try:
        for _ in range(int(item["max_tokens"])):
            token = int(np.argmax(row))
            if grammar is not None:
                # As llama.cpp's common sampler: the whole vocabulary is masked only when the pick is refused.
                if not grammar.allows(token):
                    masked = grammar.mask(row)
                    if not np.isfinite(masked).any():
                        break
                    token = int(np.argmax(masked))
                grammar.accept(token)
            if session.is_eog(token):
                stopped = True
                out.append(token)
                break
            out.append(token)
            if len(tokens) + len(out) >= session.n_ctx:
                break
            row = session.decode([token], len(tokens) + len(out) - 1, [True])[-1]
    finally:
        if grammar is not None:
            grammar.close()
    return {"tokens": out, "stopped": stopped}


def _kl(session: _Session, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import numpy as np

    out = []
    for item in items:
        session.reset()
        tokens = [int(t) for t in item["tokens"]]
        ours = session.decode(tokens, 0, [False] * (len(tokens) - 1) + [True])[-1]
        ref = np.load(item["reference"])[int(item["row"])].astype(np.float64)
        n = min(len(ref), len(ours))
        p_log = _log_softmax(ref[:n])
        q_log = _log_softmax(ours[:n])
        k = int(item.get("top_k", 5))
        top_ref = set(np.argsort(-p_log)[:k].tolist())
        top_ours = set(np.argsort(-q_log)[:k].tolist())
        out.append({
            "kl": float(np.sum(np.exp(p_log) * (p_log - q_log))),
            "top1": bool(int(np.argmax(p_log)) == int(np.argmax(q_log))),
            "topk_overlap": len(top_ref & top_ours) / k,
        })
    return out


def bench(request: dict[str, Any]) -> dict[str, Any]:
    base_rss = peak_rss_bytes()
    session = _Session(request["model"], int(request["n_ctx"]), int(request["n_threads"]))
    try:
        filler = session.llm.tokenize(b" The party walks down the torchlit corridor and the rogue checks for traps.",
                                      add_bos=False)
        n_prompt = int(request["prompt_tokens"])
        prompt = (filler * (n_prompt // max(1, len(filler)) + 1))[:n_prompt]
        start = time.perf_counter()
        session.decode(prompt, 0, [False] * (len(prompt) - 1) + [True])
        prompt_s = time.perf_counter() - start
        token = prompt[-1]
        n_gen = int(request["gen_tokens"])
        start = time.perf_counter()
        for i in range(n_gen):
            session.decode([token], len(prompt) + i, [True])
        gen_s = time.perf_counter() - start
        return {
            "load_s": session.load_s,
            "prompt_tokens": len(prompt),
            "prompt_tps": len(prompt) / prompt_s,
            "gen_tokens": n_gen,
            "gen_tps": n_gen / gen_s,
            "peak_rss_bytes": peak_rss_bytes(),
            "base_rss_bytes": base_rss,
        }
    finally:
        session.close()


_TASKS = {"quantize": quantize, "probe": probe, "bench": bench}

if __name__ == "__main__":
    raise SystemExit(main())
