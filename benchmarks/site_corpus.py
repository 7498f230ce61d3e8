"""A corpus of real-world third-party functions: a fixed sample of what `lintseq mine
--site-packages` finds in the running interpreter's installed packages.

The stdlib corpus (stdlib_corpus.py) is short, tidy code; installed packages (torch, sympy,
transformers, ...) hold longer functions with more branches, nested helpers and imports,
which is what a mined training set looks like. Mining is the project's own (`--skip-tests
--self-contained`, so every function runs on its own, with its imports); the rows are then
put in a fixed order (distribution, path inside site-packages, qualname, line) and `-n` of
them drawn with `--seed`. The choice is deterministic for a given set of installed packages;
the mined file is kept (`--mined`) so a second sample costs seconds, not the minutes a
full mining run takes.

    python benchmarks/site_corpus.py -n 400 -o benchmarks/data/site.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MINED = HERE / "data" / "site_mined.jsonl"


def mine_site_packages(output: Path, workers: int = 2) -> None:
    """Every installed package's functions, as `lintseq mine --site-packages --skip-tests
    --self-contained` writes them."""
    from lintseq.mining.miner import MineSettings, mine
    from lintseq.mining.sources import collect

    files = collect([], site_packages=True, skip_tests=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    summary = mine(files, output, MineSettings(self_contained=True), workers=workers, progress=False)
    for line in summary.lines():
        print(line, file=sys.stderr)


def _relative(path: str) -> str:
    """The path inside site-packages, so the order does not depend on where the venv is."""
    parts = Path(path).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(marker) :])
    return Path(path).as_posix()


def sample(mined: Path, n: int, seed: int = 0) -> list[dict]:
    """`n` rows drawn with `seed` from the mined rows in a fixed order; each gains an `id`."""
    rows = [json.loads(line) for line in mined.read_text().splitlines() if line.strip()]
    for row in rows:
        src = row["source"]
        row["id"] = f"{src.get('distribution') or '?'}:{_relative(src['path'])}:{src['qualname']}"
    rows.sort(key=lambda r: (r["id"], r["source"]["lineno"]))
    picked = random.Random(seed).sample(rows, min(n, len(rows)))
    return [{"id": r["id"], "instruction": r["instruction"], "response": r["response"]} for r in picked]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=400, help="number of programs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--mined", type=Path, default=DEFAULT_MINED, help="the full mined file; mined from site-packages when missing"
    )
    ap.add_argument("-j", "--workers", type=int, default=2, help="processes for mining")
    ap.add_argument("-o", "--output", type=Path, default=None, help="JSONL path (default stdout)")
    args = ap.parse_args()
    if not args.mined.exists():
        print(f"mining site-packages into {args.mined} (minutes) ...", file=sys.stderr)
        mine_site_packages(args.mined, args.workers)
    rows = sample(args.mined, args.n, args.seed)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if args.output is None:
        sys.stdout.write(text)
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(args.output)
    by = Counter(row["id"].split(":", 1)[0] for row in rows)
    top = ", ".join(f"{d} {c}" for d, c in by.most_common(12))
    print(f"{len(rows)} programs from {len(by)} distributions ({top}, ...) -> {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
