"""Exact and near-duplicate removal, keeping the first copy in the (sorted) input order.

Exact: SHA-256 of the code after `ast.unparse`, so copies that differ only in comments, blank lines or
layout count as the same. Near: MinHash over 5-grams of the tokens of the unparsed code (words
and single punctuation characters) with datasketch's MinHashLSH, at Jaccard >= `threshold`
(0.85 by default, The Stack's near-dedup setting); a candidate is dropped when the LSH
returns any kept item, as the BigCode pipeline does.
"""

from __future__ import annotations

import ast
import hashlib
import re
import warnings

from datasketch import MinHash, MinHashLSH

TOKEN = re.compile(r"\w+|[^\w\s]")


def _normal_form(code: str) -> str:
    """ast.unparse of the code (comments and layout gone), or the code itself if it won't parse."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.unparse(ast.parse(code))
        except (SyntaxError, ValueError, RecursionError):
            return code


def shingles(text: str, n: int = 5) -> set[bytes]:
    tokens = TOKEN.findall(text)
    if len(tokens) < n:
        return {" ".join(tokens).encode()}
    return {" ".join(tokens[i : i + n]).encode() for i in range(len(tokens) - n + 1)}


class Deduplicator:
    """Feed items in order; `check` says why an item repeats an earlier one, or None (kept)."""

    def __init__(self, threshold: float = 0.85, num_perm: int = 128, ngram: int = 5, seed: int = 1) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        self.ngram = ngram
        self.seed = seed
        self.exact: set[bytes] = set()
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.kept = 0

    def check(self, code: str) -> str | None:
        normal = _normal_form(code)
        digest = hashlib.sha256(normal.encode("utf-8", errors="surrogatepass")).digest()
        if digest in self.exact:
            return "exact duplicate"
        self.exact.add(digest)
        mh = MinHash(num_perm=self.num_perm, seed=self.seed)
        mh.update_batch(shingles(normal, self.ngram))
        if self.lsh.query(mh):
            return "near duplicate"
        self.lsh.insert(str(self.kept), mh)
        self.kept += 1
        return None
