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
from lintseq.mining.provenance import license_of
from lintseq.mining.extract import extract

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
    body = problem.canonical_solution[len(problem.code_prompt):]
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
    assert not list(tmp_path.glob("*.tmp"))

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
    """Training ids 601-974 are instruction data for the experiment, not a benchmark."""
    train = load_benchmark("mbpp:train")
    clean = next(p for p in train if not decon.check(p.prompt, p.canonical_solution))
    problems = {int(p.task_id.split("/")[1]): p for p in load_benchmark("mbpp:all")}
    flagged = {i: bool(decon.check(problem_text(p.prompt), p.canonical_solution)) for i, p in problems.items()}
    benchmark = [flagged[i] for i in range(1, 601)]
    training = [flagged[i] for i in range(601, 975)]
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
        main, ["mine", "--package", "click", "--max-files", "4", "-o", str(out), "--no-progress", "--min-lines", "1"]
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
    from lintseq.generate import Settings, generate

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


DOC_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters='\\"\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029', exclude_categories=("Cs", "Cc")), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    doc=DOC_TEXT.filter(lambda t: t.strip()),
    body=st.lists(st.sampled_from(["x = 1", "y = [1,\n     2]", "# note", "", "s = '''a\nb'''", "x += len('é')"]), max_size=5),
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
