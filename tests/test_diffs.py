import difflib
import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq.diffs import (
    DIFF_TOKEN,
    END_OF_EDITS,
    RULES,
    EditError,
    apply_edits,
    insertion_diff,
    lintseq_completion,
    resolve,
)

HUNK = re.compile(r"^@@ -\d+,0 \+\d+(,\d+)? @@$")


def is_insertion_only(edit: str) -> bool:
    rows = edit.split("\n")
    return all(HUNK.match(r) or r.startswith("+") for r in rows) and HUNK.match(rows[0]) is not None


lines = st.lists(st.sampled_from(["", "a", "b", "    return x", "+x", "-y", "@@ x"]), max_size=25)


@given(lines, st.data())
@settings(max_examples=300, deadline=None)
def test_insertion_diff_round_trip(new, data):
    keep_mask = data.draw(st.lists(st.booleans(), min_size=len(new), max_size=len(new)))
    old = [line for line, keep in zip(new, keep_mask) if keep]
    inserted = [not keep for keep in keep_mask]
    edit = insertion_diff(old, new, inserted)
    if old == new:
        assert edit == ""
        return
    assert is_insertion_only(edit)
    base = [insertion_diff([], old)] if old else []
    assert apply_edits(base) == "".join(x + "\n" for x in old)
    assert apply_edits(base + [edit]) == "".join(x + "\n" for x in new)


def test_matches_difflib_when_difflib_is_insertion_only():
    old = ["a", "c"]
    new = ["a", "b", "c", "d", "e"]
    expected = "\n".join(list(difflib.unified_diff(old, new, n=0, lineterm=""))[2:])
    assert insertion_diff(old, new) == expected == "@@ -1,0 +2 @@\n+b\n@@ -2,0 +4,2 @@\n+d\n+e"


def test_falls_back_when_difflib_replaces():
    # difflib aligns the long run "b b" first and then sees a deletion of "a".
    new = ["b", "b", "a", "x", "b", "y", "b"]
    inserted = [True, True, False, True, False, True, False]
    old = [x for x, ins in zip(new, inserted) if not ins]
    ops = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    assert any(tag not in ("equal", "insert") for tag, *_ in ops)
    edit = insertion_diff(old, new, inserted)
    assert is_insertion_only(edit)
    base = f"@@ -0,0 +1,{len(old)} @@\n" + "\n".join("+" + x for x in old)
    assert apply_edits([base, edit]) == "".join(x + "\n" for x in new)


def test_resolve_model_text():
    text = (
        "Write f\n"
        + DIFF_TOKEN
        + "@@ -0,0 +1,2 @@\n+def f():\n+    return 1\n"
        + DIFF_TOKEN
        + "@@ -1,0 +2 @@\n+    ++x\n"
        + DIFF_TOKEN
        + "\n"
        + DIFF_TOKEN
    )
    r = resolve(text)
    assert r.program == "def f():\n    ++x\n    return 1\n"
    assert r.clean and r.edits == 2


def test_resolve_strips_exactly_one_plus_and_keeps_minus_code():
    for rule in RULES:
        r = resolve(DIFF_TOKEN + "@@ -0,0 +1,2 @@\n+-1\n++1", rule)
        assert r.program == "-1\n+1\n", rule


STRAY = (
    DIFF_TOKEN + "@@ -0,0 +1 @@\n+a = 1\n" + DIFF_TOKEN + "@@ -5,0 +9 @@\n+b\n" + DIFF_TOKEN + "@@ -1,0 +2 @@\n+c = 2\n"
)


def test_strict_reading_skips_and_records():
    r = resolve(STRAY, "strict")
    assert r.program == "a = 1\nc = 2\n"
    assert not r.clean and "outside" in r.skipped[0]
    with pytest.raises(EditError):
        resolve(STRAY, "strict", raise_errors=True)


def test_paper_rule_appends_past_the_end_and_inserts_every_row():
    """The authors' rule: a position past the end appends; blank rows are lines too; nothing is
    skipped, but the rows the diff format would reject are recorded."""
    r = resolve(STRAY)
    assert r.program == "a = 1\nc = 2\n\nb\n"  # c's trailing blank row is a line too
    assert r.hunks == 3 and not r.skipped and not r.clean
    assert r.recounted == ["hunk position 9 outside a 1-line program"]


def test_strict_reading_tolerates_markdown_fences():
    text = "```\n" + DIFF_TOKEN + "@@ -0,0 +1 @@\n+x = 1\n```\n"
    assert resolve(text, "strict").program == "x = 1\n"


