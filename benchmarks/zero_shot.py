"""Zero-shot code scores of a model that was never trained on our formats, measured the way the
field measures base models: greedy pass@1 in every prompt style that makes sense for it, and
sampled pass@1 / pass@10 (n = 10, temperature 0.8, top-p 0.95) on HumanEval.

Prompt styles (`lintseq sample --help`):
- completion: the benchmark's own code prompt, continued, cut at the bigcode-evaluation-harness
  stop words (HumanEval: signature and docstring; MBPP: a docstring with the task and its first
  assert);
- chat: the instruction through the model's chat template, code read out of the answer's
  Markdown fence (instruct models only).

Samples are written (and resumed) under --work; the table and the scores go to --out:

    python benchmarks/zero_shot.py --model smollm2-135m --out results/smollm2-135m-zero-shot

One samples file per (benchmark, style, decoding) is scored on every benchmark sharing its
prompts: HumanEval's samples on HumanEval and HumanEval+, MBPP+'s (sanitized MBPP prompts) on
MBPP+'s tasks with their base (MBPP) and plus tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import time
from pathlib import Path

# benchmark sampled -> benchmarks its samples are scored on (the + sets share their prompts)
SCORED_ON = {"humaneval": ["humaneval", "humaneval+"], "mbpp+": ["mbpp+"]}


def available(names: list[str]) -> list[str]:
    from lintseq.evaluation.problems import BenchmarkError, load_benchmark

    out = []
    for name in names:
        try:
            load_benchmark(name)
        except (BenchmarkError, OSError, ValueError, KeyError):
            continue
        out.append(name)
    return out


def sample(backend, model: str, bench: str, style: str, n: int, temperature: float, args, path: Path) -> dict:
    from lintseq.evaluation.problems import load_benchmark
    from lintseq.formatting import load_chat_tokenizer
    from lintseq.inference.sample import sample_benchmark
    from lintseq.inference.types import SamplingSettings
    from lintseq.io import load_jsonl, write_json

    problems = load_benchmark(bench)[: args.limit]
    settings = SamplingSettings(
        n=n,
        temperature=temperature,
        top_p=0.95 if temperature else 1.0,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
    )
    timing = path.with_name(path.name.replace(".samples.jsonl", ".timing.json"))
    if path.exists():  # finished by an earlier invocation: its rates, if it recorded them
        rows = load_jsonl(path)
        done = {"samples": len(rows), "tokens": sum(r["n_tokens"] for r in rows), "seconds": None}
        return (json.loads(timing.read_text(encoding="utf-8")) if timing.exists() else done) | {"resumed": "all"}
    chat = load_chat_tokenizer(model) if style == "chat" else None
    began = time.perf_counter()
    stats = sample_benchmark(
        problems,
        backend,
        settings,
        style="baseline" if style == "chat" else "completion",
        out=str(path),
        model=model,
        benchmark=bench,
        progress=not args.quiet,
        chat_tokenizer=chat,
    )
    seconds = time.perf_counter() - began
    info = {
        "samples": stats.samples,
        "tokens": stats.tokens,
        "seconds": round(seconds, 1),
        "tokens_per_second": round(stats.tokens / seconds, 1) if stats.samples else None,
        "resumed_problems": stats.resumed,
        "finish": dict(stats.finish),
    }
    write_json(timing, info)
    return info


def score(path: Path, bench: str, ks: list[int], sandbox, limit: int | None) -> dict:
    from lintseq.evaluation.problems import load_benchmark
    from lintseq.evaluation.scoring import evaluate

    report = evaluate(path, load_benchmark(bench)[:limit], benchmark=bench, k=ks, sandbox=sandbox)
    s = report.scores
    keep = (
        "benchmark",
        "problems_scored",
        "samples_evaluated",
        "correct",
        "statuses",
        "seconds",
        "intervals95",
        "base",
    )
    return {k: s[k] for k in keep if k in s} | {k: v for k, v in s.items() if k.startswith("pass@")}


def table(results: list[dict]) -> list[str]:
    lines = [
        "| benchmark | prompt style | decoding | pass@1 (95% CI) | pass@10 (95% CI) | samples |",
        "|---|---|---|---:|---:|---:|",
    ]

    def cell(s: dict, k: int) -> str:
        if f"pass@{k}" not in s:
            return "-"
        lo, hi = s["intervals95"][f"pass@{k}"]
        return f"{100 * s[f'pass@{k}']:.1f} ({100 * lo:.1f}-{100 * hi:.1f})"

    for r in results:
        s = r["score"]
        if s["benchmark"] == "mbpp+" and "base" in s:  # its own tasks with MBPP's tests
            lines.append(
                f"| mbpp (MBPP+ tasks, base tests) | {r['style']} | {r['decoding']} | {cell(s['base'], 1)} | "
                f"{cell(s['base'], 10)} | {s['samples_evaluated']} |"
            )
        lines.append(
            f"| {s['benchmark']} | {r['style']} | {r['decoding']} | {cell(s, 1)} | {cell(s, 10)} | "
            f"{s['samples_evaluated']} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m", help="model folder, hub id or short name")
    ap.add_argument("--out", type=Path, default=Path("results/smollm2-135m-zero-shot"))
    ap.add_argument("--work", type=Path, default=Path("runs/zero-shot"), help="samples files (resumable)")
    ap.add_argument("--styles", default="completion,chat")
    ap.add_argument("--sampled-styles", default="completion", help="prompt styles for the sampled run")
    ap.add_argument("--benchmarks", default="humaneval,mbpp+", help="benchmarks to sample (see SCORED_ON)")
    ap.add_argument("--sampled", default="humaneval", help="benchmark for sampled pass@1/pass@10 ('' for none)")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--max-new-tokens", type=int, default=384)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--limit", type=int, default=None, help="first N problems of each benchmark (smoke runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    import torch

    from lintseq.evaluation.sandbox import Limits, Sandbox
    from lintseq.inference.backends import make_backend
    from lintseq.io import write_atomic, write_json

    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    backend = make_backend("hf", args.model, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    sandbox = Sandbox(Limits(timeout=args.timeout), workers=args.workers)
    runs = [(b, s, "greedy", 1, 0.0) for s in args.styles.split(",") for b in args.benchmarks.split(",")]
    if args.sampled:
        runs += [
            (args.sampled, s, f"n={args.n}, T={args.temperature}", args.n, args.temperature)
            for s in args.sampled_styles.split(",")
        ]
    results, timing = [], []
    for bench, style, decoding, n, temperature in runs:
        tag = f"{bench}-{style}-" + ("greedy" if n == 1 else f"n{n}-t{temperature}")
        path = args.work / f"{tag}.samples.jsonl"
        info = sample(backend, args.model, bench, style, n, temperature, args, path)
        timing.append({"samples_file": path.name} | info)
        for scored in available(SCORED_ON.get(bench, [bench])):
            s = score(path, scored, [1, 10] if n >= 10 else [1], sandbox, args.limit)
            results.append({"style": style, "decoding": decoding, "samples_file": path.name, "score": s})
            print("\n".join(table(results[-1:])[2:]), flush=True)
    sandbox.close()
    doc = {
        "model": args.model,
        "settings": {k: str(v) for k, v in vars(args).items()},
        "results": results,
        "sampling": timing,
        "hardware": {
            "machine": platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
    }
    write_json(args.out / "scores.json", doc)
    cmd = "python benchmarks/zero_shot.py " + " ".join(
        f"--{k.replace('_', '-')} {shlex.quote(str(v))}"
        for k, v in vars(args).items()
        if k not in ("quiet", "work", "out") and v is not None and v != ap.get_default(k)
    )
    lines = [
        f"# Zero-shot scores: {args.model}",
        "",
        f"Command: `{cmd.strip()} --out {args.out}`",
        "",
        *table(results),
        "",
        "Sampling (tokens counted through EOS or the stop word):",
        "",
        "| samples file | samples | tokens | seconds | tokens/s |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {t['samples_file']} | {t['samples']} | {t['tokens']} | {t.get('seconds') or '-'} | "
            f"{t.get('tokens_per_second') or '-'} |"
            for t in timing
        ],
        "",
    ]
    write_atomic(args.out / "README.md", "\n".join(lines))
    print(f"wrote {args.out / 'README.md'}")


if __name__ == "__main__":
    main()
