"""Training throughput of `lintseq train` (TRL SFTTrainer), against a bare PyTorch loop.

Builds LintSeq rows (s = 5) from the bundled sample, then times a short run of the real
pipeline (`lintseq.training.sft`) and, as the in-run reference, a plain AdamW loop over the
very same collated batches on a fresh copy of the model. Prints tokens/s (non-pad tokens),
peak memory (GPU: max allocated; CPU: peak RSS of the process) and the ratio to the reference.

    python benchmarks/train_throughput.py                      # CPU: --init tiny
    python benchmarks/train_throughput.py --init 150m --steps 50 --micro-batch-size 16   # GPU
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from torch_timing import peak_memory_mib, sync


def build_rows(n_programs: int, s: int) -> list[dict]:
    from lintseq import derive_seed, sample_edit_sequence
    from lintseq.formatting import format_row

    text = resources.files("lintseq").joinpath("data/sample.jsonl").read_text(encoding="utf-8")
    src = [json.loads(line) for line in text.splitlines()[:n_programs]]
    rows = []
    for row in src:
        for k in range(s):
            seed = derive_seed(0, row["response"], k)
            path = sample_edit_sequence(row["response"], seed=seed)
            rows.append(format_row({**row, "edit_path": path, "sample": k, "seed": seed}, "lintseq"))
    return rows


def main() -> int:
    import torch

    cuda = torch.cuda.is_available()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", default="150m" if cuda else "tiny", choices=["tiny", "150m", "400m"])
    ap.add_argument("--programs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=30 if cuda else 10)
    ap.add_argument("--micro-batch-size", type=int, default=16 if cuda else 4)
    ap.add_argument("--accumulation", type=int, default=1)
    ap.add_argument("--max-seq-length", type=int, default=1024)
    ap.add_argument("--vocab-size", type=int, default=8192)
    args = ap.parse_args()

    from lintseq.training import sft
    from lintseq.training.config import TrainConfig
    from lintseq.training.shapes import count_parameters

    device = "cuda" if cuda else "cpu"
    rows = build_rows(args.programs, 5)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "lintseq.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        cfg = TrainConfig(
            data=str(data),
            output=str(Path(tmp) / "out"),
            init=args.init,
            vocab_size=args.vocab_size,
            micro_batch_size=args.micro_batch_size,
            batch_size=args.micro_batch_size * args.accumulation,
            max_seq_length=args.max_seq_length,
            max_steps=args.steps,
            logging_steps=args.steps,
        )
        cfg.validate()
        train_rows = sft.load_training_rows(cfg.data)
        tok = sft.build_tokenizer(cfg, train_rows)
        train_rows, dropped = sft.fitting_rows(train_rows, tok, cfg.max_seq_length)
        torch.manual_seed(0)
        model = sft.build_model(cfg, tok)
        reference_state = {k: v.clone() for k, v in model.state_dict().items()}
        n_params = count_parameters(model)
        cfg = sft.resolve_config(cfg, n_params)
        trainer = sft.build_trainer(cfg, model, tok, train_rows, str(Path(tmp) / "work"), cfg.max_steps)

        # the batches the trainer will see, for the reference loop and the token count
        loader = trainer.get_train_dataloader()
        batches = []
        for batch in loader:
            batches.append(batch)
            if len(batches) == args.steps * args.accumulation:
                break
        while len(batches) < args.steps * args.accumulation:
            batches += batches[: args.steps * args.accumulation - len(batches)]
        tokens = sum(int(b["attention_mask"].sum()) for b in batches)

        if cuda:
            torch.cuda.reset_peak_memory_stats()
        sync(device)
        t0 = time.perf_counter()
        trainer.train()
        sync(device)
        pipeline_s = time.perf_counter() - t0
        pipeline_mem = peak_memory_mib(device)

        # reference: same model shape and weights, same batches, plain AdamW with the same settings
        ref = sft.build_model(cfg, tok)
        ref.load_state_dict(reference_state)
        ref.to(device).train()
        opt = torch.optim.AdamW(ref.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        dtype = torch.bfloat16 if cfg.bf16 else torch.float32
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        sync(device)
        t0 = time.perf_counter()
        for step in range(args.steps):
            for b in batches[step * args.accumulation : (step + 1) * args.accumulation]:
                b = {k: v.to(device) for k, v in b.items() if k in ("input_ids", "attention_mask", "labels")}
                with torch.autocast(device, dtype=dtype, enabled=cfg.bf16):
                    loss = ref(**b).loss / args.accumulation
                loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        sync(device)
        reference_s = time.perf_counter() - t0
        reference_mem = peak_memory_mib(device)

    name = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; model --init {args.init}: {n_params / 1e6:.1f}M parameters; bf16={cfg.bf16}")
    print(
        f"rows {len(train_rows)} (dropped {dropped} > {args.max_seq_length} tokens); "
        f"{args.steps} steps x {args.micro_batch_size} x {args.accumulation} sequences; {tokens} tokens"
    )
    print(
        f"lintseq train (TRL):  {tokens / pipeline_s:10.0f} tokens/s  {pipeline_s:7.2f} s  peak {pipeline_mem:8.0f} MiB"
    )
    print(
        f"plain AdamW loop:     {tokens / reference_s:10.0f} tokens/s  {reference_s:7.2f} s  peak {reference_mem:8.0f} MiB"
    )
    print(f"ratio (TRL / plain):  {reference_s / pipeline_s:.2f}x throughput")
    if not cuda:
        print("note: CPU peak memory is the process peak RSS, so the second figure includes the first run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