def test_paper_rule_cuts_fences_as_the_authors_evaluation_does():
    """After the first ```python, before the next ```: a stray closing fence row keeps the code above it."""
    fenced = "```python\n@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n```"
    assert resolve(fenced).program.strip() == "x = 1\ny = 2"
    stray = "@@ -0,0 +1,3 @@\n+x = 1\n+```\n+y = 2"
    assert resolve(stray).program == "x = 1\n"


def test_apply_edits_rejects_deletions():
    with pytest.raises(EditError):
        apply_edits(["@@ -1 +0,0 @@\n-x"])


def test_resolve_output_without_edits_is_not_clean():
    for rule in RULES:
        r = resolve("def f():\n    return 1\n", rule)
        assert r.program == "" and not r.clean and r.skipped == ["no edits in the output"], rule
        assert not resolve("", rule).clean and not resolve("  \n", rule).clean
    empty = resolve("\n" + DIFF_TOKEN + "\n" + DIFF_TOKEN, "strict")
    assert empty.program == "" and empty.clean


def test_strict_reading_stops_at_the_end_of_edits_marker_and_the_paper_rule_does_not():
    """A model that writes the marker but no EOS runs on into another answer: the strict reading
    stops there; the authors' rule applies it (their sampling stopped only at EOS)."""
    done = "@@ -0,0 +1,2 @@\n+def add(a, b):\n+    return a + b" + END_OF_EDITS
    more = "@@ -0,0 +1 @@\n+import os\n" + DIFF_TOKEN + "@@ -3,0 +4 @@\n+x = 1"
    r = resolve(done + more, "strict")
    assert r.program == "def add(a, b):\n    return a + b\n" and r.clean and r.edits == 1
    assert resolve(done.replace("\n", "\r\n"), "strict").program == r.program  # CRLF output, LF program
    paper = resolve(done + more)
    assert paper.program == "import os\ndef add(a, b):\n    return a + b\nx = 1\n"
    assert paper.edits == 3 and "an edit after the end-of-edits marker" in paper.recounted


def test_paper_rule_reads_only_the_new_side_start():
    # what the 12-step SmolLM2 LintSeq model wrote most often: a header that says 5 lines over 4
    text = "@@ -0,0 +1,5 @@\n+def f(x):\n+    y = x\n+    return y\n+\n" + DIFF_TOKEN + "@@ -3,0 +4 @@\n+# end\n"
    strict = resolve(text, "strict")
    assert strict.program == "" and "says 5 lines, has 4" in strict.skipped[0]
    assert "outside" in strict.skipped[1]  # position 4 of an empty program
    recount = resolve(text, "recount")
    assert recount.program == "def f(x):\n    y = x\n    return y\n# end\n\n"
    assert not recount.skipped and recount.recounted == ["hunk says 5 lines, has 4: @@ -0,0 +1,5 @@"]
    paper = resolve(text)
    assert paper.program == "def f(x):\n    y = x\n    return y\n# end\n\n\n"  # its blank rows are lines
    assert not paper.skipped and paper.recounted == recount.recounted
    with pytest.raises(EditError):
        resolve(text, "strict", raise_errors=True)


def test_paper_rule_skips_only_what_does_not_parse():
    text = "@@ -0,0 +1 @@\n+a = 1\n<|diff|>@@ junk @@\n+b = 2\n<|diff|>@@ -1,0 +2 @@\n+s = '@@'\n<|diff|>@@ -1,0 +x2 @@\n+c"
    r = resolve(text)
    assert r.program == "a = 1\n"
    assert len(r.skipped) == 3 and r.hunks == 1


def test_paper_rule_cuts_the_eos_string_not_a_character_set():
    """The authors' rstrip("<|endoftext|>") also eats trailing letters of the code ("return x" -> "return ");
    the exact string is cut instead."""
    r = resolve("@@ -0,0 +1,2 @@\n+def f(x):\n+    return x<|endoftext|>")
    assert r.program == "def f(x):\n    return x\n"


@given(lines, st.data())
@settings(max_examples=200, deadline=None)
def test_every_rule_agrees_on_well_formed_edits(new, data):
    keep_mask = data.draw(st.lists(st.booleans(), min_size=len(new), max_size=len(new)))
    old = [line for line, keep in zip(new, keep_mask) if keep]
    edits = [e for e in (insertion_diff([], old), insertion_diff(old, new, [not k for k in keep_mask])) if e]
    text = lintseq_completion(edits)
    got = {rule: resolve(text, rule) for rule in RULES}
    program = "".join(x + "\n" for x in new)
    assert got["strict"].clean and got["recount"] == replace(got["strict"], rule="recount")
    assert got["strict"].program == program
    # the authors' rule cannot read code holding '@@' (a header split) or a fence (cut away)
    if not any("@@" in line or "```" in line for line in new):
        assert got["paper"].clean and got["paper"].program == program
