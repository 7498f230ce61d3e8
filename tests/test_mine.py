"""lintseq mine: extraction, provenance, decontamination, dedup, raw mode, CLI, generate round trip."""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq.cli import main
from lintseq.evaluation.problems import load_benchmark
from lintseq.mining import MineSettings, collect, mine
from lintseq.mining.decontaminate import Decontaminator, problem_text
from lintseq.mining.extract import extract
from lintseq.mining.provenance import license_of

LONG_BODY = """\
    total = 0
    seen = set()
    for index, item in enumerate(items):
        if item in seen:
            continue
        seen.add(item)
        if index % 2 == 0:
            total += item * weight
        else:
            total -= item // weight
    while total > limit:
        total -= limit
    return total, len(seen)
"""

ALPHA = '''\
import os
import json
from typing import Dict, List


def tally(items, weight, limit):
    """Fold the distinct items into a bounded weighted total."""
{body}

def dump_keys(mapping: Dict[str, int]) -> List[str]:
    """Serialise the sorted keys of a mapping as JSON strings."""
    keys = sorted(mapping)
    # comment survives
    return [json.dumps(k) for k in keys]


class Helper:
    def shout(self, text):
        """Upper-case text and add an exclamation mark."""
        loud = text.upper()
        loud = loud.strip()
        return loud + "!"

    def bound(self, x):
        """Uses its instance, so it needs the class."""
        y = self.scale * x
        y += 1
        return y

    @staticmethod
    def halve(value):
        """Halve a number, rounding toward zero."""
        half = value / 2
        half = int(half)
        return half
'''

# Same code as `tally` with other comments and layout: an exact duplicate after normalisation.
BETA = '''\
def tally(items, weight, limit):
    """Another docstring, same code."""
    total = 0  # start
    seen = set()

    for index, item in enumerate(items):
        if item in seen:
            continue
        seen.add(item)
        if index % 2 == 0:
            total += item * weight
        else:
            total -= item // weight
    while total > limit:
        total -= limit
    return total, len(seen)
'''

# One expression changed near the end: a near duplicate of `tally`.
GAMMA = '''\
def tally_again(items, weight, limit):
    """Fold distinct items, a near copy of tally."""
{body}'''.format(body=LONG_BODY.replace("return total, len(seen)", "return total, len(seen), 0"))

BROKEN = "def oops(:\n    '''Never parses.'''\n    return 1\n"

CLEAN = '''\
import re


def split_words(text):
    """Split text into lower-case words, dropping punctuation."""
    words = re.findall(r"[a-z']+", text.lower())
    return [w.strip("'") for w in words if w.strip("'")]
'''


def humaneval_plant() -> str:
    """HumanEval/0 as shipped: prompt (signature, docstring) plus canonical solution."""
    return load_benchmark("humaneval")[0].canonical_solution


def humaneval_code_only_plant() -> str:
    """HumanEval/0's solution under a new name and an unrelated docstring: caught by code alone."""
    problem = load_benchmark("humaneval")[0]
    body = problem.canonical_solution[len(problem.code_prompt) :]
    return f'def near_pairs(numbers, threshold):\n    """Look for a pair of values within reach."""\n{body}'


def mbpp_plant(split: str = "mbpp") -> tuple[str, str]:
    """An MBPP solution turned into a function whose docstring is the problem text."""
    problem = load_benchmark(split)[0]
    tree = ast.parse(problem.canonical_solution)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == problem.entry_point)
    text = problem_text(problem.prompt)
    fn.body.insert(0, ast.Expr(ast.Constant(text)))
    return ast.unparse(tree) + "\n", problem.entry_point


