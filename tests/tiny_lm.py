"""A tiny GPT-2 and a byte-level BPE tokenizer built from scratch (no downloads), for tests.

`next_token_logits` turns the model into a fixed next-token distribution: the final layer norm
outputs a constant vector and the (untied) head maps it to the given logits, so what the model
emits is known exactly while `generate` runs the real code path.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import lintseq.diffs
import lintseq.engine.units

EOS = "<|endoftext|>"
DIFF = "<|diff|>"


def train_tokenizer(diff_special: bool = False, vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    text = inspect.getsource(lintseq.diffs) + inspect.getsource(lintseq.engine.units)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        show_progress=False,
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS)
    fast.add_tokens([DIFF], special_tokens=diff_special)
    return fast


def build_model(tokenizer, next_token_logits: dict[str, float] | None = None, seed: int = 0):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    eos = tokenizer.convert_tokens_to_ids(EOS)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=2048,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
        tie_word_embeddings=next_token_logits is None,
    )
    model = GPT2LMHeadModel(config).eval()
    if next_token_logits is not None:
        with torch.no_grad():
            model.transformer.ln_f.weight.zero_()
            model.transformer.ln_f.bias.fill_(1.0)
            model.lm_head.weight.fill_(-30.0 / config.n_embd)
            for token, logit in next_token_logits.items():
                model.lm_head.weight[token_id(tokenizer, token)] = logit / config.n_embd
    return model


def token_id(tokenizer, token: str) -> int:
    ids = tokenizer.encode(token, add_special_tokens=False)
    assert len(ids) == 1, f"{token!r} is not one token: {ids}"
    return ids[0]


def save_tiny(path: Path, diff_special: bool = False, next_token_logits: dict[str, float] | None = None) -> Path:
    """Save a tokenizer and model to `path` (a directory `from_pretrained` can load)."""
    tok = train_tokenizer(diff_special)
    model = build_model(tok, next_token_logits)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def build_llama(tokenizer, seed: int = 0):
    """A tiny Llama (SmolLM2's architecture: grouped-query attention, RoPE, no dropout)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    eos = tokenizer.convert_tokens_to_ids(EOS)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=eos,
        eos_token_id=eos,
        tie_word_embeddings=True,
        initializer_range=0.5,  # weights large enough that greedy outputs differ between prompts
    )
    return LlamaForCausalLM(config).eval()
