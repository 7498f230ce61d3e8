"""Benchmark decontamination: drop rows that share a word 10-gram with a benchmark problem.

The benchmark side is every HumanEval problem (the original prompt with its signature and
docstring, and the canonical solution) and MBPP's problems with ids 1-600 (the
prompt, test and validation splits, original and sanitized wording, with their reference code);
the fixed phrasing the evaluation adds around problems (HumanEvalPack's "Write a Python function
... to solve the following problem", MBPP's signature line) is left out, since mined
instructions use the same phrasing. A mined row is checked on its docstring and response.
MBPP's training split (ids 601-974) is left out on purpose: it is legitimate instruction data
for the LintSeq experiment and may be mixed with mined rows.

Text is lower-cased and split into words (`\\w+`), and a row is contaminated when any run of
N = 10 consecutive words in it also occurs in a benchmark text. Ten words is the usual choice
for n-gram overlap checks (it catches a copied docstring sentence or a copied solution line run,
while a generic statement such as `for i in range(len(x))` is only 7 words); StarCoder's own
pipeline matched benchmark docstrings and solutions as exact substrings, which 10-gram overlap
subsumes for any copy of 10 words or more.
"""

from __future__ import annotations

import re
from typing import Iterable

WORD = re.compile(r"\w+")
DEFAULT_N = 10
MBPP_SPLITS = ("prompt", "test", "validation")  # ids 1-600; "train" (601-974) stays usable


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def ngrams(text: str, n: int) -> Iterable[str]:
    tokens = words(text)
    return (" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def problem_text(prompt: str) -> str:
    """An MBPP instruction without the signature line that `problems` appends to every one."""
    return prompt.split("\nYour code should satisfy this signature")[0]


def benchmark_texts() -> dict[str, list[str]]:
    """{benchmark: texts} of everything a mined row must not overlap."""
    from lintseq.evaluation.problems import load_benchmark, load_mbpp

    texts: dict[str, list[str]] = {"humaneval": [], "mbpp": []}
    for p in load_benchmark("humaneval"):
        texts["humaneval"] += [p.code_prompt, p.canonical_solution]  # signature+docstring, solution
    for split in MBPP_SPLITS:
        for sanitized in (False, True):
            for p in load_mbpp(split, sanitized=sanitized):
                texts["mbpp"] += [problem_text(p.prompt), p.canonical_solution]
    return texts


class Decontaminator:
    """`check(text)` names the benchmarks a text shares an n-gram with (empty: clean)."""

    def __init__(self, texts: dict[str, list[str]] | None = None, n: int = DEFAULT_N) -> None:
        if n < 1:
            raise ValueError(f"n-gram size must be >= 1, got {n}")
        self.n = n
        self.index: dict[str, set[str]] = {}
        for name, items in (benchmark_texts() if texts is None else texts).items():
            for text in items:
                for gram in ngrams(text, n):
                    self.index.setdefault(gram, set()).add(name)
        self.benchmarks = sorted({b for names in self.index.values() for b in names})

    def check(self, *texts: str) -> list[str]:
        hits: set[str] = set()
        for text in texts:
            for gram in ngrams(text, self.n):
                found = self.index.get(gram)
                if found:
                    hits |= found
                    if len(hits) == len(self.benchmarks):
                        return self.benchmarks
        return sorted(hits)
