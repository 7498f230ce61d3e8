"""The hf backend's per-token work, made cheap on a CPU: a KV cache with room reserved, and sampling.

Measured on SmolLM2-135M at batch 64 on this project's 2-core box (benchmarks/cpu_limits.py):
transformers' `DynamicCache` copies every layer's whole cache to append one token
(`torch.cat`), about as long as the model's matrix products; `TopPLogitsWarper` sorts the whole
vocabulary (49,152 entries) of every row, and `torch.multinomial` over the vocabulary is slower
than a forward pass's attention. `RoomyLayer` writes each token into space set aside at prefill
(rows that share a prompt get their copies of its prefill there directly); `next_tokens` draws
from the same distribution as temperature, then top-p, then min-p (the order `generate` applies
them) by drawing from the whole distribution and redrawing a token the filters remove (a
rejection sampler: one pass over the row per try). Sorting each row's candidates, the first way,
cost 7% of a sampling run at temperature 1 / top-p 0.95 on the base model, most of it in
full-vocabulary sorts of rows whose nucleus held more than 256 tokens; it is kept for rows still
unlucky after a few tries.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer

CANDIDATES = 256  # most likely tokens looked at before a row falls back to sorting its vocabulary
TRIES = 4  # draws per row before `next_tokens` filters its candidates instead


class RoomyLayer(DynamicLayer):
    """A `DynamicLayer` that reserves `room` positions past the prompt, so appending a token is one
    write instead of a copy of the layer's cache; `keys`/`values` are views of the filled part."""

    _k: torch.Tensor
    _v: torch.Tensor

    def __init__(self, room: int, copies=None) -> None:
        super().__init__()
        self.room = room
        self.copies = copies  # the prompt each row continues: prefill writes straight into the rows
        self.length = 0

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.device = key_states.device
            self.is_initialized = True
            if self.copies is None:
                self._allocate(key_states, value_states)
                return self.keys, self.values
            # the prefill attends over its own rows; the cache keeps each row's copy of its prompt
            self._allocate(key_states[self.copies], value_states[self.copies])
            return key_states, value_states
        end = self.length + key_states.shape[2]
        if end > self._k.shape[2]:  # more tokens than reserved: grow (not on the sampler's path)
            more = end - self._k.shape[2] + self.room
            self._k = torch.cat([self._k, self._k.new_empty((*self._k.shape[:2], more, self._k.shape[3]))], 2)
            self._v = torch.cat([self._v, self._v.new_empty((*self._v.shape[:2], more, self._v.shape[3]))], 2)
        self._k[:, :, self.length : end] = key_states
        self._v[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self._k[:, :, :end], self._v[:, :, :end]
        return self.keys, self.values

    def _allocate(self, key_states, value_states) -> None:
        """Room for `self.room` more tokens, the prompt's keys and values written first."""
        b, h, n, d = key_states.shape
        self._k = key_states.new_empty((b, h, n + self.room, d))
        self._v = value_states.new_empty((b, h, n + self.room, d))
        self._k[:, :, :n], self._v[:, :, :n] = key_states, value_states
        self.length = n
        self.keys, self.values = self._k[:, :, :n], self._v[:, :, :n]

    def batch_select_indices(self, indices) -> None:
        if self.is_initialized:
            self._k, self._v = self._k[indices], self._v[indices]
            self.keys, self.values = self._k[:, :, : self.length], self._v[:, :, : self.length]


def roomy_cache(n_layers: int, room: int, copies=None) -> Cache:
    """A cache of `n_layers` `RoomyLayer`s, each with room for `room` tokens past the prompt;
    with `copies`, row i of the cache holds prompt `copies[i]` of the prefill."""
    return Cache(layers=[RoomyLayer(room, copies) for _ in range(n_layers)])


def filtered_candidates(scores, top_p: float, min_p: float, k: int = CANDIDATES):
    """(ids, weights): per row, candidate token ids and their unnormalised probabilities, zero
    where top-p (keep the most likely tokens until their mass reaches `top_p`) or min-p (keep
    tokens at least `min_p` times as likely as the first) removes them. `scores` are logits
    after temperature. Rows whose kept set reaches the k-th candidate are redone over the whole
    vocabulary, so the result is exact."""
    probs = torch.softmax(scores, -1)
    k = min(k, scores.shape[-1])
    weights, ids = probs.topk(k, dim=-1)
    keep = _kept(weights, top_p, min_p)
    wide = keep[:, -1].nonzero().flatten()
    if k < scores.shape[-1] and len(wide):  # the nucleus may reach past the candidates: sort those rows
        full_w, full_ids = probs[wide].sort(dim=-1, descending=True)
        full_keep = _kept(full_w, top_p, min_p)
        width = int(full_keep.sum(-1).max())
        pad = max(0, width - k)
        if pad:
            weights = torch.cat([weights, weights.new_zeros((weights.shape[0], pad))], 1)
            ids = torch.cat([ids, ids.new_zeros((ids.shape[0], pad))], 1)
            keep = torch.cat([keep, keep.new_zeros((keep.shape[0], pad))], 1)
        n = k + pad
        weights[wide], ids[wide], keep[wide] = full_w[:, :n], full_ids[:, :n], full_keep[:, :n]
    return ids, weights * keep


def _kept(sorted_probs, top_p: float, min_p: float):
    """Which of the descending `sorted_probs` survive top-p then min-p (a prefix of each row)."""
    keep = (sorted_probs.cumsum(-1) - sorted_probs) < top_p  # mass before this token is short of top_p
    if min_p > 0:
        keep &= sorted_probs >= min_p * sorted_probs[:, :1]
    keep[:, 0] = True
    return keep


def next_tokens(logits, temperature: float, top_p: float, min_p: float):
    """One token per row: argmax at temperature 0, else a draw from the filtered distribution."""
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, -1)
    if top_p >= 1.0 and min_p <= 0:
        return _draw(probs)
    picked, todo = _draw_kept(probs, top_p, min_p)
    if len(todo):  # rows unlucky every try (or with little mass kept): draw from their candidates
        ids, weights = filtered_candidates(probs[todo].log(), top_p, min_p)
        picked[todo] = ids.gather(1, torch.multinomial(weights, 1)).squeeze(1)
    return picked