@pytest.fixture(scope="module")
def decon() -> Decontaminator:
    return Decontaminator()


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "alpha.py").write_text(ALPHA.format(body=LONG_BODY))
    (pkg / "beta.py").write_text(BETA)
    (pkg / "gamma.py").write_text(GAMMA)
    (pkg / "broken.py").write_text(BROKEN)
    (pkg / "clean.py").write_text(CLEAN)
    (pkg / "planted_he.py").write_text(humaneval_plant() + "\n\n" + humaneval_code_only_plant())
    mbpp_code, _ = mbpp_plant()
    (pkg / "planted_mbpp.py").write_text(mbpp_code)
    for skipped in ("__pycache__", ".hidden"):
        (pkg / skipped).mkdir()
        (pkg / skipped / "cached.py").write_text(CLEAN)
    (pkg / "tests").mkdir()
    (pkg / "tests" / "test_x.py").write_text(CLEAN.replace("split_words", "split_words_test"))
    return root


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_mine_tree_drops_contaminated_and_duplicates(tree: Path, tmp_path: Path, decon: Decontaminator) -> None:
    out = tmp_path / "mined.jsonl"
    files = collect([tree], skip_tests=True)
    names = [p.name for p in files]
    assert names == sorted(names) and "cached.py" not in names and "test_x.py" not in names
    summary = mine(files, out, MineSettings(), progress=False, decontaminator=decon)
    rows = read_rows(out)
    kept = {r["source"]["qualname"] for r in rows}
    assert kept == {"tally", "dump_keys", "Helper.shout", "Helper.halve", "split_words"}
    assert summary.files_scanned == 7 and summary.files_unparsable == 1
    assert summary.removed["exact duplicate"] == 1 and summary.removed["near duplicate"] == 1
    assert summary.removed["contaminated"] == 3
    assert dict(summary.contaminated) == {"humaneval": 2, "mbpp": 1}
    assert summary.removed["method needs its class"] == 1
    assert summary.kept == len(rows) == 5
    saved = json.loads((tmp_path / "mined.jsonl.summary.json").read_text())
    assert saved["kept"] == 5 and saved["contaminated"] == {"humaneval": 2, "mbpp": 1}
    # the dropped rows are named, so a false positive can be checked
    dropped = sorted((ex["source"]["qualname"], tuple(ex["benchmarks"])) for ex in saved["contaminated_examples"])
    assert len(dropped) == 3 and sorted(b for _, bs in dropped for b in bs) == ["humaneval", "humaneval", "mbpp"]
    assert not kept & {q for q, _ in dropped}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.part"))

    by_name = {r["source"]["qualname"]: r for r in rows}
    tally = by_name["tally"]
    assert tally["source"]["path"].endswith("pkg/alpha.py")  # the first copy in sorted order
    source_lines = (tree / "pkg" / "alpha.py").read_text().splitlines()
    for row in rows:
        src = row["source"]
        assert Path(src["path"]).is_absolute() and "distribution" not in src
        line = Path(src["path"]).read_text().splitlines()[src["lineno"] - 1]
        assert f"def {src['qualname'].split('.')[-1]}(" in line
        ast.parse(row["response"])
        assert row["instruction"].startswith("Write a Python function `")
    dump = by_name["dump_keys"]
    assert source_lines[by_name["dump_keys"]["source"]["lineno"] - 1].startswith("def dump_keys")
    assert dump["instruction"] == (
        "Write a Python function `dump_keys(mapping: Dict[str, int]) -> List[str]` to solve the "
        "following problem:\nSerialise the sorted keys of a mapping as JSON strings."
    )
    assert dump["response"].startswith("import json\nfrom typing import Dict, List\n\n\ndef dump_keys(")
    assert "import os" not in dump["response"] and "Serialise" not in dump["response"]
    assert "# comment survives" in dump["response"]
    assert by_name["Helper.shout"]["response"].startswith("def shout(text):\n    loud = text.upper()")
    assert by_name["Helper.halve"]["response"].startswith("def halve(value):\n")


