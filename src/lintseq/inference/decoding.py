"""The hf backend's per-token work, made cheap on a CPU: a KV cache with room reserved, and sampling.

Measured on SmolLM2-135M at batch 64 on this project's 2-core box (benchmarks/cpu_limits.py):
transformers' `DynamicCache` copies every layer's whole cache to append one token
(`torch.cat`), about as long as the model's matrix products; `TopPLogitsWarper` sorts the whole
vocabulary (49,152 entries) of every row, and `torch.multinomial` over the vocabulary is slower
than a forward pass's attention. `RoomyLayer` writes each token into space set aside at prefill;
`next_tokens` draws from the same distribution as temperature, then top-p, then min-p (the order
`generate` applies them) from the few hundred most likely tokens, falling back to a full sort for
a row whose nucleus is wider.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer

CANDIDATES = 256  # most likely tokens looked at before a row falls back to sorting its vocabulary


class RoomyLayer(DynamicLayer):
    """A `DynamicLayer` that reserves `room` positions past the prompt, so appending a token is one
    write instead of a copy of the layer's cache; `keys`/`values` are views of the filled part."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room
        self.length = 0

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.device = key_states.device
            self.is_initialized = True
            b, h, n, d = key_states.shape
            self._k = key_states.new_empty((b, h, n + self.room, d))
            self._v = value_states.new_empty((b, h, n + self.room, d))
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

    def batch_select_indices(self, indices) -> None:
        if self.is_initialized:
            self._k, self._v = self._k[indices], self._v[indices]
            self.keys, self.values = self._k[:, :, : self.length], self._v[:, :, : self.length]


def roomy_cache(n_layers: int, room: int) -> Cache:
    """A cache of `n_layers` `RoomyLayer`s, each with room for `room` tokens past the prompt."""
    return Cache(layers=[RoomyLayer(room) for _ in range(n_layers)])


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
    scores = logits.float() / temperature
    if top_p >= 1.0 and min_p <= 0:
        cdf = torch.softmax(scores, -1).cumsum(-1)
        draw = torch.rand((cdf.shape[0], 1), device=cdf.device, dtype=cdf.dtype) * cdf[:, -1:]
        return torch.searchsorted(cdf, draw, right=True).clamp(max=cdf.shape[-1] - 1).squeeze(1)
    ids, weights = filtered_candidates(scores, top_p, min_p)
    return ids.gather(1, torch.multinomial(weights, 1)).squeeze(1)
