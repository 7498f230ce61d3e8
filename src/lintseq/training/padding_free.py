"""Padding-free training batches with PyTorch's own attention (no flash-attention package needed).

TRL's padding-free collator joins a micro-batch's rows into one sequence with `position_ids`
restarting at each row and the rows' boundaries in `cu_seq_lens_q`. Flash attention reads those
boundaries; transformers' SDPA path instead builds a block-diagonal mask over the whole joined
sequence, which on a CPU costs attention over (sum of lengths)^2 instead of the sum of
squares (and, as measured, lets rows attend to each other). `varlen_sdpa` runs causal SDPA
on each row's slice: the arithmetic of a padded batch without the padding, which was 47% of a
padded step's tokens on random micro-batches of 8 chat-formatted LintSeq rows (SmolLM2's
tokenizer). Anything else (a padded batch, a model
whose attention has a soft cap, a sliding window or a position bias) goes to transformers'
SDPA with the mask it built, so the function is never wrong, only sometimes not faster.
"""

from __future__ import annotations

import itertools
from typing import Any

NAME = "lintseq_sdpa_varlen"


def varlen_sdpa(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """Attention for transformers' `AttentionInterface`: per-row causal SDPA on padding-free batches."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    bounds = kwargs.get("cu_seq_lens_q")
    special = any(kwargs.get(k) is not None for k in ("softcap", "sliding_window", "position_bias", "s_aux"))
    if bounds is None or query.shape[0] != 1 or special or not getattr(module, "is_causal", True):
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    ends = bounds.tolist()
    gqa = key.shape[1] != query.shape[1]
    parts = [
        torch.nn.functional.scaled_dot_product_attention(
            query[:, :, a:b],
            key[:, :, a:b],
            value[:, :, a:b],
            dropout_p=dropout,
            scale=scaling,
            is_causal=True,
            enable_gqa=gqa,
        )
        for a, b in itertools.pairwise(ends)
        if b > a
    ]
    return torch.cat(parts, dim=2).transpose(1, 2).contiguous(), None


def register() -> None:
    """Make `NAME` an attention implementation transformers knows (with SDPA's masks)."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(NAME, varlen_sdpa)
    AttentionMaskInterface.register(NAME, sdpa_mask)


def use_varlen(model) -> str | None:
    """Switch an SDPA model to `varlen_sdpa`; the implementation it had, or None if left alone
    (other implementations, e.g. flash attention on a GPU, already handle padding-free batches)."""
    config: Any = model.config
    before = getattr(config, "_attn_implementation", None)
    if before != "sdpa":
        return None
    register()
    model.set_attn_implementation(NAME)
    return before
