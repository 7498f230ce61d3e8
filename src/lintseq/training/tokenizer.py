"""Tokenizers: a byte-level BPE trained on the training text (for `--init`), and `<|diff|>`.

`<|diff|>` is added as an ordinary (non-special) token, as the authors did: vLLM and
`decode(skip_special_tokens=True)` drop special tokens from text, and the edit separators must
survive decoding for `resolve` to work.
"""

from __future__ import annotations

from collections.abc import Iterable

from lintseq.diffs import DIFF_TOKEN

EOS = "<|endoftext|>"
PAD = "<|pad|>"


def train_bpe_tokenizer(
    texts: Iterable[str], vocab_size: int = 8192, min_frequency: int = 2, *, with_diff_token: bool = True
):
    """A GPT-2-style byte-level BPE tokenizer trained on `texts`, wrapped for transformers.

    Any text can be encoded (byte fallback by construction); `<|endoftext|>` is EOS/BOS,
    `<|pad|>` a separate pad token, `<|diff|>` one ordinary token.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((t.replace(DIFF_TOKEN, "\n") for t in texts), trainer)
    if with_diff_token:
        tok.add_tokens([AddedToken(DIFF_TOKEN, special=False, normalized=False)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=PAD, clean_up_tokenization_spaces=False
    )


def add_diff_token(tokenizer) -> int:
    """Add `<|diff|>` (non-special) if missing and give a pad token distinct from EOS.

    Returns the id of `<|diff|>`; raises if it does not encode to exactly that one id.
    """
    if DIFF_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([DIFF_TOKEN])
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        # pad == eos ends up in generation_config and makes generate() stop at once
        tokenizer.add_special_tokens({"pad_token": PAD})
    ids = tokenizer.encode(DIFF_TOKEN, add_special_tokens=False)
    diff_id = tokenizer.convert_tokens_to_ids(DIFF_TOKEN)
    if ids != [diff_id]:
        raise RuntimeError(f"{DIFF_TOKEN} encodes to {ids}, not one token")
    return diff_id
