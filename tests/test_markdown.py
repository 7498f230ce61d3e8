"""The one reader of code in Markdown (`lintseq.markdown`), used by generate, sample and evaluate."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq.evaluation.problems import Problem
from lintseq.evaluation.scoring import program_of as evaluate_program
from lintseq.inference.text import to_program as sample_program
from lintseq.markdown import NotPython, extract_code, has_fences, strip_fences

# lines that cannot open or close a fence: no backtick or tilde runs, no line breaks inside
LINE = st.text(st.characters(blacklist_characters="`~\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=30)
BODY = st.lists(LINE, min_size=1, max_size=6).map(lambda lines: "\n".join(lines) + "\n")
PROSE = st.lists(LINE, max_size=3).map(lambda lines: "".join(line + "\n" for line in lines))
TAG = st.sampled_from(["python", "py", "Python", "python3", "python3.11", "py3", ""])
FENCE = st.sampled_from(["```", "````", "~~~"])


def test_examples():
    assert strip_fences("def f():\n    return 1\n") == "def f():\n    return 1\n"
    text = "Here:\n```python\ndef f():\n    return 1\n```\nand\n```\nx = 2\n```\nbye"
    assert strip_fences(text) == "def f():\n    return 1\n\nx = 2\n"
    assert extract_code(text) == ("def f():\n    return 1\n\nx = 2\n", True)
    # cut off by the token limit: the code after the opening fence is kept
    assert strip_fences("Sure:\n```python\ndef f():\n    return") == "def f():\n    return\n"
    # a shell block beside Python is left out; alone, it is the code only for model output
    assert strip_fences("```bash\npip install x\n```\n```python\nx = 1\n```\n") == "x = 1\n"
    assert strip_fences("```text\nx = 1\n```\n") == "x = 1\n"
    with pytest.raises(NotPython, match="text"):
        extract_code("```text\nx = 1\n```\n")
    # a longer fence holds a shorter one; tildes close only tildes
    assert strip_fences("````python\nx = '''\n```\n'''\n````\n") == "x = '''\n```\n'''\n"
    assert strip_fences("~~~\na = 1\n```\n~~~\n") == "a = 1\n```\n"
    assert not has_fences("x = 1\n") and has_fences("  ```py\n")


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_characters="`~"), max_size=200))
def test_text_without_fences_is_unchanged(text):
    assert strip_fences(text) == text
    assert extract_code(text) == (text, False)


@settings(max_examples=200, deadline=None)
@given(PROSE, st.lists(st.tuples(FENCE, TAG, BODY), min_size=1, max_size=3), PROSE, st.booleans())
def test_blocks_come_back_in_order(before, blocks, after, close_last):
    """Prose around fenced Python blocks is dropped; the bodies come back in order, joined by a
    blank line; the last block may be unclosed (a sample cut off by the token limit)."""
    parts = [before]
    for i, (fence, tag, body) in enumerate(blocks):
        last = i == len(blocks) - 1
        parts.append(f"{fence}{tag}\n{body}" + ("" if last and not close_last else f"{fence}\nprose\n"))
    if close_last:
        parts.append(after)
    text = "".join(parts)
    want = "\n".join(body for _, _, body in blocks)
    assert strip_fences(text) == want
    assert extract_code(text) == (want, True)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_sample_and_evaluate_read_model_text_alike(text):
    """`sample` (baseline style) and `evaluate` (program samples) read any text as strip_fences does."""
    problem = Problem("t/1", "p", "t")
    assert sample_program("baseline", text)[0] == strip_fences(text)
    assert evaluate_program({"completion": text}, problem, "program")[0] == strip_fences(text)
    try:
        code, _ = extract_code(text)
    except NotPython:
        return
    assert code == strip_fences(text)
