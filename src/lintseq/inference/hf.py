"""Hugging Face transformers backend: a local (or hub) causal LM, batched `generate` on CPU or GPU.

Prompts are left-padded; each prompt is repeated `n` times inside the batch, so `--batch-size`
counts sequences and a large k is split across calls. Decoding keeps special tokens (so an added
`<|diff|>` survives) and removes only EOS and padding.
"""

from __future__ import annotations

import inspect

from lintseq.inference.text import cut_at_stop, end_marker_ids
from lintseq.inference.types import (
    BackendUnavailable,
    Generation,
    Request,
    SampleSettings,
    SamplingSettings,
    batch_seed,
)


def _require_torch():
    try:
        import torch
        import transformers
    except ImportError as e:  # pragma: no cover - the hf extra is a test dependency
        raise BackendUnavailable("the 'hf' backend needs torch and transformers: pip install 'lintseq[hf]'") from e
    return torch, transformers


def eos_ids(model, tokenizer) -> list[int]:
    """Every id that ends a sample: the generation config's EOS (int or list), the tokenizer's,
    and the tokenizer's other end-of-text specials (`end_marker_ids`)."""
    ids: list[int] = []
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None)
        for i in value if isinstance(value, (list, tuple)) else [value]:
            if i is not None and int(i) not in ids:
                ids.append(int(i))
    return ids + [i for i in end_marker_ids(tokenizer) if i not in ids]


def choose_pad_id(tokenizer, eos: list[int]) -> int:
    """A pad id that is not an EOS id: pad == eos makes `generate` return empty samples."""
    for candidate in (tokenizer.pad_token_id, getattr(tokenizer, "unk_token_id", None)):
        if candidate is not None and candidate not in eos:
            return int(candidate)
    return next(i for i in range(len(tokenizer)) if i not in eos)


def resolve_device(device: str) -> str:
    torch, _ = _require_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")
    return device


def resolve_dtype(dtype: str, device: str):
    torch, _ = _require_torch()
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r} (auto, float32, float16, bfloat16)") from None


def _dtype_keyword(transformers) -> str:
    """`dtype` since transformers 4.56; `torch_dtype` before."""
    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


