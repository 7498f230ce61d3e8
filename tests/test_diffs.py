import difflib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq.diffs import DIFF_TOKEN, END_OF_EDITS, EditError, apply_edits, insertion_diff, resolve

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
    r = resolve(DIFF_TOKEN + "@@ -0,0 +1,2 @@\n+-1\n++1\n")
    assert r.program == "-1\n+1\n"


def test_resolve_lenient_skips_and_records():
    text = (
        DIFF_TOKEN
        + "@@ -0,0 +1 @@\n+a = 1\n"
        + DIFF_TOKEN
        + "@@ -5,0 +9 @@\n+b\n"
        + DIFF_TOKEN
        + "@@ -1,0 +2 @@\n+c = 2\n"
    )
    r = resolve(text)
    assert r.program == "a = 1\nc = 2\n"
    assert not r.clean and "outside" in r.skipped[0]
    with pytest.raises(EditError):
        resolve(text, strict=True)


def test_resolve_tolerates_markdown_fences():
    text = "```\n" + DIFF_TOKEN + "@@ -0,0 +1 @@\n+x = 1\n```\n"
    assert resolve(text).program == "x = 1\n"


def test_apply_edits_rejects_deletions():
    with pytest.raises(EditError):
        apply_edits(["@@ -1 +0,0 @@\n-x"])


def test_resolve_output_without_edits_is_not_clean():
    r = resolve("def f():\n    return 1\n")
    assert r.program == "" and not r.clean and r.skipped == ["no edits in the output"]
    empty = resolve("\n" + DIFF_TOKEN + "\n" + DIFF_TOKEN)
    assert empty.program == "" and empty.clean
    assert not resolve("").clean and not resolve("  \n").clean


def test_resolve_stops_at_the_end_of_edits_marker():
    """A model that writes the marker but no EOS runs on into another answer; that is not applied."""
    done = "@@ -0,0 +1,2 @@\n+def add(a, b):\n+    return a + b" + END_OF_EDITS
    more = (
        "Write a function sub(a, b).\n"
        + DIFF_TOKEN
        + "@@ -0,0 +1 @@\n+import os\n"
        + DIFF_TOKEN
        + "@@ -3,0 +4 @@\n+x = 1"
    )
    r = resolve(done + more)
    assert r.program == "def add(a, b):\n    return a + b\n" and r.clean and r.edits == 1
    assert resolve(done.replace("\n", "\r\n")).program == r.program  # CRLF output, LF program


def test_ignoring_hunk_counts_applies_a_miscounted_hunk_as_written():
    # what the 12-step SmolLM2 LintSeq model wrote most often: a header that says 5 lines over 4
    text = "@@ -0,0 +1,5 @@\n+def f(x):\n+    y = x\n+    return y\n+\n" + DIFF_TOKEN + "@@ -3,0 +4 @@\n+# end\n"
    default = resolve(text)
    assert default.program == "" and "says 5 lines, has 4" in default.skipped[0]
    assert "outside" in default.skipped[1]  # position 4 of an empty program
    loose = resolve(text, hunk_counts=False)
    assert loose.program == "def f(x):\n    y = x\n    return y\n# end\n\n"
    assert loose.clean and loose.recounted == ["hunk says 5 lines, has 4: @@ -0,0 +1,5 @@"]
    with pytest.raises(EditError):
        resolve(text, strict=True)


@given(lines, st.data())
@settings(max_examples=200, deadline=None)
def test_ignoring_hunk_counts_changes_nothing_in_well_formed_edits(new, data):
    keep_mask = data.draw(st.lists(st.booleans(), min_size=len(new), max_size=len(new)))
    old = [line for line, keep in zip(new, keep_mask) if keep]
    edits = [e for e in (insertion_diff([], old), insertion_diff(old, new, [not k for k in keep_mask])) if e]
    text = "".join(DIFF_TOKEN + e + "\n" for e in edits)
    strict, loose = resolve(text), resolve(text, hunk_counts=False)
    assert loose == strict and not loose.recounted