def test_mbpp_train_split_is_not_contamination(tmp_path: Path, decon: Decontaminator) -> None:
    """Training ids 601-974 are instruction data for the experiment, not a benchmark, except
    the 108 that MBPP+ evaluates."""
    plus = {int(p.task_id.split("/")[1]) for p in load_benchmark("mbpp+")}
    train = [p for p in load_benchmark("mbpp:train") if int(p.task_id.split("/")[1]) not in plus]
    clean = next(p for p in train if not decon.check(p.prompt, p.canonical_solution))
    problems = {int(p.task_id.split("/")[1]): p for p in load_benchmark("mbpp:all")}
    flagged = {i: bool(decon.check(problem_text(p.prompt), p.canonical_solution)) for i, p in problems.items()}
    benchmark = [flagged[i] for i in range(1, 601)]
    in_plus = [flagged[i] for i in range(601, 975) if i in plus]
    training = [flagged[i] for i in range(601, 975) if i not in plus]
    assert len(in_plus) == 108 and sum(in_plus) / len(in_plus) > 0.8  # 90: the rest are too short or generic
    assert sum(benchmark) / len(benchmark) > 0.9  # the rest are shorter than 10 words
    assert sum(training) / len(training) < 0.3  # only where MBPP repeats itself across splits
    text = problem_text(clean.prompt)
    tree = ast.parse(clean.canonical_solution)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == clean.entry_point)
    fn.body.insert(0, ast.Expr(ast.Constant(text)))
    (tmp_path / "train.py").write_text(ast.unparse(tree) + "\n")
    out = tmp_path / "o.jsonl"
    summary = mine([tmp_path / "train.py"], out, MineSettings(min_lines=1), progress=False, decontaminator=decon)
    assert summary.removed["contaminated"] == 0 and summary.kept == 1


def test_workers_give_identical_output(tree: Path, tmp_path: Path, decon: Decontaminator) -> None:
    files = collect([tree])
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    s1 = mine(files, one, progress=False, decontaminator=decon)
    s2 = mine(files, two, progress=False, workers=2, decontaminator=decon)
    assert one.read_bytes() == two.read_bytes()
    assert s1.to_dict() | {"seconds": 0} == s2.to_dict() | {"seconds": 0}


def test_raw_mode_whole_files(tree: Path, tmp_path: Path, decon: Decontaminator) -> None:
    pkg = tree / "pkg"
    (pkg / "copy_of_clean.py").write_text(CLEAN.replace("\n\n\n", "\n\n# a copy\n\n"))
    out = tmp_path / "raw.jsonl"
    summary = mine(collect([tree], skip_tests=True), out, MineSettings(raw=True), progress=False, decontaminator=decon)
    rows = read_rows(out)
    names = [Path(r["source"]["path"]).name for r in rows]
    assert names == ["alpha.py", "beta.py", "clean.py", "gamma.py"]
    assert summary.removed["exact duplicate"] == 1  # clean.py vs copy_of_clean.py: first kept
    assert summary.contaminated == {"humaneval": 1, "mbpp": 1}
    assert summary.files_unparsable == 1 and summary.functions_found == 0
    for row in rows:
        assert row["text"] == Path(row["source"]["path"]).read_text()


def test_installed_distribution_provenance(tmp_path: Path) -> None:
    out = tmp_path / "click.jsonl"
    result = CliRunner().invoke(
        main, ["mine", "--package", "click", "--max-files", "4", "-o", str(out), "-q", "--min-lines", "1"]
    )
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert rows
    meta = md.metadata("click")
    for row in rows:
        src = row["source"]
        assert src["distribution"] == "click" and src["version"] == meta["Version"]
        assert src["license"] == license_of(meta) and src["license"]
        assert "/site-packages/click/" in src["path"]
    assert "kept" in result.output


def test_rows_go_through_generate(tree: Path, tmp_path: Path, decon: Decontaminator) -> None:
    from lintseq.engine.generate import Settings, generate

    mined = tmp_path / "mined.jsonl"
    mine(collect([tree]), mined, MineSettings(min_lines=1), progress=False, decontaminator=decon)
    out = tmp_path / "edits.jsonl"
    summary = generate(mined, out, Settings(), workers=1, progress=False)
    rows = read_rows(out)
    assert summary.rejects.total() == 0 and len(rows) == len(read_rows(mined))
    assert all(r["n_edits"] >= 1 and r["source"]["qualname"] for r in rows)