def _draw(probs):
    """One token per row from `probs`: a cumulative sum and a binary search (cheaper than
    `torch.multinomial` over a whole vocabulary)."""
    cdf = probs.cumsum(-1)
    draw = torch.rand((cdf.shape[0], 1), device=cdf.device, dtype=cdf.dtype) * cdf[:, -1:]
    return torch.searchsorted(cdf, draw, right=True).clamp(max=cdf.shape[-1] - 1).squeeze(1)


def _draw_kept(probs, top_p: float, min_p: float, tries: int = TRIES):
    """(tokens, rows left): draws from the whole distribution, each redrawn until top-p and min-p
    keep it. A kept draw is distributed as the filtered distribution (rejection sampling), and
    checking one token is a pass over the row where sorting a wide nucleus is many: top-p keeps
    at least `top_p` of the mass, so a row rarely needs a second try."""
    picked = torch.zeros(probs.shape[0], dtype=torch.long, device=probs.device)
    todo = torch.arange(probs.shape[0], device=probs.device)
    for _ in range(tries):
        rows = probs[todo]
        token = _draw(rows)
        ok = _is_kept(rows, rows.gather(1, token[:, None]), top_p, min_p)
        picked[todo[ok]] = token[ok]
        todo = todo[~ok]
        if not len(todo):
            break
    return picked, todo


def _is_kept(probs, p, top_p: float, min_p: float):
    """Whether top-p then min-p keep the token of probability `p` (one per row): the mass of the
    more likely tokens is short of `top_p` (as `_kept` on a sorted row), and `p` is at least
    `min_p` times the largest."""
    ok = (probs * (probs > p)).sum(-1) < top_p
    if min_p > 0:
        ok &= p[:, 0] >= min_p * probs.amax(-1)
    return ok
