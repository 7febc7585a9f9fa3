"""Constrained decoding in llama.cpp with a GBNF grammar, driven the way llama.cpp's own sampler drives it.

llama.cpp's grammar sampler checks every token of the vocabulary against the grammar. Put in a
sampler chain as llama-cpp-python does, that runs on every generated token: on Gemma 3's
262k-token vocabulary it cost about 125 ms per token here, three times the decode itself.
llama.cpp's common sampler (llama-cli, llama-server and the SDKs built on them) samples first and
checks only the chosen token; the whole vocabulary is masked only when that token is rejected,
and the sample is drawn again from what the grammar allows. Greedy decoding picks the same token
either way, so figures measured here are the ones an app on llama.cpp gets.

:class:`GrammarConstraint` wraps one grammar sampler (parse, check a token, mask logits, accept);
:class:`GrammarFirstSampler` is the sample-then-check loop for ``Llama.generate``;
:func:`constrained_llama` makes a ``llama_cpp.Llama`` that uses it whenever a grammar is passed.
The export's llama.cpp worker decodes greedily on its own and uses :class:`GrammarConstraint`
directly.
"""

from __future__ import annotations

import ctypes
from typing import Any

from dndtune.errors import DndtuneError

ROOT = "root"


class GrammarConstraint:
    """One parsed GBNF grammar in llama.cpp, advanced token by token."""

    def __init__(self, vocab: Any, text: str, *, root: str = ROOT) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))
        # llama.cpp returns NULL for a grammar it cannot parse (its reason goes to stderr); handing
        # NULL to a sampler chain would crash the process, so it never gets that far.
        self._sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), root.encode("utf-8"))
        if not self._sampler:
            raise DndtuneError("llama.cpp cannot parse the grammar (its message is above)",
                               fix="regenerate it with dndtune.models.grammar.roll_grammar")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        self._candidates: Any = None

    def allows(self, token: int) -> bool:
        """Whether ``token`` may come next (an end-of-generation token: whether the grammar is complete)."""
        self._one[0] = self._lib.llama_token_data(token, 0.0, 0.0)
        self._one_array.size = 1
        self._one_array.selected = -1
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(self._one_array))
        return bool(self._one[0].logit != float("-inf"))

    def mask(self, logits: Any) -> Any:
        """A copy of ``logits`` (one row over the whole vocabulary) with every rejected token at -inf."""
        import numpy as np

        if self._candidates is None:
            self._candidates = np.zeros(self._n_vocab, dtype=np.dtype(
                [("id", np.intc), ("logit", np.single), ("p", np.single)], align=True))
        data = self._candidates
        data["id"] = np.arange(self._n_vocab, dtype=np.intc)
        data["logit"] = np.asarray(logits, dtype=np.single)[: self._n_vocab]
        data["p"] = 0.0
        array = self._lib.llama_token_data_array(data=data.ctypes.data_as(self._lib.llama_token_data_p),
                                                 size=self._n_vocab, selected=-1, sorted=False)
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(array))
        # The grammar sampler only overwrites logits in place (order and size stay as given); the
        # caller's values are kept for the rest, so float64 log-probs do not tie in float32.
        masked = np.array(logits, copy=True)
        masked[: self._n_vocab][np.isneginf(data["logit"])] = -np.inf
        return masked

    def accept(self, token: int) -> None:
        """Advance the grammar past ``token``, which :meth:`allows` must have allowed.

        llama.cpp aborts the process on a token the grammar cannot take, hence the contract.
        """
        self._lib.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None

    def __del__(self) -> None:
        self.close()


def check_grammar(vocab: Any, text: str) -> None:
    """Raise :class:`DndtuneError` unless llama.cpp parses ``text`` for this vocabulary."""
    GrammarConstraint(vocab, text).close()


class GrammarFirstSampler:
    """Stands in for llama-cpp-python's sampler chain in ``Llama.generate`` when a grammar is given.

    ``chain`` is the unconstrained chain (greedy, or top-k/top-p/min-p/temperature/dist) that
    picks a token from candidates; the grammar is consulted after it, as in llama.cpp's common
    sampler.
    """

    def __init__(self, chain: Any, constraint: GrammarConstraint, n_vocab: int, *, dead_end: int) -> None:
        import llama_cpp
        import numpy as np

        self._lib = llama_cpp
        self._chain = chain
        self._constraint = constraint
        self._n_vocab = n_vocab
        self._dead_end = dead_end
        self._data = np.zeros(n_vocab, dtype=np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)],
                                                      align=True))
        self._ids = np.arange(n_vocab, dtype=np.intc)

    def _pick(self, logits: Any) -> int:
        data = self._data
        data["id"] = self._ids
        data["logit"] = logits
        data["p"] = 0.0
        array = self._lib.llama_token_data_array(data=data.ctypes.data_as(self._lib.llama_token_data_p),
                                                 size=self._n_vocab, selected=-1, sorted=False)
        self._lib.llama_sampler_apply(self._chain.sampler, ctypes.byref(array))
        # Samplers may sort, shrink or re-point the array: read the choice through it.
        return int(array.data[array.selected].id)

    def sample(self, ctx: Any, idx: int) -> int:
        """The interface ``Llama.sample`` calls: the next token from the logits at ``idx``."""
        import numpy as np

        row = self._lib.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(row, shape=(self._n_vocab,))
        token = self._pick(logits)
        if not self._constraint.allows(token):
            masked = self._constraint.mask(logits)
            if not np.isfinite(masked).any():
                # Nothing can follow (a grammar with a dead end): end the reply rather than let
                # llama.cpp abort on a token the grammar cannot accept.
                return self._dead_end
            token = self._pick(masked)
        self._constraint.accept(token)
        self._lib.llama_sampler_accept(self._chain.sampler, token)
        return token

    def close(self) -> None:
        self._constraint.close()
        self._chain.close()


def constrained_llama(**kwargs: Any) -> Any:
    """``llama_cpp.Llama(**kwargs)`` whose ``generate(grammar=...)`` samples as llama.cpp's common sampler does."""
    import llama_cpp

    class ConstrainedLlama(llama_cpp.Llama):
        # llama-cpp-python 0.3.36 (pinned) builds one sampler per generate() call here and only
        # ever calls its sample(ctx, idx); the unconstrained part of the chain is its own.
        def _init_sampler(self, *args: Any, grammar: Any = None, **options: Any) -> Any:
            chain = super()._init_sampler(*args, **options)
            if grammar is None:
                return chain
            constraint = GrammarConstraint(self._model.vocab, grammar._grammar, root=grammar._root)
            return GrammarFirstSampler(chain, constraint, self._n_vocab, dead_end=self.token_eos())

    return ConstrainedLlama(**kwargs)