def test_method_rules() -> None:
    source = textwrap.dedent(
        '''
        import typing

        class A:
            def __len__(self):
                """Dunder: needs the class."""
                return 0

            @property
            def size(self):
                """A property."""
                return 1

            @classmethod
            def make(cls, n):
                """Never uses cls, so it stands alone."""
                n += 1
                return [n] * n

            def calls_super(self):
                """Uses super."""
                return super().calls_super()

        def outer():
            """Outer."""
            def inner():
                """Nested: left out."""
                return 1
            return inner

        def one_liner(): """Docstring shares a line."""; return 1

        @typing.overload
        def over(x: int) -> int:
            """An overload."""
        '''
    )
    functions, counts = extract(source)
    assert [f.qualname for f in functions] == ["A.make", "outer"]
    assert functions[0].response.startswith("def make(n):\n    n += 1")
    assert counts == {
        "found": 8,
        "method needs its class": 2,
        "overload, property or abstract method": 2,
        "nested function": 1,
        "docstring shares a line with code": 1,
    }


def test_interrupted_run_leaves_no_output(tree: Path, tmp_path: Path, decon: Decontaminator) -> None:
    class Interrupting(Decontaminator):
        def __init__(self) -> None:
            self.__dict__.update(decon.__dict__)
            self.calls = 0

        def check(self, *texts: str) -> list[str]:
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return super().check(*texts)

    out = tmp_path / "partial.jsonl"
    with pytest.raises(KeyboardInterrupt):
        mine(collect([tree]), out, progress=False, decontaminator=Interrupting())
    assert not out.exists() and not list(tmp_path.glob("partial*"))


def test_cli_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["mine", "-o", str(tmp_path / "x.jsonl")])
    assert r.exit_code == 2 and "nothing to mine" in r.output
    r = runner.invoke(main, ["mine", "--package", "no_such_package_xyz", "-o", str(tmp_path / "x.jsonl")])
    assert r.exit_code == 1 and "no_such_package_xyz" in r.output
    r = runner.invoke(main, ["mine", str(tmp_path / "missing"), "-o", str(tmp_path / "x.jsonl")])
    assert r.exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(main, ["mine", str(empty), "-o", str(tmp_path / "x.jsonl")])
    assert r.exit_code == 1 and "no Python files" in r.output
    assert not (tmp_path / "x.jsonl").exists()


DOC_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters='\\"\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029', exclude_categories=("Cs", "Cc")
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    doc=DOC_TEXT.filter(lambda t: t.strip()),
    body=st.lists(
        st.sampled_from(["x = 1", "y = [1,\n     2]", "# note", "", "s = '''a\nb'''", "x += len('é')"]), max_size=5
    ),
    indent=st.sampled_from(["", "    "]),
    static=st.booleans(),
)
def test_extracted_function_parses_without_its_docstring(doc: str, body: list[str], indent: str, static: bool) -> None:
    """Whatever the docstring and body, the response parses, keeps the body and drops the docstring."""
    lines = ["import os", ""]
    if indent:
        lines.append("class K:")
        if static:
            lines.append(indent + "@staticmethod")
    params = "a, b=os.sep" if not indent or static else "self, a, b=os.sep"
    lines.append(f"{indent}def f({params}):")
    lines.append(f'{indent}    """{doc}"""')
    for chunk in body:
        lines += [indent + "    " + part if part else "" for part in chunk.split("\n")]
    lines.append(indent + "    return a")
    source = "\n".join(lines) + "\n"
    functions, counts = extract(source)
    assert counts["found"] == 1 and len(functions) == 1
    fn = functions[0]
    mined = ast.parse(fn.response).body[-1]
    original = ast.parse(source).body[-1]
    original = original.body[0] if indent else original
    assert ast.get_docstring(mined) is None
    assert fn.response.startswith("import os\n\n\ndef f(a, b=os.sep):\n")
    assert fn.instruction == (
        f"Write a Python function `f(a, b=os.sep)` to solve the following problem:\n{ast.get_docstring(original).strip()}"
    )
    assert [ast.dump(n) for n in mined.body] == [ast.dump(n) for n in original.body[1:]]  # strings too


