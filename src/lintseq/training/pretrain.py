"""`lintseq pretrain`: a GPT-2-style causal LM from scratch on a raw code corpus.

The corpus is tokenized once (documents joined with EOS, nanoGPT-style, into a `uint16`/
`uint32` array under `OUTPUT/pretrain_state/`), cut into fixed-length sequences (the remainder
is dropped) and trained on with transformers' `Trainer`, plain next-token loss on every token.
Trainer checkpoints land in the same folder, so `--resume` continues where a stopped run left
off, with the optimizer, scheduler, RNG and data order restored.

The finished directory loads with `AutoModelForCausalLM`/`AutoTokenizer` and is ready for
`lintseq train --model OUTPUT`: `<|diff|>` is already one token of the vocabulary, pad is not
EOS, and the embedding matrix has room for both.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lintseq.engine.records import read_rows
from lintseq.io import atomic_write, temp_dir, write_atomic
from lintseq.training.checkpoints import last_complete_checkpoint, refuse_changed
from lintseq.training.config import PRETRAIN_CONFIG_NAME, PRETRAIN_FIXED, PretrainConfig, dump_toml, load_config
from lintseq.training.processes import check_precision, launched_world_size, start
from lintseq.training.steps import accumulation_steps, total_steps
from lintseq.training.tokenizer import add_diff_token, train_bpe_tokenizer

log = logging.getLogger("lintseq.pretrain")

STATE_DIR = "pretrain_state"  # tokens and Trainer checkpoints; delete it once no more resuming
TOKENS = "tokens.npy"
TOKENS_META = "tokens.json"
SUMMARY = "pretrain_summary.json"


@dataclass
class PretrainResult:
    """What a run did; also written to `pretrain_summary.json`."""

    output: str
    config: PretrainConfig
    n_documents: int
    n_tokens: int
    n_sequences: int
    planned_steps: int
    global_step: int = 0
    n_parameters: int = 0
    resumed_from: str | None = None
    losses: list[float] = field(default_factory=list)
    train_runtime_s: float = 0.0
    main_process: bool = True  # False on the other processes of a multi-process run (they write nothing)

    def summary(self) -> dict[str, Any]:
        tokens_per_step = self.config.batch_size * self.config.seq_length
        return {
            "n_documents": self.n_documents,
            "n_tokens": self.n_tokens,
            "n_sequences": self.n_sequences,
            "planned_steps": self.planned_steps,
            "global_step": self.global_step,
            "tokens_per_step": tokens_per_step,
            "tokens_trained": self.global_step * tokens_per_step,
            "n_parameters": self.n_parameters,
            "resumed_from": self.resumed_from,
            "losses": self.losses,
            "train_runtime_s": self.train_runtime_s,
        }


# ---------------------------------------------------------------------------------------- corpus


def iter_documents(path: str | Path, text_field: str = "text") -> Iterator[str]:
    """Documents of a corpus: `text` of JSONL/Parquet rows, or every .py file under a directory.

    Directory files come in sorted order (so the packed corpus is the same on every machine);
    hidden and `__pycache__` folders are skipped, files that are not UTF-8 are skipped.
    """
    path = Path(path)
    if path.is_dir():
        for file in sorted(path.rglob("*.py")):
            if any(p.startswith(".") or p == "__pycache__" for p in file.relative_to(path).parts[:-1]):
                continue
            try:
                text = file.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if text.strip():
                yield text
        return
    if path.suffix == ".py":
        yield path.read_text(encoding="utf-8")
        return
    for n, row, _ in read_rows(path):
        if row is None:
            raise ValueError(f"{path}:{n}: not a JSON object")
        value = row.get(text_field)
        if not isinstance(value, str):
            raise ValueError(f"{path}:{n}: needs a string field {text_field!r} (as `lintseq mine --raw` writes)")
        if value.strip():
            yield value


def tokenize_corpus(docs: Iterable[str], tok, dest: Path, batch: int = 256) -> dict[str, Any]:
    """Token ids of all documents, each followed by EOS, saved as one array at `dest` (atomically)."""
    import numpy as np

    dtype = np.uint16 if len(tok) <= np.iinfo(np.uint16).max + 1 else np.uint32
    eos = tok.eos_token_id
    parts: list[np.ndarray] = []
    n_docs = 0

    def flush(texts: list[str]) -> None:
        # a document that spells out "<|endoftext|>" (tokenizer code does) must not end early
        for ids in tok(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]:
            parts.append(np.asarray(ids + [eos], dtype=dtype))

    pending: list[str] = []
    for doc in docs:
        pending.append(doc)
        n_docs += 1
        if len(pending) == batch:
            flush(pending)
            pending = []
    if pending:
        flush(pending)
    if not n_docs:
        raise ValueError("the corpus has no documents")
    tokens = np.concatenate(parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dest, "wb") as fh:
        np.save(fh, tokens)
    meta = {"n_documents": n_docs, "n_tokens": int(tokens.size), "dtype": str(tokens.dtype), "vocab": len(tok)}
    write_atomic(dest.parent / TOKENS_META, json.dumps(meta, indent=2))
    return meta


class PackedDataset:
    """Consecutive `seq_length` windows of the token array; labels are the inputs (the model shifts)."""

    def __init__(self, tokens_path: str | Path, seq_length: int):
        import numpy as np

        self.tokens = np.load(tokens_path, mmap_mode="r")
        self.seq_length = seq_length

    def __len__(self) -> int:
        return self.tokens.size // self.seq_length

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        if not 0 <= i < len(self):
            raise IndexError(i)
        start = i * self.seq_length
        ids = torch.from_numpy(self.tokens[start : start + self.seq_length].astype("int64"))
        return {"input_ids": ids, "labels": ids.clone()}


# ------------------------------------------------------------------------------------ the run


def _check_output(cfg: PretrainConfig) -> tuple[Path, dict[str, Any] | None]:
    """Whether the run may use the output directory (reads only); with `resume`, the saved
    config of the run to continue."""
    out = Path(cfg.output)
    saved_path = out / PRETRAIN_CONFIG_NAME
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory")
    if cfg.resume and saved_path.exists():
        saved = load_config(saved_path, PretrainConfig, "pretrain")
        keys = PRETRAIN_FIXED + ("data",)
        refuse_changed(str(out), {k: saved.get(k) for k in keys}, {k: getattr(cfg, k) for k in keys})
        return out, saved
    if out.exists() and any(out.iterdir()) and not cfg.overwrite:
        if not cfg.resume:
            raise FileExistsError(
                f"{out} exists and is not empty (use --resume to continue it, --overwrite to replace it)"
            )
        if not (out / STATE_DIR).is_dir():
            raise FileExistsError(f"{out} is not empty and holds no pre-training run to resume")
    return out, None


def build_tokenizer(cfg: PretrainConfig, out: Path) -> None:
    """Save the run's tokenizer in `out`: the one given, or a BPE trained on the corpus."""
    from transformers import AutoTokenizer

    if cfg.tokenizer:
        from lintseq.models.names import resolve_model

        tok = AutoTokenizer.from_pretrained(resolve_model(cfg.tokenizer))
    else:
        log.info("training a %d-token byte-level BPE on %s", cfg.vocab_size, cfg.data)
        tok = train_bpe_tokenizer(iter_documents(cfg.data, cfg.text_field), cfg.vocab_size)
    if tok.eos_token is None:
        raise ValueError("the tokenizer has no EOS token; documents could not be separated")
    add_diff_token(tok)
    tok.save_pretrained(out)


