"""Causal-LM loss over the trained positions only, in chunks, without materialising full logits.

With assistant-only labels most positions carry no loss, and with Gemma's 262k vocabulary the
logits of a 1k-token sequence are a 1 GB float32 tensor (twice that with its gradient). This
loss runs the model's backbone, keeps the hidden states of positions whose next token is
trained, and projects them through the LM head a chunk at a time, forming each chunk's
gradient right away (the loss is a scalar, so backward only scales them). Peak extra memory is
one ``(chunk, vocab)`` float32 block; the LM-head work shrinks to the trained share of tokens.

The result equals ``transformers``' ``ForCausalLMLoss`` (shifted labels, sum over trained
tokens divided by their count, or by ``num_items_in_batch`` under gradient accumulation).
Models whose logits are not ``lm_head(hidden)`` (up to Gemma's final soft-capping) are declined
(:func:`masked_lm_loss` returns ``None``) and the caller uses the model's own loss.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from dndtune.train.tokenize import IGNORE_INDEX

CHUNK_ELEMENTS = 16 * 2**20
"""Logit elements per chunk (64 MiB of float32): rows per chunk = this / vocabulary size."""

_SCALING_ATTRIBUTES = ("logit_scale", "logits_scaling", "output_multiplier", "lm_head_multiplier")


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                labels: torch.Tensor, divisor: float, chunk_rows: int, softcap: float | None,
                row_weights: torch.Tensor | None) -> torch.Tensor:
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = bias is not None and ctx.needs_input_grad[2]
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
        grad_b = torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device) if need_b else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk_rows):
            h = hidden[start:start + chunk_rows]
            y = labels[start:start + chunk_rows]
            w = None if row_weights is None else row_weights[start:start + chunk_rows].float()
            logits = F.linear(h, weight, bias).float()
            squashed = None
            if softcap is not None:
                squashed = torch.tanh(logits / softcap)
                logits = squashed * softcap
            row_loss = torch.logsumexp(logits, dim=-1) - logits.gather(-1, y[:, None]).squeeze(-1)
            total += (row_loss if w is None else row_loss * w).sum()
            if not (need_h or need_w or need_b):
                continue
            grad = torch.softmax(logits, dim=-1)
            grad[torch.arange(y.shape[0], device=y.device), y] -= 1.0
            if squashed is not None:
                grad *= 1.0 - squashed * squashed
            grad /= divisor
            if w is not None:
                grad *= w[:, None]
            if grad_h is not None:
                grad_h[start:start + chunk_rows] = (grad.to(weight.dtype) @ weight).to(hidden.dtype)
            if grad_w is not None:
                grad_w += grad.T @ h.float()
            if grad_b is not None:
                grad_b += grad.sum(0)
        ctx.grads = (grad_h, grad_w, grad_b, weight.dtype)
        return total / divisor

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad_h, grad_w, grad_b, weight_dtype = ctx.grads
        ctx.grads = None
        scale = grad_output
        return (
            None if grad_h is None else grad_h * scale.to(grad_h.dtype),
            None if grad_w is None else (grad_w * scale).to(weight_dtype),
            None if grad_b is None else (grad_b * scale).to(weight_dtype),
            None, None, None, None, None,
        )


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         labels: torch.Tensor, divisor: float, *, softcap: float | None = None,
                         row_weights: torch.Tensor | None = None,
                         chunk_elements: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """``sum(w * cross_entropy(hidden @ weight.T + bias, labels)) / divisor``, one chunk of rows at a time.

    ``row_weights`` (one per row, default 1) scales each row's loss and its gradient.
    """
    rows = max(1, chunk_elements // max(1, weight.shape[0]))
    apply: Any = _LinearCrossEntropy.apply  # untyped in torch's stubs
    loss: torch.Tensor = apply(hidden, weight, bias, labels, float(divisor), rows, softcap, row_weights)
    return loss


def _causal_lm(model: Any) -> Any:
    """The ``*ForCausalLM`` module under PEFT / accelerate wrappers."""
    inner = model
    for _ in range(4):
        if hasattr(inner, "get_base_model"):
            inner = inner.get_base_model()
        elif hasattr(inner, "module") and isinstance(inner.module, torch.nn.Module):
            inner = inner.module
        else:
            break
    return inner


def _plain_head(model: Any) -> tuple[torch.nn.Module, torch.nn.Linear, Any] | None:
    """Backbone, LM head and text config when the logits are ``head(backbone(...))`` (up to soft-capping)."""
    causal = _causal_lm(model)
    backbone = getattr(causal, getattr(causal, "base_model_prefix", "model"), None)
    head = causal.get_output_embeddings() if hasattr(causal, "get_output_embeddings") else None
    config = causal.config.get_text_config() if hasattr(causal, "config") else None
    # A LoRA-wrapped or otherwise replaced head is not a plain Linear: leave it to the model.
    if not isinstance(backbone, torch.nn.Module) or type(head) is not torch.nn.Linear or config is None:
        return None
    if any(getattr(config, name, None) not in (None, 1, 1.0) for name in _SCALING_ATTRIBUTES):
        return None
    return backbone, head, config


def supports_masked_loss(model: Any) -> bool:
    """Whether :func:`masked_lm_loss` (and so loss weights) can be computed for ``model``."""
    return _plain_head(model) is not None


def masked_lm_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None,
                   loss_weights: torch.Tensor | None = None) -> torch.Tensor | None:
    """The causal-LM loss of ``inputs`` via :func:`linear_cross_entropy`; ``None`` for models it cannot do.

    ``loss_weights`` (the shape of ``labels``) weighs each labelled token. The divisor is scaled by
    the batch's mean weight over trained tokens, so the loss keeps the scale of the unweighted one
    (and stays comparable with the eval loss) while the weighted tokens get a larger share of it.
    """
    parts = _plain_head(model)
    if parts is None:
        return None
    backbone, head, config = parts
    softcap = getattr(config, "final_logit_softcapping", None)
    labels = inputs["labels"]
    forward = {k: v for k, v in inputs.items() if k not in ("labels", "num_items_in_batch")}
    forward["use_cache"] = False
    hidden = backbone(**forward).last_hidden_state[:, :-1]
    targets = labels[:, 1:].to(hidden.device)
    mask = targets != IGNORE_INDEX
    if num_items_in_batch is None:
        divisor = float(mask.sum().clamp(min=1).item())
    else:
        divisor = float(num_items_in_batch.item() if torch.is_tensor(num_items_in_batch) else num_items_in_batch)
    divisor = max(divisor, 1.0)
    row_weights = None
    if loss_weights is not None:
        row_weights = loss_weights[:, 1:].to(hidden.device)[mask].float()
        if row_weights.numel():
            divisor *= float(row_weights.mean().item())
    return linear_cross_entropy(hidden[mask], head.weight, head.bias, targets[mask], divisor,
                                softcap=softcap, row_weights=row_weights)
