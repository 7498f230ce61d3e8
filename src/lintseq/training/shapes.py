"""From-scratch model shapes for `--init`.

The paper pre-trained TinyCodeLM at 150M and 400M parameters with a GPT-2-like architecture.
`150m` and `400m` use the GPT-2 small (12 x 768) and medium (24 x 1024) shapes; with a
~50k vocabulary they come to about 125M and 355M parameters, less with a smaller one.
`tiny` is for tests and smoke runs.
"""

from __future__ import annotations

from typing import TypedDict


class Shape(TypedDict):
    """GPT2Config's size arguments."""

    n_layer: int
    n_head: int
    n_embd: int


SHAPES: dict[str, Shape] = {
    "tiny": {"n_layer": 2, "n_head": 2, "n_embd": 64},
    "150m": {"n_layer": 12, "n_head": 12, "n_embd": 768},
    "400m": {"n_layer": 24, "n_head": 16, "n_embd": 1024},
}


def init_model(size: str, vocab_size: int, max_positions: int, *, eos_id: int, pad_id: int, seed: int = 0):
    """A freshly initialised GPT-2 causal LM of a named size."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    if size not in SHAPES:
        raise ValueError(f"unknown model size {size!r}; use one of {', '.join(SHAPES)}")
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=max_positions,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        tie_word_embeddings=True,
        **SHAPES[size],
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config)


def count_parameters(model) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