class HFBackend:
    """Samples with `model.generate`; one instance holds one model."""

    name = "hf"

    def __init__(
        self,
        model: str,
        *,
        tokenizer: str | None = None,
        device: str = SampleSettings.device,
        dtype: str = SampleSettings.dtype,
        batch_size: int = SampleSettings.batch_size,
        model_obj=None,
        tokenizer_obj=None,
    ) -> None:
        torch, transformers = _require_torch()
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.torch = torch
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.tokenizer = tokenizer_obj or transformers.AutoTokenizer.from_pretrained(tokenizer or model)
        self.tokenizer.padding_side = "left"
        self.model = model_obj or transformers.AutoModelForCausalLM.from_pretrained(
            model, **{_dtype_keyword(transformers): resolve_dtype(dtype, self.device)}
        )
        self.model.to(self.device).eval()
        self.eos = eos_ids(self.model, self.tokenizer)
        if not self.eos:
            raise ValueError(f"{model}: neither the model nor the tokenizer names an EOS token")
        self.pad_id = choose_pad_id(self.tokenizer, self.eos)
        # Only a real pad token is dropped from text; a borrowed id may be a genuine token.
        self.drop = {self.pad_id} if self.pad_id == self.tokenizer.pad_token_id else set()
        # transformers 5 names the KV cache argument `cache`; 4.x `past_key_values`
        params = inspect.signature(self.model.forward).parameters
        self._cache_keyword = "cache" if "cache" in params else "past_key_values"
        cfg = self.model.config
        self.max_positions = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)

    def problems_per_call(self, n: int) -> int:
        return max(1, self.batch_size // n)

    def generate(self, requests: list[Request], settings: SamplingSettings) -> list[list[Generation]]:
        if settings.greedy:
            # Greedy samples of one prompt are identical: decode once, copy n times.
            once = self._run([(r, 0) for r in requests], settings, batch_seed(settings.seed, "greedy"))
            return [
                [Generation(g.text, g.finish_reason, g.n_tokens) for _ in range(r.n)] for r, g in zip(requests, once)
            ]
        flat = [(r, j) for r in requests for j in range(r.n)]
        out: list[Generation] = []
        for start in range(0, len(flat), self.batch_size):
            chunk = flat[start : start + self.batch_size]
            out.extend(self._run(chunk, settings, batch_seed(chunk[0][0].seed, chunk[0][1], len(chunk))))
        result: list[list[Generation]] = []
        it = iter(out)
        for r in requests:
            result.append([next(it) for _ in range(r.n)])
        return result

    def _run(self, chunk: list[tuple[Request, int]], settings: SamplingSettings, seed: int) -> list[Generation]:
        torch = self.torch
        # The n samples of a problem share its prompt: encode each prompt once and copy its cache
        # (prefill is most of the work on a CPU: padded prompts are longer than their answers).
        prompts = [r.prompt for r, _ in chunk]
        unique = {p: i for i, p in enumerate(dict.fromkeys(prompts))}
        enc = self._left_pad(list(unique))
        copies = torch.tensor([unique[p] for p in prompts]) if len(unique) < len(prompts) else None
        width = enc["input_ids"].shape[1]
        if self.max_positions and width + settings.max_new_tokens > self.max_positions:
            raise ValueError(
                f"a prompt of {width} tokens plus max_new_tokens={settings.max_new_tokens} exceeds the "
                f"model's {self.max_positions} positions; lower --max-new-tokens"
            )
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
        with torch.inference_mode():
            rows = self._sample_rows(
                enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device), settings, copies
            )
        return [self._decode(ids, settings) for ids in rows]

    def _sample_rows(self, input_ids, mask, settings: SamplingSettings, copies=None) -> list[list[int]]:
        """New tokens per row, decoding step by step and dropping rows that ended (EOS or a stop
        string): `generate` would keep computing a finished row until the longest one ends, which
        on a CPU costs most of the time when a few samples ramble to the token limit. Sampling
        applies temperature, then top-p, then min-p, as `generate` does (`decoding.next_tokens`).
        `copies` maps each row to the prompt it continues (rows of one prompt share its prefill).

        The KV cache reserves room for every new token (`decoding.RoomyLayer`), and ended rows
        leave it in groups: removing a row copies the whole cache, so a finished row stays in the
        batch (its tokens ignored) until an eighth of the lines have ended."""
        from lintseq.inference.decoding import next_tokens, roomy_cache

        torch = self.torch
        device = input_ids.device
        eos = torch.tensor(self.eos, device=device)
        tail = max((len(s) for s in settings.stop), default=0) + 1  # tokens that can hold a new stop string
        copies = None if copies is None else copies.to(device)
        layers = self.model.config.get_text_config().num_hidden_layers
        cache = roomy_cache(layers, settings.max_new_tokens, copies)
        kw = {self._cache_keyword: cache}
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        logits = self.model(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True, **kw
        ).logits[:, -1, :]
        if copies is not None:
            mask, logits = mask[copies], logits[copies]
        n = mask.shape[0]
        rows: list[list[int]] = [[] for _ in range(n)]
        lines: list[int | None] = list(range(n))  # the row each batch line holds, or None once it ended
        live = torch.arange(n, device=device)  # the batch lines still sampling, in row order
        # the whole mask, new tokens included, written once; a step reads its first columns
        width = mask.shape[1]
        mask = torch.cat([mask, mask.new_ones((n, settings.max_new_tokens))], dim=1)
        positions = mask[:, :width].long().sum(-1, keepdim=True) - 1
        for step in range(settings.max_new_tokens):
            picked = next_tokens(
                logits if len(live) == len(lines) else logits[live],
                settings.temperature,
                settings.top_p,
                settings.min_p,
            )
            ended = torch.isin(picked, eos).tolist()
            at = [i for i, row in enumerate(lines) if row is not None]
            for k, (line, token) in enumerate(zip(at, picked.tolist())):
                row = lines[line]
                assert row is not None
                rows[row].append(token)
                if not ended[k] and tail > 1 and any(s in self._text(rows[row][-tail:]) for s in settings.stop):
                    ended[k] = True
            if step + 1 == settings.max_new_tokens or all(ended):
                break
            nxt = torch.full((len(lines),), self.pad_id, dtype=torch.long, device=device)
            nxt[live] = picked
            for k, line in enumerate(at):
                if ended[k]:
                    lines[line] = None
            if any(ended):
                live = torch.tensor([i for i, row in enumerate(lines) if row is not None], device=device)
            if 8 * (len(lines) - len(live)) >= len(lines):  # enough ended lines to be worth a copy
                cache.batch_select_indices(live)
                mask, positions, nxt = mask[live], positions[live], nxt[live]
                lines = [lines[i] for i in live.tolist()]
                live = torch.arange(len(lines), device=device)
            positions = positions + 1
            logits = self.model(
                input_ids=nxt[:, None],
                attention_mask=mask[:, : width + step + 1],
                position_ids=positions,
                use_cache=True,
                **kw,
            ).logits[:, -1, :]
        return rows

    def _left_pad(self, prompts: list[str]) -> dict:
        """Left-pad with our own pad id (the tokenizer may have none, or pad == eos)."""
        torch = self.torch
        rows = self.tokenizer(prompts, add_special_tokens=True)["input_ids"]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            if r:
                ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
                mask[i, width - len(r) :] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def _decode(self, ids: list[int], settings: SamplingSettings) -> Generation:
        """Text up to the first EOS (or stop string); n_tokens counts through that EOS."""
        eos = set(self.eos)
        end = next((i for i, t in enumerate(ids) if t in eos), None)
        if end is not None:
            kept, n_tokens, reason = ids[:end], end + 1, "stop"
        else:
            kept, n_tokens, reason = ids, len(ids), "length"
        text, stopped = cut_at_stop(self._text(kept), settings.stop)
        if stopped:  # generate stops on the token that completes a stop string
            reason, n_tokens = "stop", self._tokens_to_stop(kept, settings.stop)
        return Generation(text, reason, n_tokens)

    def _text(self, ids: list[int]) -> str:
        ids = [t for t in ids if t not in self.drop]
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _tokens_to_stop(self, ids: list[int], stops: tuple[str, ...]) -> int:
        """Fewest leading tokens whose text holds a stop string (where `generate` stopped)."""
        lo, hi = 1, len(ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if cut_at_stop(self._text(ids[:mid]), stops)[1]:
                hi = mid
            else:
                lo = mid + 1
        return lo
