"""Benchmark decontamination: drop rows that share a word 10-gram with a benchmark problem.

The benchmark side is every HumanEval problem (the original prompt with its signature and
docstring, and the canonical solution), MBPP's problems with ids 1-600 (the
prompt, test and validation splits, original and sanitized wording, with their reference code)
and MBPP+'s 378 tasks (108 of which come from MBPP's training split) with their solutions;
the fixed phrasing the evaluation adds around problems (HumanEvalPack's "Write a Python function
... to solve the following problem", MBPP's signature line) is left out, since mined
instructions use the same phrasing. A mined row is checked on its docstring and response.
The rest of MBPP's training split (ids 601-974) is left out on purpose: it is legitimate
instruction data for the LintSeq experiment and may be mixed with mined rows.

Text is lower-cased and split into words (`\\w+`). A row is contaminated when any run of
N = 10 consecutive words in it also occurs in a benchmark text and carries content: at least
three distinct words that are not Python keywords/builtins, English function words or numbers
(without that rule, counting sequences and loop headers matched most of CPython's test suite).
Ten words is the usual size for n-gram overlap checks: it catches a copied docstring sentence
or a copied run of solution lines, while a generic statement such as `for i in range(len(x))`
is 7 words. StarCoder's pipeline matched benchmark docstrings and solutions as exact
substrings; 10-gram overlap catches any such copy of 10 words or more.

Most solution code carries too few content words for that rule (a copied loop over `s[i] == ch`
has none), so solutions get a second check: the body of every HumanEval canonical solution and
of every function in an MBPP ids 1-600 solution, as words, is searched for in each checked text;
a body of at least MIN_SOLUTION_WORDS = 8 words that occurs whole (as a run of words) marks the
text as a copy, whatever its names, docstring, comments or layout. It is found through the
body's first 8 words, looked up in a dict at each position of the text.

Measured on the shipped data (before the solution check): 161 of HumanEval's 164 prompt+solution texts and 589 of MBPP's
600 problems with ids 1-600 (text or code) match the index (the rest are under 10 words or only
generic); 74 of the 374 MBPP training problems share a 10-gram with ids 1-600 (MBPP repeats
itself across splits), and no file of CPython 3.11's standard library does.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import warnings

WORD = re.compile(r"\w+")
DEFAULT_N = 10
MBPP_SPLITS = ("prompt", "test", "validation")  # ids 1-600; "train" (601-974) stays usable


# Words that say nothing about which problem a text is: Python keywords and builtins, English
# function words and number words. A benchmark n-gram needs MIN_CONTENT distinct other words, so
# `0 1 2 3 4 5 6 7 8 9`, `for i in range n for j in range n` or a `{'one': 1, 'two': 2, ...}`
# table (all in HumanEval and in many a test suite) are not taken as evidence of a copy.
STOPWORDS = frozenset(
    {w.lower() for w in [*keyword.kwlist, *dir(builtins)]}
    | set(
        [
            "the",
            "and",
            "for",
            "with",
            "from",
            "that",
            "this",
            "are",
            "was",
            "were",
            "but",
            "not",
            "all",
            "any",
            "can",
            "has",
            "have",
            "had",
            "its",
            "into",
            "than",
            "then",
            "there",
            "their",
            "them",
            "they",
            "you",
            "your",
            "our",
            "out",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "zero",
            "self",
            "cls",
            "args",
            "kwargs",
        ]
    )
)
MIN_CONTENT = 3
MIN_SOLUTION_WORDS = 8


def _informative(gram: list[str]) -> bool:
    content = {w for w in gram if len(w) >= 3 and not w.isdigit() and w not in STOPWORDS and not w.startswith("__")}
    return len(content) >= MIN_CONTENT


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


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
    for p in load_benchmark("mbpp+"):
        texts["mbpp"] += [problem_text(p.prompt), p.canonical_solution]
    return texts


def solution_bodies(code: str) -> list[str]:
    """The bodies of the functions defined in `code` (their lines after the `def` header), or,
    when it does not parse, everything after its first `def` line."""
    lines = code.splitlines(keepends=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError):
        first = next((i for i, line in enumerate(lines) if line.lstrip().startswith("def ")), None)
        return ["".join(lines[first + 1 :])] if first is not None else [code]
    bodies = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bodies.append("".join(lines[node.body[0].lineno - 1 : node.end_lineno]))
    return bodies


def benchmark_solutions() -> dict[str, list[str]]:
    """{benchmark: solution bodies} whose verbatim copies a mined row must not contain."""
    from lintseq.evaluation.problems import load_benchmark, load_mbpp

    found: dict[str, list[str]] = {"humaneval": [], "mbpp": []}
    for p in load_benchmark("humaneval"):
        found["humaneval"].append(p.canonical_solution[len(p.code_prompt) :])  # the body only
    for split in MBPP_SPLITS:
        for sanitized in (False, True):
            for p in load_mbpp(split, sanitized=sanitized):
                found["mbpp"] += solution_bodies(p.canonical_solution)
    for p in load_benchmark("mbpp+"):
        found["mbpp"] += solution_bodies(p.canonical_solution)
    return found


class Decontaminator:
    """`check(text)` names the benchmarks a text shares an n-gram with, or holds a solution body
    of (empty: clean). With `texts` given, only `solutions` given are searched for (none by
    default); with neither, the shipped benchmarks supply both."""

    def __init__(
        self,
        texts: dict[str, list[str]] | None = None,
        n: int = DEFAULT_N,
        solutions: dict[str, list[str]] | None = None,
    ) -> None:
        if n < 1:
            raise ValueError(f"n-gram size must be >= 1, got {n}")
        self.n = n
        self.index: dict[str, set[str]] = {}
        for name, items in (benchmark_texts() if texts is None else texts).items():
            for text in items:
                tokens = words(text)
                for i in range(len(tokens) - n + 1):
                    if _informative(tokens[i : i + n]):
                        self.index.setdefault(" ".join(tokens[i : i + n]), set()).add(name)
        if solutions is None:
            solutions = benchmark_solutions() if texts is None else {}
        # first MIN_SOLUTION_WORDS words of a body -> {(the body's words, benchmark)}
        self.anchors: dict[str, set[tuple[tuple[str, ...], str]]] = {}
        for name, bodies in solutions.items():
            for body in bodies:
                body_words = tuple(words(body))
                if len(body_words) >= MIN_SOLUTION_WORDS:
                    self.anchors.setdefault(" ".join(body_words[:MIN_SOLUTION_WORDS]), set()).add((body_words, name))
        self.benchmarks = sorted(
            {b for names in self.index.values() for b in names}
            | {b for entries in self.anchors.values() for _, b in entries}
        )

    def check(self, *texts: str) -> list[str]:
        hits: set[str] = set()
        for text in texts:
            tokens = words(text)
            for i in range(len(tokens) - self.n + 1):
                found = self.index.get(" ".join(tokens[i : i + self.n]))
                if found:
                    hits |= found
            if self.anchors:
                for i in range(len(tokens) - MIN_SOLUTION_WORDS + 1):
                    entries = self.anchors.get(" ".join(tokens[i : i + MIN_SOLUTION_WORDS]))
                    for body, name in entries or ():
                        if name not in hits and tuple(tokens[i : i + len(body)]) == body:
                            hits.add(name)
            if len(hits) == len(self.benchmarks):
                return self.benchmarks
        return sorted(hits)
