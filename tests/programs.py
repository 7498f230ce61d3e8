"""A hypothesis strategy for small, syntactically valid Python programs.

Names come from a tiny pool so that deleting a line often breaks another one (undefined
names, use before assignment, emptied blocks): the cases the linter has to catch.
"""

from __future__ import annotations

from hypothesis import strategies as st

NAMES = ["a", "b", "x", "y"]


def _simple(in_function: bool, in_loop: bool) -> st.SearchStrategy[str]:
    options = [
        st.builds(lambda n, m: f"{n} = {m} + 1", st.sampled_from(NAMES), st.sampled_from(NAMES + ["1"])),
        st.builds(lambda n: f"{n} = [1,\n{{ind}}     2]", st.sampled_from(NAMES)),
        st.builds(lambda n: f"print({n})", st.sampled_from(NAMES)),
        st.just("pass"),
        st.just("import os"),
        st.builds(lambda n: f"{n} += 1  # bump", st.sampled_from(NAMES)),
        st.just('"""A docstring\n{ind}over two lines."""'),
    ]
    if in_function:
        options.append(st.builds(lambda n: f"return {n}", st.sampled_from(NAMES)))
    if in_loop:
        options.append(st.sampled_from(["break", "continue"]))
    return st.one_of(options)


@st.composite
def block(draw, depth: int, in_function: bool, in_loop: bool, in_class: bool = False) -> list[tuple[int, str]]:
    """(depth, statement) pairs of a non-empty suite."""
    out: list[tuple[int, str]] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["simple", "simple", "if", "for", "def", "try", "class", "blank"]))
        if depth >= 3 or kind == "simple":
            out.append((depth, draw(_simple(in_function, in_loop))))
        elif kind == "blank":
            out.append((depth, draw(st.sampled_from(["", "# a comment"]))))
            out.append((depth, draw(_simple(in_function, in_loop))))
        elif kind == "if":
            n = draw(st.sampled_from(NAMES))
            out.append((depth, f"if {n}:"))
            out += draw(block(depth + 1, in_function, in_loop))
            if draw(st.booleans()):
                out.append((depth, "else:"))
                out += draw(block(depth + 1, in_function, in_loop))
        elif kind == "for":
            n = draw(st.sampled_from(NAMES))
            out.append((depth, f"for {n} in range(3):"))
            out += draw(block(depth + 1, in_function, True))
        elif kind == "def":
            params = draw(st.sampled_from(["", "a", "a, b"]))
            out.append((depth, f"def f{len(out)}({'self, ' if in_class else ''}{params}):"))
            out += draw(block(depth + 1, True, False))
        elif kind == "try":
            out.append((depth, "try:"))
            out += draw(block(depth + 1, in_function, in_loop))
            out.append((depth, "except ValueError as e:"))
            out += draw(block(depth + 1, in_function, in_loop))
        elif kind == "class":
            out.append((depth, f"class C{len(out)}:"))
            out += draw(block(depth + 1, False, False, True))
    return out


@st.composite
def programs(draw) -> str:
    indent = draw(st.sampled_from(["    ", "  ", "\t"]))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    lines = []
    for depth, stmt in draw(block(0, False, False)):
        ind = indent * depth
        text = stmt.replace("{ind}", ind)
        lines.append(ind + text if text else text)
    body = newline.join(lines)
    return body + (newline if draw(st.booleans()) else "")
