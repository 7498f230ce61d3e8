"""A report: the score files `lintseq evaluate --json` writes, and the terminal table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def _is_scores(doc) -> bool:
    return isinstance(doc, dict) and any(k.startswith("pass@") or k == "curve" for k in doc)


def load_scores(path: str | Path) -> list[dict]:
    """The score documents in a file written by `lintseq evaluate --json`: one, or one per
    benchmark (`{"runs": [...]}`) when it scored several."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    docs = doc.get("runs") if isinstance(doc, dict) and "runs" in doc else [doc]
    if not isinstance(docs, list) or not docs or not all(_is_scores(d) for d in docs):
        raise ValueError(f"{path}: not a score file written by `lintseq evaluate --json`")
    for d in docs:
        d.setdefault("label", Path(path).stem)
    return docs


def scores_document(docs: Sequence[dict]) -> dict:
    """What `--json` writes: the score document, or `{"runs": [...]}` for several benchmarks."""
    return docs[0] if len(docs) == 1 else {"runs": list(docs)}


def with_base(runs: Sequence[dict]) -> list[dict]:
    """Each run, preceded by its base score when it has one (a plus benchmark's base tests, as
    EvalPlus reports them: base, then base + plus)."""
    out: list[dict] = []
    for r in runs:
        base = r.get("base")
        if isinstance(base, dict):
            out.append(
                {**base, "label": f"{r.get('label', '')} (base)", "benchmark": f"{r.get('benchmark', '')} base tests"}
            )
        out.append(r)
    return out


def table(runs: Sequence[dict]) -> str:
    """pass@k per run and benchmark (a plus benchmark's base score on its own line), plus n,
    diversity and how many samples passed."""
    runs = with_base(runs)
    ks = sorted({int(k[5:]) for r in runs for k in r if k.startswith("pass@")})
    head = ["run", "benchmark", "n", *(f"pass@{k}" for k in ks), "distinct", "passed"]
    rows = [head]
    for r in runs:
        n = r.get("n_per_problem", {})
        n_txt = str(n.get("min", "")) if n.get("min") == n.get("max") else f"{n.get('min')}-{n.get('max')}"
        share = r.get("diversity", {}).get("mean_distinct_share")
        rows.append(
            [
                str(r.get("label", "")),
                str(r.get("benchmark", "")),
                n_txt,
                *(f"{100 * r[f'pass@{k}']:.2f}" if f"pass@{k}" in r else "-" for k in ks),
                "" if share is None else f"{share:.3f}",
                f"{r.get('correct', '')}/{r.get('samples_evaluated', '')}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def paired_table(runs: Sequence[dict], others: Sequence[dict]) -> str:
    """Paired differences (each run minus each other run on the same benchmark) per k, from the
    per-problem counts the score files keep; empty when no pair can be made."""
    from lintseq.evaluation.passk import paired_difference, verdict

    lines = []
    for r in runs:
        for o in others:
            if o.get("benchmark") != r.get("benchmark") or not r.get("per_problem") or not o.get("per_problem"):
                continue
            ks = sorted(
                {int(k[5:]) for k in r if k.startswith("pass@")} & {int(k[5:]) for k in o if k.startswith("pass@")}
            )
            a = {t: (int(v[0]), int(v[1])) for t, v in r["per_problem"].items()}
            b = {t: (int(v[0]), int(v[1])) for t, v in o["per_problem"].items()}
            for k in ks:
                d = paired_difference(a, b, k)
                if d is None:
                    continue
                lo, hi = d["interval"]
                lines.append(
                    f"{r.get('label', '')} - {o.get('label', '')} [{r.get('benchmark', '')}] pass@{k}: "
                    f"{100 * d['delta']:+.2f} points (95% CI {100 * lo:+.2f} to {100 * hi:+.2f}, paired over "
                    f"{d['problems']} problems): {verdict(d['interval'])}"
                )
    return "\n".join(lines)
