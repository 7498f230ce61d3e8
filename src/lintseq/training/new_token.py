"""Where `<|diff|>` starts when it is added to a pretrained vocabulary (docs/design.md §6.1).

The usual start, the mean of the existing embeddings (Hewitt, 2021), is harmless but gives the
token an average logit: on SmolLM2-135M it ranks ~21,000th at the ends of hunks, and a short
fine-tune cannot lift it (Adam moves each weight by about the learning rate per step; after the
CPU recipe's 12 steps at lr 1e-4 it still ranked ~21,000th, so the model never wrote it and every
LintSeq sample ran on past its first hunk).

`predictive` starts the token's output embedding at the mean plus `alpha` times one unit
direction: the difference between the base model's last hidden states (the head's input) where
the training completions put `<|diff|>` next and where they do not. `alpha` is the smallest
that makes the token's mean probability at those positions `TARGET`; elsewhere it stays small
(both are measured and returned). The input side of a tied embedding moves with it; an untied
input embedding keeps the mean.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

TARGET = 0.5  # mean probability of the new token where the data puts it next
MAX_ROWS = 32  # training rows read (evenly spaced over those holding the token)
MAX_OTHER = 4096  # other positions kept to measure how likely the token becomes elsewhere


def _sample_rows(rows: list[dict[str, str]], text: str, max_rows: int) -> list[dict[str, str]]:
    holding = [r for r in rows if text in r["completion"]]
    if len(holding) <= max_rows:
        return holding
    step = len(holding) / max_rows
    return [holding[int(i * step)] for i in range(max_rows)]


def predictive_init(
    model, tok, rows: list[dict[str, str]], token_id: int, known: int, max_rows: int = MAX_ROWS
) -> dict[str, Any] | None:
    """Set `token_id`'s embedding as the module docstring says; None when no row holds the token.

    `known` is the number of embedding rows the base model trained (its tokenizer's length);
    their mean is the start the direction is added to. Runs on the model's device, no gradients.
    """
    import torch

    text = tok.convert_ids_to_tokens(token_id)
    sample = _sample_rows(rows, text, max_rows)
    if not sample:
        return None
    inp, out = model.get_input_embeddings(), model.get_output_embeddings()
    head = out if out is not None else inp
    tied = head.weight.data_ptr() == inp.weight.data_ptr()
    with torch.no_grad():
        mean_out = head.weight[:known].float().mean(0)
        inp.weight[token_id] = inp.weight[:known].mean(0)
        head.weight[token_id] = mean_out.to(head.weight.dtype)

    positions = _positions(model, tok, sample, head, token_id)
    if positions is None:
        return None
    h_at, lse_at, direction, h_o, lse_o = positions

    def probability(h, lse, alpha: float):
        return torch.sigmoid(h @ (mean_out + alpha * direction) - lse)

    alpha = _smallest_alpha(lambda a: probability(h_at, lse_at, a).mean())
    with torch.no_grad():
        head.weight[token_id] = (mean_out + alpha * direction).to(head.weight.dtype)
    p_at, p_other = probability(h_at, lse_at, alpha), probability(h_o, lse_o, alpha)
    p_mean = probability(h_at, lse_at, 0.0)
    return {
        "method": "predictive",
        "rows": len(sample),
        "positions": len(h_at),
        "alpha": round(alpha, 4),
        "tied": tied,
        "p_at_positions_mean_init": round(float(p_mean.mean()), 6),
        "p_at_positions": round(float(p_at.mean()), 4),
        "p_elsewhere": round(float(p_other.mean()), 4),
        "elsewhere_above_half": round(float((p_other > 0.5).float().mean()), 4),
    }


def _positions(model: Any, tok: Any, sample: list[dict[str, str]], head: Any, token_id: int) -> Any:
    """The LM head's inputs and the log-normalisers (every token but `token_id`) at the completion
    positions where the data puts the token next, the unit direction from the mean of the other
    positions to theirs, and up to MAX_OTHER of those other positions; None when either kind
    is missing."""
    import torch

    captured: list[Any] = []
    hook = head.register_forward_hook(lambda _m, args, _o: captured.append(args[0]))
    sum_other = None  # over every other position; only the first MAX_OTHER are kept
    n_other = 0
    at_h: list[Any] = []
    at_lse: list[Any] = []
    other_h: list[Any] = []
    other_lse: list[Any] = []
    was_training = model.training
    model.eval()
    device = head.weight.device
    try:
        with torch.no_grad():
            for row in sample:
                n_prompt = len(tok(row["prompt"])["input_ids"])
                ids = tok(row["prompt"] + row["completion"], return_tensors="pt")["input_ids"].to(device)
                captured.clear()
                logits = model(input_ids=ids).logits[0, :-1].float()
                h = captured[0][0, :-1].float()
                logits[:, token_id] = -math.inf  # the token competes with every other one
                lse = logits.logsumexp(-1)
                nxt = ids[0, 1:]
                keep = torch.arange(len(nxt), device=device) >= n_prompt - 1  # completion positions only
                at, other = keep & (nxt == token_id), keep & (nxt != token_id)
                at_h.append(h[at])
                at_lse.append(lse[at])
                sum_other = h[other].sum(0) if sum_other is None else sum_other + h[other].sum(0)
                n_other += int(other.sum())
                if sum(len(x) for x in other_h) < MAX_OTHER:
                    other_h.append(h[other])
                    other_lse.append(lse[other])
    finally:
        hook.remove()
        model.train(was_training)
    h_at, lse_at = torch.cat(at_h), torch.cat(at_lse)
    if not len(h_at) or not n_other:
        return None
    assert sum_other is not None
    direction = h_at.mean(0) - sum_other / n_other
    direction = direction / direction.norm()
    return h_at, lse_at, direction, torch.cat(other_h)[:MAX_OTHER], torch.cat(other_lse)[:MAX_OTHER]


def _smallest_alpha(mean_probability: Callable[[float], Any]) -> float:
    """The smallest alpha (to bisection precision) whose mean probability reaches TARGET. It
    rises with alpha: each term is a sigmoid of a line whose slope h·u is mostly positive at
    these positions. (`mean_probability` gives a tensor: compared in its dtype, as before the split.)"""
    low, high = 0.0, 1.0
    while mean_probability(high) < TARGET and high < 1e4:
        low, high = high, high * 2
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if mean_probability(mid) < TARGET else (low, mid)
    return high