# ----------------------------------------------------------------------------- review fixes


def test_form_feed_and_unicode_line_breaks_keep_lines_aligned() -> None:
    """\\x0c, \\x1c-\\x1e, \\x85, \\u2028 are not line breaks to Python's tokenizer, so they must
    not be to the extractor either (str.splitlines put ast's line numbers out of step)."""
    source = (
        "import os\n\x0c\n"
        "def first(a, b):\n"
        '    """Join two path parts with the platform separator."""\n'
        "    # a comment with \u2028 and \x85 in it\n"
        "    joined = os.path.join(a, b)\n"
        "    return joined.strip()\n"
        "\x0c\n\n"
        "def second(text):\n"
        '    """Count the separators found in the text."""\n'
        '    marker = "\x1c\x1d\x1e"\n'
        "    total = text.count(os.sep)\n"
        "    return total + text.count(marker)\n"
    )
    functions, counts = extract(source)
    assert counts == {"found": 2}
    first, second = functions
    assert first.response == (
        "import os\n\n\ndef first(a, b):\n    # a comment with \u2028 and \x85 in it\n"
        "    joined = os.path.join(a, b)\n    return joined.strip()\n"
    )
    assert second.response.endswith(
        '    marker = "\x1c\x1d\x1e"\n    total = text.count(os.sep)\n    return total + text.count(marker)\n'
    )
    assert "separators" not in second.response
    for fn in functions:
        namespace: dict = {}
        exec(fn.response, namespace)  # runs as extracted
    assert namespace["second"]("a\x1c\x1d\x1eb") == 1


def test_a_file_that_fails_is_counted_and_the_run_goes_on(tmp_path: Path, decon: Decontaminator) -> None:
    deep = "+".join(["a"] * 1000)  # parses, but recursion while mining it runs out of stack
    (tmp_path / "a_deep.py").write_text(
        f'def f(x={deep}):\n    """A deep default argument here."""\n    y = x\n    return y + 1\n'
    )
    (tmp_path / "b_clean.py").write_text(CLEAN)
    out = tmp_path / "o.jsonl"
    summary = mine(collect([tmp_path]), out, progress=False, decontaminator=decon)
    assert [r["source"]["qualname"] for r in read_rows(out)] == ["split_words"]
    assert summary.files_failed == 1 and summary.files_unparsable == 0
    ((reason, entry),) = summary.file_errors.items()
    assert reason.startswith("file failed: ") and entry["count"] == 1
    assert entry["examples"][0].startswith(str(tmp_path / "a_deep.py"))
    assert any("file failed" in line for line in summary.lines())


MBPP_11_COPY = '''\
def drop_ends(s, ch):
    """Take out the first and the last place where a character turns up."""
    for i in range(len(s)):
        if (s[i] == ch):
            s = s[0 : i] + s[i + 1:]
            break
    for i in range(len(s) - 1,-1,-1):
        if (s[i] == ch):
            s = s[0 : i] + s[i + 1:]
            break
    return s
'''


