"""Whole `lintseq train` and `lintseq sample` stages against what the same model does at a fixed
shape, and both against the matrix-product rate of the cores, in one run (issue 22).

Fixed-shape limits, each in its own process:
- fp32 matrix products: a large square one, and the shape of a batch-64 decode step's MLP;
- training: forward + backward + AdamW on full micro-batches of the data's mean length, no padding;
- decoding: the model's forward one token at a time on a KV cache at the sampler's batch size,
  prompts prefilled first and not timed, argmax, no `generate` (transformers' `DynamicCache`,
  and the sampler's own reserved cache).

Whole stages, each a `lintseq` command in its own process, wall clock from start to exit
(imports, loading, tokenizing, prefill, steps, checkpoint and model saves all included):
- `lintseq train` from the base model on real formatted rows of each arm (LintSeq, baseline);
- `lintseq sample` on HumanEval prompts in each arm's style through the chat template, by this
  checkout and by the code of `--old` (default: the commit before issue 22), in the same run;
  of the model trained above on the arm's rows, or with `--sample-model base` of the base model,
  whose samples mostly run to the token limit (a few steps of training leave models whose
  samples mostly stop early, so the whole stage is then mostly loading and prefill).

Every figure has the process's peak RSS beside it. Rows come from the bundled sample
(`lintseq generate --sample`, `lintseq format --chat`). Threads: `--threads` (default torch's),
passed to every process as OMP_NUM_THREADS; the load average is printed at the start and end,
since other jobs on the box change every rate (compare the ratios, which come from one run).

    python benchmarks/cpu_limits.py                            # SmolLM2-135M, the issue's sizes
    python benchmarks/cpu_limits.py --threads 1 --old-train    # also time the old code's training
    python benchmarks/cpu_limits.py --threads 1 --train-arms lintseq --old-train --sample-model base
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OLD = "d769cb5"  # the commit issue 22 measured


def _run(cmd: list[str], env: dict, log: Path) -> tuple[float, float]:
    """Run `cmd`; (wall seconds, peak RSS MiB of that process alone, via wait4)."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed; see {log}:\n{log.read_text()[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def _part(name: str, args: argparse.Namespace, env: dict, tmp: Path, **extra) -> dict:
    """One fixed-shape measurement in a fresh process: its JSON result plus peak RSS."""
    out = tmp / f"{name}.json"
    cmd = [sys.executable, __file__, "--part", name, "--part-out", str(out), "--model", args.model]
    for k, v in extra.items():
        flag = f"--{k.replace('_', '-')}"
        cmd += [flag] if v is True else [flag, str(v)]
    _, peak = _run(cmd, env, tmp / f"{name}.log")
    return json.loads(out.read_text()) | {"peak_mib": peak}


# ---------------------------------------------------------------- fixed-shape parts (child processes)


def part_matmul(a) -> dict:
    import torch

    def rate(m: int, k: int, n: int, reps: int) -> float:
        x, w = torch.randn(m, k), torch.randn(k, n)
        x @ w
        t0 = time.perf_counter()
        for _ in range(reps):
            x @ w
        return 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9

    return {"large_gflops": rate(2048, 2048, 2048, 10), "decode_gflops": rate(64, 576, 1536, 200)}


def _load(model: str):
    import torch
    from transformers import AutoModelForCausalLM

    from lintseq.models.names import resolve_model

    return AutoModelForCausalLM.from_pretrained(resolve_model(model), dtype=torch.float32)


