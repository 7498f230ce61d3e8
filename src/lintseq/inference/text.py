"""Text clean-up shared by the backends and the driver: stop strings, fences, programs."""

from __future__ import annotations

from lintseq.diffs import resolve
from lintseq.markdown import strip_fences

# Special tokens that end a document whatever the chat format: an instruct model asked to
# continue code (completion style) ends with its pre-training `<|endoftext|>`, which its
# generation config does not list (SmolLM2-Instruct's EOS is `<|im_end|>`).
END_MARKERS = ("<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "<|im_end|>", "<|end|>", "<|EOT|>", "</s>", "<eos>")


def end_marker_ids(tokenizer) -> list[int]:
    """Ids of the tokenizer's special tokens among `END_MARKERS`."""
    special = set(getattr(tokenizer, "all_special_tokens", ()) or ())
    ids = []
    for token in END_MARKERS:
        if token in special:
            i = tokenizer.convert_tokens_to_ids(token)
            if isinstance(i, int) and i >= 0 and i not in ids:
                ids.append(i)
    return ids


def cut_at_stop(text: str, stops: tuple[str, ...] | list[str]) -> tuple[str, bool]:
    """Cut `text` before the first stop string (the stop is not kept, as in vLLM/OpenAI)."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def strip_trailing(text: str, tokens: list[str]) -> str:
    """Remove EOS/pad token strings that a server left at the end of a decoded sample."""
    tokens = [t for t in tokens if t]
    changed = True
    while changed:
        changed = False
        for t in tokens:
            if text.endswith(t):
                text = text[: -len(t)]
                changed = True
    return text


def to_program(style: str, completion: str) -> tuple[str, bool, int | None]:
    """(program, resolved_clean, number of edits) for a completion of the given prompt style.

    An edit sequence is resolved by the paper's rule, as `evaluate` scores it; `resolved_clean`
    says whether the diff format's strict reading would have applied every hunk as written."""
    if style == "lintseq":
        r = resolve(completion)
        return r.program, r.clean, r.edits
    if style == "baseline":
        return strip_fences(completion), True, None
    raise ValueError(f"unknown prompt style {style!r} (expected 'lintseq' or 'baseline')")