def test_copied_benchmark_solutions_are_contamination(tmp_path: Path, decon: Decontaminator) -> None:
    """Solution code alone has too few content words for the 10-gram rule; a verbatim copy of a
    solution body under another name and docstring is caught by the solution check."""
    mbpp = {p.task_id: p for p in load_benchmark("mbpp")}["Mbpp/11"]
    assert "def remove_Occ(s,ch)" in mbpp.canonical_solution
    he = load_benchmark("humaneval")[12]
    body = he.canonical_solution[len(he.code_prompt) :]
    he_copy = f'def pick_widest(strings):\n    """Give back the widest entry, or nothing for an empty input."""\n{body}'
    only_ngrams = Decontaminator(solutions={})
    assert not only_ngrams.check(MBPP_11_COPY) and not only_ngrams.check(he_copy)  # what was missed
    assert decon.check(MBPP_11_COPY) == ["mbpp"] and decon.check(he_copy) == ["humaneval"]
    (tmp_path / "copies.py").write_text(MBPP_11_COPY + "\n\n" + he_copy + "\n\n" + CLEAN)
    out = tmp_path / "o.jsonl"
    summary = mine([tmp_path / "copies.py"], out, progress=False, decontaminator=decon)
    assert [r["source"]["qualname"] for r in read_rows(out)] == ["split_words"]
    assert summary.removed["contaminated"] == 2 and dict(summary.contaminated) == {"humaneval": 1, "mbpp": 1}


def test_import_selection_dotted_imports_and_local_names() -> None:
    source = textwrap.dedent(
        '''
        import xml.dom.minidom
        import xml.etree.ElementTree
        from gettext import gettext as _
        import numpy as np


        def root_tag(text):
            """Parse an XML document and give back the tag of its root."""
            for _ in range(3):
                text = text.strip()
            np = len(text)
            root = xml.etree.ElementTree.fromstring(text)
            return root.tag, np


        def dom_then_tree(text):
            """Parse a document both ways and compare what comes back."""
            a = xml.dom.minidom.parseString(text)
            b = xml.etree.ElementTree.fromstring(text)
            return a, b


        def message(text):
            """Translate a message and add a full stop at its end."""
            said = _(text)
            said = said + "."
            return np.asarray([said])
        '''
    )
    functions, _ = extract(source)
    by = {f.qualname: f for f in functions}
    assert by["root_tag"].response.startswith("import xml.etree.ElementTree\n\n\ndef root_tag(")
    assert "minidom" not in by["root_tag"].response and "gettext" not in by["root_tag"].response
    assert "numpy" not in by["root_tag"].response
    assert by["dom_then_tree"].response.startswith("import xml.dom.minidom\nimport xml.etree.ElementTree\n\n\ndef ")
    assert by["message"].response.startswith("from gettext import gettext as _\nimport numpy as np\n\n\ndef ")
    exec(by["root_tag"].response + "assert root_tag(' <a/> ') == ('a', 4)\n", {})


PKG_INIT = "from .exceptions import Bad\n"
PKG_EXCEPTIONS = "class Bad(ValueError):\n    pass\n"
PKG_MOD = '''\
from __future__ import annotations

import os
import typing
from typing import TYPE_CHECKING

from .exceptions import Bad
from . import exceptions

if TYPE_CHECKING:
    from _typeshed import StrPath
else:
    from os import fspath

if typing.TYPE_CHECKING:
    import _typeshed

LIMIT = 3


def checked(path: StrPath, kind: _typeshed.StrPath | None = None) -> str:
    """Check a path is not empty and give back its string form."""
    text = fspath(path)
    if not text:
        raise Bad(os.sep)
    return exceptions.__name__ + ":" + text


def bounded(items):
    """Cut a list down to the module's limit and count it."""
    items = list(items)[:LIMIT]
    total = len(items)
    return helper(items) + total


def helper(items):
    """Double the length of a list of items given here."""
    size = len(items)
    size = size * 2
    return size
'''


@pytest.fixture()
def package_tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(PKG_INIT)
    (pkg / "exceptions.py").write_text(PKG_EXCEPTIONS)
    (pkg / "mod.py").write_text(PKG_MOD)
    return root