def part_train_step(a) -> dict:
    """Forward + backward + AdamW on `micro` rows of exactly `length` tokens (no padding)."""
    import torch

    model = _load(a.model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    ids = torch.randint(100, model.config.vocab_size - 100, (a.micro, a.length))
    times = []
    for _ in range(a.reps + 1):
        t0 = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    step = statistics.median(times[1:])  # the first step allocates the optimizer state
    n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    return {"tokens_per_s": a.micro * a.length / step, "step_s": step, "gflop_per_token": 6 * n_params / 1e9}


def part_decode(a) -> dict:
    """Prefill `prompts` (each `n` times, as the sampler batches them), then `new` argmax steps."""
    import torch
    from transformers import AutoTokenizer, DynamicCache

    from lintseq.inference.decoding import roomy_cache
    from lintseq.models.names import resolve_model

    model = _load(a.model).eval()
    tok = AutoTokenizer.from_pretrained(resolve_model(a.model))
    tok.padding_side = "left"
    prompts = json.loads(Path(a.prompts).read_text())
    prompts = [p for p in prompts for _ in range(a.n)][: a.batch]
    enc = tok(prompts, return_tensors="pt", padding=True)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    result = {}
    for name in ("dynamic", "reserved")[: 2 if a.reserved_loop else 1]:
        cache = DynamicCache() if name == "dynamic" else roomy_cache(model.config.num_hidden_layers, a.new)
        with torch.inference_mode():
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache).logits
            nxt, m, p = logits[:, -1].argmax(-1), mask, pos[:, -1:]
            t0 = time.perf_counter()
            for _ in range(a.new):
                m, p = torch.cat([m, m.new_ones((m.shape[0], 1))], 1), p + 1
                out = model(input_ids=nxt[:, None], attention_mask=m, position_ids=p, cache=cache)
                nxt = out.logits[:, -1].argmax(-1)
            result[name] = ids.shape[0] * a.new / (time.perf_counter() - t0)
    n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    return {"tokens_per_s": result, "gflop_per_token": 2 * n_params / 1e9, "prompt_width": ids.shape[1]}


# ---------------------------------------------------------------- the run


def _data(tmp: Path, env: dict, rows: int) -> dict[str, Path]:
    """Formatted rows of both arms from the bundled sample, through the chat template."""
    gen = tmp / "gen.jsonl"
    lintseq = [sys.executable, "-m", "lintseq"]
    subprocess.run(
        [*lintseq, "generate", "--sample", "-s", "3", "-o", str(gen)], env=env, check=True, capture_output=True
    )
    files = {}
    for arm in ("lintseq", "baseline"):
        full = tmp / f"{arm}-all.jsonl"
        subprocess.run(
            [*lintseq, "format", str(gen), "-o", str(full), "--style", arm, "--chat", "--tokenizer", "smollm2-135m"],
            env=env,
            check=True,
            capture_output=True,
        )
        files[arm] = tmp / f"{arm}.jsonl"
        files[arm].write_text("".join(full.read_text().splitlines(keepends=True)[:rows]))
    return files


def _lengths(path: Path, model: str) -> list[int]:
    from transformers import AutoTokenizer

    from lintseq.models.names import resolve_model
    from lintseq.training.sft import load_training_rows, sequence_lengths

    return sequence_lengths(load_training_rows(path), AutoTokenizer.from_pretrained(resolve_model(model)))