def training_arguments(cfg: PretrainConfig, state_dir: Path, max_steps: int, progress: bool = True):
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(state_dir),
        **cfg.trainer_kwargs(max_steps, progress),
        adam_beta2=cfg.adam_beta2,
        max_grad_norm=cfg.max_grad_norm,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit or None,
        dataloader_num_workers=0,
    )


def _install_final(work: Path, out: Path) -> None:
    """Move the saved model files into `out`, config.json last: without it nothing loads."""
    files = sorted(work.iterdir(), key=lambda p: p.name == "config.json")
    mode = 0o666 & ~_umask()
    for f in files:
        os.chmod(f, mode)  # mkdtemp's files are private
        os.replace(f, out / f.name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def pretrain(cfg: PretrainConfig, callbacks: list | None = None, progress: bool = True) -> PretrainResult:
    """Pre-train (or, with `cfg.resume`, continue pre-training) and save the model at `cfg.output`.

    Under `accelerate launch`/`torchrun` every process runs this; the main one trains the
    tokenizer, packs the corpus and writes every file, and the others read what it wrote.
    """
    from transformers import AutoTokenizer, Trainer, default_data_collator, set_seed

    from lintseq.training.sft import plan_line, save_trained
    from lintseq.training.shapes import count_parameters, init_model

    procs = start()
    cfg.validate()
    check_precision(cfg.use_bf16())
    if not Path(cfg.data).exists():
        raise ValueError(f"{cfg.data}: no such file or directory")
    out, saved = _check_output(cfg)
    resuming = saved is not None
    state = out / STATE_DIR
    procs.wait()  # every process has looked before the main one changes anything
    set_seed(cfg.seed)
    if procs.is_main:
        _prepare(cfg, out, resuming)
    procs.wait()
    tok = AutoTokenizer.from_pretrained(out)
    meta, dataset = _packed(cfg, state)

    vocab = len(tok) + (-len(tok)) % 64
    model = init_model(cfg.init, vocab, cfg.seq_length, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, seed=cfg.seed)
    n_params = count_parameters(model)
    cfg = replace(cfg, bf16=cfg.use_bf16(), resume=False, overwrite=False)
    world = launched_world_size()
    accum = accumulation_steps(cfg.batch_size, cfg.micro_batch_size, world)
    steps = cfg.max_steps or total_steps(len(dataset), cfg.epochs, cfg.micro_batch_size, accum, world)
    if procs.is_main:
        write_atomic(
            out / PRETRAIN_CONFIG_NAME,
            dump_toml(cfg.to_dict(), "lintseq pretrain config (resolved); repeat with --config"),
        )

    last = last_complete_checkpoint(state)
    result = PretrainResult(
        str(out),
        cfg,
        meta["n_documents"],
        meta["n_tokens"],
        len(dataset),
        steps,
        n_parameters=n_params,
        resumed_from=last,
        main_process=procs.is_main,
    )
    log.info(
        "%s: %d tokens per step, %s",
        cfg.init,
        cfg.batch_size * cfg.seq_length,
        plan_line(n_params, steps, cfg.lr, procs.count, last),
    )

    trainer = Trainer(
        model=model,
        args=training_arguments(cfg, state, steps, progress),
        train_dataset=dataset,
        data_collator=default_data_collator,
        callbacks=callbacks,
    )
    output = trainer.train(resume_from_checkpoint=last)
    result.global_step = trainer.state.global_step
    result.losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    result.train_runtime_s = float(output.metrics.get("train_runtime", 0.0))

    if not procs.is_main:
        save_trained(trainer, tok, None)
        return result
    _save_final(trainer, tok, out)
    write_atomic(out / SUMMARY, json.dumps(result.summary(), indent=2))
    return result


def _prepare(cfg: PretrainConfig, out: Path, resuming: bool) -> None:
    """The main process's part before training: a fresh output folder, the tokenizer trained on
    the corpus, the corpus tokenized once (kept across resumes)."""
    from transformers import AutoTokenizer

    state = out / STATE_DIR
    if not resuming and cfg.overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if not resuming:
        build_tokenizer(cfg, out)
    if not (resuming and (state / TOKENS).exists() and (state / TOKENS_META).exists()):
        tokenize_corpus(iter_documents(cfg.data, cfg.text_field), AutoTokenizer.from_pretrained(out), state / TOKENS)
    last_complete_checkpoint(state)  # sets aside a checkpoint cut short, before anyone looks


def _packed(cfg: PretrainConfig, state: Path) -> tuple[dict, PackedDataset]:
    """The tokenized corpus's counts and its sequences of `cfg.seq_length` tokens."""
    meta = json.loads((state / TOKENS_META).read_text(encoding="utf-8"))
    dataset = PackedDataset(state / TOKENS, cfg.seq_length)
    if len(dataset) == 0:
        raise ValueError(
            f"the corpus has {meta['n_tokens']} tokens, fewer than one sequence of {cfg.seq_length}; lower --seq-length"
        )
    log.info(
        "%d documents, %d tokens, %d sequences of %d (%d tail tokens dropped)",
        meta["n_documents"],
        meta["n_tokens"],
        len(dataset),
        cfg.seq_length,
        meta["n_tokens"] - len(dataset) * cfg.seq_length,
    )
    return meta, dataset


def _save_final(trainer: Any, tok: Any, out: Path) -> None:
    """The trained model and tokenizer, installed at `out` only once completely written."""
    from lintseq.training.sft import save_trained

    work = temp_dir(out / "final")
    try:
        save_trained(trainer, tok, work)
        _install_final(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