def test_type_checking_relative_imports_and_free_names(
    package_tree: Path, tmp_path: Path, decon: Decontaminator
) -> None:
    import subprocess
    import sys

    out = tmp_path / "o.jsonl"
    summary = mine(collect([package_tree]), out, progress=False, decontaminator=decon)
    rows = {r["source"]["qualname"]: r for r in read_rows(out)}
    assert set(rows) == {"checked", "bounded", "helper"}
    checked = rows["checked"]["response"]
    assert "import _typeshed" not in checked and "from _typeshed" not in checked and "TYPE_CHECKING" not in checked
    assert checked.startswith(
        "from __future__ import annotations\nimport os\nfrom pkg.exceptions import Bad\nfrom pkg import exceptions\n"
        "from os import fspath\n\n\ndef checked("
    )
    assert rows["checked"]["free_names"] == [] and rows["helper"]["free_names"] == []
    assert rows["bounded"]["free_names"] == ["LIMIT", "helper"]
    assert summary.kept_not_self_contained == 1
    # the self-contained responses run on their own (with the package importable)
    program = rows["checked"]["response"] + "print(checked('x'))\n"
    ran = subprocess.run([sys.executable, "-c", program], cwd=package_tree, capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout == "pkg.exceptions:x\n", ran.stderr

    strict = tmp_path / "strict.jsonl"
    result = CliRunner().invoke(
        main, ["mine", str(package_tree), "-o", str(strict), "-q", "--self-contained", "--no-decontaminate"]
    )
    assert result.exit_code == 0, result.output
    assert {r["source"]["qualname"] for r in read_rows(strict)} == {"checked", "helper"}
    saved = json.loads((tmp_path / "strict.jsonl.summary.json").read_text())
    assert saved["removed"]["needs module-level names"] == 1 and saved["kept_not_self_contained"] == 0
    assert saved["settings"]["self_contained"] is True


@pytest.mark.parametrize("layout", ["vendor", "lib/python3/dist-packages"])
def test_provenance_off_sys_path(tmp_path: Path, layout: str) -> None:
    """A copy of an installed package beside its *.dist-info, in a folder this interpreter does
    not import from, is still credited to its distribution."""
    import shutil

    dist = md.distribution("click")
    package = Path(dist.locate_file("click"))
    root = tmp_path / layout
    root.mkdir(parents=True)
    shutil.copytree(package, root / "click", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(dist._path), root / Path(dist._path).name)  # type: ignore[attr-defined]
    out = tmp_path / "o.jsonl"
    summary = mine(
        collect([root / "click"], max_files=3), out, MineSettings(min_lines=1, decontaminate=False), progress=False
    )
    rows = read_rows(out)
    assert rows and summary.kept == len(rows)
    meta = dist.metadata
    for row in rows:
        src = row["source"]
        assert src["path"].startswith(str(root))
        assert (src["distribution"], src["version"], src["license"]) == ("click", meta["Version"], license_of(meta))


def test_stub_bodies_are_dropped_and_comment_lines_do_not_count() -> None:
    source = textwrap.dedent(
        '''
        def only_pass(x):
            """Stub that passes, with comments around."""
            # first comment
            # second comment
            pass

        def only_ellipsis(x):
            """Stub that is an ellipsis."""
            ...

        def not_implemented(x):
            """Stub that raises, with a message."""
            # to do
            raise NotImplementedError("later")

        def bare_raise(x):
            """Stub that raises the class."""
            raise NotImplementedError

        def only_docstring(x):
            """Nothing but this docstring."""

        def commented(x):
            """Mostly comments, one line of code."""
            # one
            # two
            # three
            return x + 1

        def real(x):
            """Real code, three lines of it."""
            y = x * 2
            return y
        '''
    )
    functions, counts = extract(source)
    assert counts["stub body"] == 5
    lines = {f.qualname: f.lines for f in functions}
    assert lines == {"commented": 2, "real": 3}


def test_stubs_and_comment_padding_are_not_kept(tmp_path: Path, decon: Decontaminator) -> None:
    (tmp_path / "m.py").write_text(
        'def todo(a):\n    """Compute something useful one day."""\n    # step one\n    # step two\n    raise NotImplementedError\n\n\n'
        'def padded(a):\n    """Add one after a lot of commentary."""\n    # one\n    # two\n    # three\n    return a + 1\n'
    )
    out = tmp_path / "o.jsonl"
    summary = mine([tmp_path / "m.py"], out, progress=False, decontaminator=decon)
    assert summary.kept == 0 and summary.removed == {"stub body": 1, "too short": 1}


def test_unparsable_files_are_listed_by_reason(tmp_path: Path, decon: Decontaminator) -> None:
    (tmp_path / "a_syntax.py").write_text(BROKEN)
    (tmp_path / "b_syntax.py").write_text("print 'python 2'\n")
    (tmp_path / "c_cookie.py").write_bytes(b"# -*- coding: no-such-codec -*-\nx = 1\n")
    (tmp_path / "d_bytes.py").write_bytes(b"x = '\xff\xfe'\n")
    (tmp_path / "e_clean.py").write_text(CLEAN)
    out = tmp_path / "o.jsonl"
    summary = mine(collect([tmp_path]), out, progress=False, decontaminator=decon)
    assert summary.kept == 1 and summary.files_unparsable == 4 and summary.files_failed == 0
    errors = summary.file_errors
    assert errors == {
        "unparsable: invalid syntax": {"count": 1, "examples": [f"{tmp_path / 'a_syntax.py'}:1: invalid syntax"]},
        "unparsable: Missing parentheses in call to 'print'. Did you mean print(...)?": {
            "count": 1,
            "examples": [
                f"{tmp_path / 'b_syntax.py'}:1: Missing parentheses in call to 'print'. Did you mean print(...)?"
            ],
        },
        "unparsable: unknown encoding: no-such-codec": {
            "count": 1,
            "examples": [f"{tmp_path / 'c_cookie.py'}: unknown encoding: no-such-codec"],
        },
        "unparsable: invalid or missing encoding declaration": {
            "count": 1,
            "examples": [f"{tmp_path / 'd_bytes.py'}: invalid or missing encoding declaration"],
        },
    }
    saved = json.loads((tmp_path / "o.jsonl.summary.json").read_text())
    assert saved["file_errors"] == errors and saved["files_unparsable"] == 4
    assert any("unparsable: invalid syntax" in line for line in summary.lines())


def test_failed_summary_leaves_the_old_output_and_summary(
    tree: Path, tmp_path: Path, decon: Decontaminator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lintseq.io

    out = tmp_path / "mined.jsonl"
    mine(collect([tree]), out, MineSettings(min_lines=1), progress=False, decontaminator=decon)
    old_output, old_summary = out.read_bytes(), (tmp_path / "mined.jsonl.summary.json").read_bytes()
    real_write = lintseq.io.AtomicFile.write

    def disk_full(self: lintseq.io.AtomicFile, data: str) -> int:  # the summary cannot be written
        if self.path.name.endswith(".summary.json"):
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(lintseq.io.AtomicFile, "write", disk_full)
    with pytest.raises(OSError):
        mine(collect([tree]), out, MineSettings(min_lines=5), progress=False, decontaminator=decon)
    assert out.read_bytes() == old_output
    assert (tmp_path / "mined.jsonl.summary.json").read_bytes() == old_summary
    assert not (tmp_path / "mined.jsonl.tmp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mined.jsonl", "mined.jsonl.summary.json", "repo"]


def test_site_packages_source_reads_the_installed_packages() -> None:
    import click as installed

    from lintseq.mining.sources import collect, site_packages_dirs

    files = collect([], site_packages=True, skip_tests=True)
    assert Path(installed.__file__).resolve() in files
    assert all(any(d.resolve() in f.parents for d in site_packages_dirs()) for f in files)
    assert not any(f.name.startswith("test_") for f in files)