def _old_source(commit: str, tmp: Path) -> Path:
    """The `src` folder of `commit`, exported with `git archive` (no worktree is touched)."""
    dest = tmp / f"old-{commit}"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def _samples_tokens(path: Path, limit: int) -> tuple[int, int]:
    """Tokens generated, and samples that reached `limit`."""
    counts = [json.loads(line)["n_tokens"] or 0 for line in path.read_text().splitlines() if line.strip()]
    return sum(counts), sum(n >= limit for n in counts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--threads", type=int, default=None, help="torch threads in every process [torch's default]")
    ap.add_argument("--steps", type=int, default=6, help="optimizer steps per training run")
    ap.add_argument("--batch-size", type=int, default=16, help="training rows per optimizer step")
    ap.add_argument("--micro-batch-size", type=int, default=8)
    ap.add_argument("--save-steps", type=int, default=5, help="checkpoint every N steps (the CPU recipe's)")
    ap.add_argument("--problems", type=int, default=8, help="HumanEval problems sampled")
    ap.add_argument("-n", type=int, default=8, help="samples per problem")
    ap.add_argument("--sample-batch", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--old", default=OLD, help="commit whose code is timed beside this checkout's")
    ap.add_argument("--old-train", action="store_true", help="also time `lintseq train` from --old")
    ap.add_argument("--train-arms", default="lintseq,baseline", help="arms whose rows are trained on ('' for none)")
    ap.add_argument("--sample-arms", default="lintseq,baseline", help="arms whose prompt style is sampled")
    ap.add_argument(
        "--sample-model",
        choices=["trained", "base"],
        default="trained",
        help="sample the model this run trained on the arm's rows, or the base model (whose samples run long)",
    )
    ap.add_argument("--keep", type=Path, default=None, help="keep the run's files here")
    # a child process's part
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--part-out", help=argparse.SUPPRESS)
    ap.add_argument("--micro", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--length", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--reserved-loop", action="store_true", help="also time the bare loop on the reserved cache")
    ap.add_argument("--reps", type=int, default=2, help="timed fixed-shape training steps (after one untimed)")
    ap.add_argument("--prompts", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--new", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.part:
        result = {"matmul": part_matmul, "train_step": part_train_step, "decode": part_decode}[a.part](a)
        Path(a.part_out).write_text(json.dumps(result))
        return 0

    import torch

    threads = a.threads or torch.get_num_threads()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    tmp_ctx = tempfile.TemporaryDirectory() if a.keep is None else None
    tmp = Path(tmp_ctx.name) if tmp_ctx else a.keep
    tmp.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    t_start = time.perf_counter()
    rows_needed = a.steps * a.batch_size
    data = {arm: path for arm, path in _data(tmp, env, rows_needed).items() if arm in a.train_arms.split(",")}
    lengths = {arm: _lengths(path, a.model) for arm, path in data.items()}
    sample_arms = [arm for arm in ("lintseq", "baseline") if arm in a.sample_arms.split(",")]
    if a.sample_model == "trained" and set(sample_arms) - set(data):
        raise SystemExit("--sample-model trained samples the models this run trains: add the arm to --train-arms")
    old_src = _old_source(a.old, tmp)
    old_env = {**env, "PYTHONPATH": str(old_src)}
    # this checkout's code as it is now: editing the tree while the run goes on changes nothing
    new_src = tmp / "new-src"
    shutil.copytree(ROOT / "src", new_src, ignore=shutil.ignore_patterns("__pycache__"))
    new_env = {**env, "PYTHONPATH": str(new_src)}
    lintseq = [sys.executable, "-m", "lintseq"]

    hw = _part("matmul", a, new_env, tmp)
    fixed = {
        arm: _part(
            "train_step", a, new_env, tmp, micro=a.micro_batch_size, length=round(statistics.mean(n)), reps=a.reps
        )
        for arm, n in lengths.items()
    }

    from lintseq.evaluation.problems import load_benchmark

    problems = load_benchmark("humaneval")[: a.problems]
    prompts_file = tmp / "prompts.json"

    train: dict[str, dict] = {}
    sample: dict[str, dict] = {}
    decode: dict[str, dict] = {}
    for arm, path in data.items():
        # the rows each run trains on: `steps` x `batch_size`, one epoch of the file
        tokens = sum(lengths[arm][: a.steps * a.batch_size])
        runs = [("new", new_env)] + ([("old", old_env)] if a.old_train else [])
        for code, code_env in runs:
            out = tmp / f"model-{arm}-{code}"
            cmd = [*lintseq, "train", "--model", a.model, "--data", str(path), "-o", str(out), "--overwrite"]
            cmd += ["--max-steps", str(a.steps), "--batch-size", str(a.batch_size)]
            cmd += ["--micro-batch-size", str(a.micro_batch_size), "--save-steps", str(a.save_steps), "--lr", "1e-4"]
            wall, peak = _run(cmd, code_env, tmp / f"train-{arm}-{code}.log")
            train[f"{arm}/{code}"] = {"tokens_per_s": tokens / wall, "s": wall, "peak_mib": peak, "tokens": tokens}

    from lintseq.formatting import load_chat_tokenizer

    for arm in sample_arms:
        model_dir = str(tmp / f"model-{arm}-new") if a.sample_model == "trained" else a.model
        chat = load_chat_tokenizer(model_dir)
        prompts_file.write_text(json.dumps([p.prompt_for(arm, chat) for p in problems]))
        decode[arm] = _part(
            "decode",
            a,
            new_env,
            tmp,
            model=model_dir,
            prompts=prompts_file,
            n=a.n,
            batch=a.sample_batch,
            new=a.max_new_tokens,
            **({"reserved_loop": True} if a.reserved_loop else {}),
        )
        for code, code_env in (("old", old_env), ("new", new_env)):
            out = tmp / f"samples-{arm}-{code}.jsonl"
            cmd = [*lintseq, "sample", "--model", model_dir, "-b", "humaneval", "--style", arm, "--chat"]
            cmd += ["--limit", str(a.problems), "-n", str(a.n), "--batch-size", str(a.sample_batch), "-q"]
            cmd += ["--max-new-tokens", str(a.max_new_tokens), "--temperature", str(a.temperature)]
            cmd += ["--top-p", str(a.top_p), "--device", "cpu", "--dtype", "float32", "-o", str(out), "--overwrite"]
            wall, peak = _run(cmd, code_env, tmp / f"sample-{arm}-{code}.log")
            tokens, full = _samples_tokens(out, a.max_new_tokens)
            sample[f"{arm}/{code}"] = {
                "tokens_per_s": tokens / wall,
                "s": wall,
                "peak_mib": peak,
                "tokens": tokens,
                "at_limit": full,
            }

    load1 = os.getloadavg()
    print(f"model {a.model}, fp32, {threads} torch thread(s); {time.perf_counter() - t_start:.0f} s in all")
    print(
        f"load average (1/5/15 min) at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, end {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}"
    )
    print(f"old code: {a.old}; files in {tmp}" if a.keep else f"old code: {a.old}")
    print("\nhardware (fp32 matrix products)")
    print(f"  2048^3:              {hw['large_gflops']:7.1f} GFLOP/s  peak {hw['peak_mib']:6.0f} MiB")
    print(f"  64x576 @ 576x1536:   {hw['decode_gflops']:7.1f} GFLOP/s")
    big = hw["large_gflops"]

    print(
        f"\ntraining: {a.steps} steps x {a.batch_size} rows (micro-batch {a.micro_batch_size}, save every {a.save_steps})"
    )
    for arm in data:
        f = fixed[arm]
        mean = statistics.mean(lengths[arm][: a.steps * a.batch_size])
        frac = f["tokens_per_s"] * f["gflop_per_token"] / big
        print(f"  {arm}: rows mean {mean:.0f} tokens, max {max(lengths[arm])}")
        print(
            f"    fixed shape {a.micro_batch_size} x {round(mean)}:  {f['tokens_per_s']:7.1f} tokens/s  "
            f"peak {f['peak_mib']:6.0f} MiB  ({frac:.2f} of the 2048^3 rate at 6N FLOP/token)"
        )
        for key, r in train.items():
            if key.startswith(arm + "/"):
                code = key.split("/")[1]
                print(
                    f"    lintseq train ({code}):  {r['tokens_per_s']:7.1f} tokens/s  peak {r['peak_mib']:6.0f} MiB  "
                    f"{r['s']:6.0f} s  ratio to fixed shape {r['tokens_per_s'] / f['tokens_per_s']:.2f}"
                )

    if not decode:
        return 0
    print(
        f"\nsampling: {a.problems} HumanEval problems x n={a.n}, batch {a.sample_batch}, "
        f"max {a.max_new_tokens} new tokens, temperature {a.temperature}, top-p {a.top_p}; "
        f"{'the models trained above' if a.sample_model == 'trained' else 'the base model'}"
    )
    for arm in decode:
        d = decode[arm]
        dyn, res = d["tokens_per_s"]["dynamic"], d["tokens_per_s"].get("reserved")
        frac = dyn * d["gflop_per_token"] / big
        what = f"{arm} model" if a.sample_model == "trained" else f"{arm} prompts, base model"
        print(f"  {what} (prompts {d['prompt_width']} tokens wide):")
        print(
            f"    bare decode loop, DynamicCache:   {dyn:7.1f} tokens/s  peak {d['peak_mib']:6.0f} MiB  "
            f"({frac:.2f} of the 2048^3 rate at 2N FLOP/token)"
        )
        if res:
            print(f"    bare decode loop, reserved cache: {res:7.1f} tokens/s")
        old, new = sample[f"{arm}/old"], sample[f"{arm}/new"]
        for code, r in (("old", old), ("new", new)):
            print(
                f"    lintseq sample ({code}):  {r['tokens_per_s']:7.1f} tokens/s  peak {r['peak_mib']:6.0f} MiB  "
                f"{r['s']:6.0f} s  {r['tokens']} tokens ({r['at_limit']} samples at the limit)  "
                f"ratio to bare loop {r['tokens_per_s'] / dyn:.2f}"
            )
        print(f"    new / old: {new['tokens_per_s'] / old['tokens_per_s']:.2f}x")
    if tmp_ctx:
        tmp_ctx.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
