"""Pre-training throughput of `lintseq pretrain` (transformers Trainer), against a bare PyTorch loop.

Writes a corpus of the first `--files` standard-library modules, runs the real pipeline
(`lintseq.training.pretrain.pretrain`: tokenizer training, tokenization, packing, Trainer with
checkpointing off until the end) and, as the in-run reference, a plain AdamW loop over the same
packed sequences on a fresh model of the same shape. Prints tokens/s of the training loops
(the Trainer's own `train_runtime`, which excludes tokenizer training and tokenization but includes
the one checkpoint the Trainer always writes at the last step), the
preparation time, peak memory and the ratio to the reference.

    python benchmarks/pretrain_throughput.py                                       # CPU: tiny
    python benchmarks/pretrain_throughput.py --init 150m --steps 30 --micro-batch-size 16   # GPU
"""

from __future__ import annotations

import argparse
import json
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from torch_timing import peak_memory_mib, sync


def write_corpus(path: Path, n_files: int) -> int:
    """The first `n_files` stdlib modules (sorted, so every machine builds the same corpus)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py"))[:n_files]
    with open(path, "w", encoding="utf-8") as fh:
        for f in files:
            fh.write(json.dumps({"text": f.read_text(encoding="utf-8", errors="replace"), "source": f.name}) + "\n")
    return len(files)


def main() -> int:
    import torch

    cuda = torch.cuda.is_available()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", default="150m" if cuda else "tiny", choices=["tiny", "150m", "400m"])
    ap.add_argument("--files", type=int, default=200 if cuda else 20)
    ap.add_argument("--steps", type=int, default=30 if cuda else 10)
    ap.add_argument("--micro-batch-size", type=int, default=16 if cuda else 4)
    ap.add_argument("--accumulation", type=int, default=1)
    ap.add_argument("--seq-length", type=int, default=1024 if cuda else 256)
    ap.add_argument("--vocab-size", type=int, default=32768 if cuda else 2048)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads [torch's default]")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from lintseq.training.config import PretrainConfig
    from lintseq.training.pretrain import STATE_DIR, TOKENS, PackedDataset, pretrain
    from lintseq.training.shapes import init_model

    device = "cuda" if cuda else "cpu"
    batch = args.micro_batch_size * args.accumulation
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        n_files = write_corpus(corpus, args.files)
        cfg = PretrainConfig(
            data=str(corpus),
            output=str(Path(tmp) / "out"),
            init=args.init,
            vocab_size=args.vocab_size,
            seq_length=args.seq_length,
            micro_batch_size=args.micro_batch_size,
            batch_size=batch,
            max_steps=args.steps,
            save_steps=10**9,
            logging_steps=args.steps,
        )
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        result = pretrain(cfg)
        total_s = time.perf_counter() - t0
        pipeline_s = result.train_runtime_s
        pipeline_mem = peak_memory_mib(device)
        tokens = args.steps * batch * args.seq_length

        # reference: a fresh model of the same shape, the same packed sequences, plain AdamW
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(cfg.output)
        data = PackedDataset(Path(cfg.output) / STATE_DIR / TOKENS, args.seq_length)
        vocab = len(tok) + (-len(tok)) % 64
        ref = init_model(args.init, vocab, args.seq_length, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)
        ref.to(device).train()
        opt = torch.optim.AdamW(ref.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
        bf16 = bool(result.config.bf16)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        sync(device)
        t0 = time.perf_counter()
        i = 0
        for _ in range(args.steps):
            for _ in range(args.accumulation):
                ids = torch.stack([data[(i + j) % len(data)]["input_ids"] for j in range(args.micro_batch_size)])
                i += args.micro_batch_size
                ids = ids.to(device)
                with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
                    loss = ref(input_ids=ids, labels=ids).loss / args.accumulation
                loss.backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        sync(device)
        reference_s = time.perf_counter() - t0
        reference_mem = peak_memory_mib(device)

    name = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; model --init {args.init}: {result.n_parameters / 1e6:.1f}M parameters; bf16={bf16}")
    print(
        f"corpus: {n_files} stdlib files, {result.n_tokens} tokens, {result.n_sequences} sequences of {args.seq_length}"
    )
    print(f"{args.steps} steps x {args.micro_batch_size} x {args.accumulation} sequences = {tokens} tokens trained")
    print(f"preparation (tokenizer, tokens, model, save): {total_s - pipeline_s:7.2f} s")
    print(
        f"lintseq pretrain (Trainer): {tokens / pipeline_s:10.0f} tokens/s  {pipeline_s:7.2f} s  peak {pipeline_mem:8.0f} MiB"
    )
    print(
        f"plain AdamW loop:           {tokens / reference_s:10.0f} tokens/s  {reference_s:7.2f} s  peak {reference_mem:8.0f} MiB"
    )
    print(f"ratio (Trainer / plain):    {reference_s / pipeline_s:.2f}x throughput")
    if not cuda:
        print("note: CPU peak memory is the process peak RSS, so the second figure includes the first run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
