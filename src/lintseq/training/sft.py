"""A `lintseq train` run: TRL `SFTTrainer` on prompt/completion rows, completion-only loss.

What this adds to TRL: `<|diff|>` as one new token whose embedding starts where the data predicts
it (`new_token.py`), rows longer than `max_seq_length` dropped and counted (TRL would cut their
tail and EOS), the paper's optimiser defaults, step matching between runs, LoRA merged before saving, and a saved
directory that transformers and vLLM load as is (generation config with pad not in EOS).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lintseq.diffs import DIFF_TOKEN
from lintseq.engine.records import read_rows
from lintseq.io import swap_dir, temp_dir, write_atomic
from lintseq.training.checkpoints import (
    BackgroundCheckpoints,
    join_checkpoint_writer,
    last_complete_checkpoint,
    refuse_changed,
)
from lintseq.training.config import CONFIG_NAME, TRAIN_FREE, TrainConfig, dump_toml, lr_for_parameters
from lintseq.training.processes import check_precision, launched_world_size, sharded_weights, start
from lintseq.training.steps import accumulation_steps, matched_epochs, total_steps
from lintseq.training.tokenizer import add_diff_token, train_bpe_tokenizer

log = logging.getLogger("lintseq.train")

RESUME_FILE = "run.json"  # in the checkpoint folder: what a resumed run must match


@dataclass
class TrainResult:
    """What a run did; also written to `train_summary.json` in the output directory."""

    output: str
    config: TrainConfig
    rows: int
    dropped_too_long: int
    planned_steps: int
    global_step: int = 0
    n_parameters: int = 0
    losses: list[float] = field(default_factory=list)
    match: dict[str, Any] | None = None
    resumed_from: str | None = None
    new_token: dict[str, Any] | None = None  # how `<|diff|>` started (`new_token.predictive_init`)
    main_process: bool = True  # False on the other processes of a multi-process run (they write nothing)

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "dropped_too_long": self.dropped_too_long,
            "planned_steps": self.planned_steps,
            "global_step": self.global_step,
            "n_parameters": self.n_parameters,
            "losses": self.losses,
            "match": self.match,
            "resumed_from": self.resumed_from,
            "new_token": self.new_token,
        }


def load_training_rows(path: str | Path) -> list[dict[str, str]]:
    """`prompt`/`completion` rows from a `lintseq format` file; any bad line is an error."""
    rows = []
    for n, row, _ in read_rows(path):
        if row is None:
            raise ValueError(f"{path}:{n}: not a JSON object")
        p, c = row.get("prompt"), row.get("completion")
        if not isinstance(p, str) or not isinstance(c, str):
            raise ValueError(f"{path}:{n}: needs string fields 'prompt' and 'completion' (run `lintseq format`)")
        rows.append({"prompt": p, "completion": c})
    if not rows:
        raise ValueError(f"{path}: no training rows")
    return rows


def sequence_lengths(rows: list[dict[str, str]], tokenizer) -> list[int]:
    """Token count of prompt + completion + EOS, tokenized the way TRL does it."""
    texts = [r["prompt"] + r["completion"] + tokenizer.eos_token for r in rows]
    lengths: list[int] = []
    for i in range(0, len(texts), 1024):
        lengths += [len(ids) for ids in tokenizer(texts[i : i + 1024])["input_ids"]]
    return lengths


def fitting_rows(rows: list[dict[str, str]], tokenizer, max_length: int) -> tuple[list[dict[str, str]], int]:
    """Rows that fit in `max_length` tokens whole, and how many did not."""
    kept = [r for r, n in zip(rows, sequence_lengths(rows, tokenizer)) if n <= max_length]
    return kept, len(rows) - len(kept)


def build_tokenizer(cfg: TrainConfig, rows: list[dict[str, str]]):
    """The run's tokenizer, with `<|diff|>` and a pad token distinct from EOS."""
    from transformers import AutoTokenizer

    name = cfg.tokenizer or cfg.model
    if name:
        from lintseq.models.names import resolve_model

        tok = AutoTokenizer.from_pretrained(resolve_model(name))
    else:
        tok = train_bpe_tokenizer((r["prompt"] + r["completion"] for r in rows), cfg.vocab_size)
    if tok.eos_token is None:
        raise ValueError("the tokenizer has no EOS token; the model could not learn to stop")
    add_diff_token(tok)
    return tok


def build_model(cfg: TrainConfig, tok):
    """Pretrained or freshly initialised model with room for the tokenizer's new tokens."""
    import torch
    from transformers import AutoModelForCausalLM

    from lintseq.training.shapes import init_model

    if cfg.init:
        vocab = len(tok) + (-len(tok)) % 64
        return init_model(
            cfg.init, vocab, cfg.max_seq_length, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, seed=cfg.seed
        )
    # full fine-tuning keeps fp32 master weights (bf16 autocast); LoRA can hold the frozen base in bf16
    dtype = torch.bfloat16 if cfg.lora and cfg.use_bf16() else torch.float32
    from lintseq.models.names import resolve_model

    assert cfg.model is not None  # TrainConfig.check: exactly one of model and init
    model = AutoModelForCausalLM.from_pretrained(resolve_model(cfg.model), dtype=dtype)
    positions = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions < cfg.max_seq_length:
        # e.g. a `lintseq pretrain --seq-length 512` model; longer rows would index past its position table
        raise ValueError(f"{cfg.model} handles at most {positions} positions; use --max-seq-length {positions} or less")
    # torch types a module's attributes as Tensor | Module; `weight` here is a Parameter
    if len(tok) > model.get_input_embeddings().weight.shape[0]:  # type: ignore[index]
        model.resize_token_embeddings(len(tok), pad_to_multiple_of=16, mean_resizing=True)
    return model


def start_new_token(cfg: TrainConfig, model, tok, rows: list[dict[str, str]]) -> dict[str, Any] | None:
    """Start `<|diff|>` as `cfg.new_token_init` says, when the pretrained model's vocabulary lacked it."""
    if cfg.init or cfg.new_token_init == "mean":
        return None  # a fresh model learns every token from its random start
    from transformers import AutoTokenizer

    from lintseq.models.names import resolve_model
    from lintseq.training.new_token import predictive_init

    assert cfg.model is not None
    base = AutoTokenizer.from_pretrained(resolve_model(cfg.model))
    if DIFF_TOKEN in base.get_vocab():
        return None  # the model already knows it (e.g. one that `lintseq pretrain` or `train` wrote)
    return predictive_init(model, tok, rows, tok.convert_tokens_to_ids(DIFF_TOKEN), known=len(base))


def lora_model(cfg: TrainConfig, model):
    """LoRA on all linear layers, plus the embedding matrices trained whole (new tokens included).

    The embedding parameters are made trainable in place rather than through peft's wrappers
    (`trainable_token_indices`, `modules_to_save`): TRL >= 1.16 computes the loss from
    `lm_head.weight` directly, which bypasses a wrapper on the head and breaks weight tying.
    """
    from peft import LoraConfig, get_peft_model

    inp, out = model.get_input_embeddings(), model.get_output_embeddings()
    peft_model = get_peft_model(
        model,
        LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target_modules,
            task_type="CAUSAL_LM",
        ),
    )
    inp.weight.requires_grad_(True)
    if out is not None:
        out.weight.requires_grad_(True)  # the same tensor when tied
    return peft_model


def plan_steps(cfg: TrainConfig, n_rows: int, tok) -> tuple[TrainConfig, int, dict[str, Any] | None]:
    """Resolve the step count; with `match_steps_with`, equal to the other run's total."""
    world = launched_world_size()
    accum = accumulation_steps(cfg.batch_size, cfg.micro_batch_size, world)
    if cfg.max_steps is not None:
        return cfg, cfg.max_steps, None
    if not cfg.match_steps_with:
        return cfg, total_steps(n_rows, cfg.epochs, cfg.micro_batch_size, accum, world), None
    other, _ = fitting_rows(load_training_rows(cfg.match_steps_with), tok, cfg.max_seq_length)
    if not other:
        raise ValueError(f"{cfg.match_steps_with}: no rows fit in {cfg.max_seq_length} tokens")
    other_epochs = cfg.match_epochs if cfg.match_epochs is not None else cfg.epochs
    steps = total_steps(len(other), other_epochs, cfg.micro_batch_size, accum, world)
    match = {
        "file": str(cfg.match_steps_with),
        "rows": len(other),
        "epochs": other_epochs,
        "steps": steps,
        "this_run_epochs": matched_epochs(n_rows, steps, cfg.micro_batch_size, accum, world),
    }
    return replace(cfg, max_steps=steps, match_steps_with=None, match_epochs=None), steps, match


def sft_config(cfg: TrainConfig, output_dir: str, max_steps: int, progress: bool = True):
    from trl import SFTConfig

    return SFTConfig(
        output_dir=output_dir,
        num_train_epochs=cfg.epochs,
        **cfg.trainer_kwargs(max_steps, progress),
        gradient_checkpointing=cfg.gradient_checkpointing,
        # padding-free batches leave the length to `fitting_rows` (TRL refuses a max_length it would not apply)
        max_length=None if cfg.padding_free and not cfg.packing else cfg.max_seq_length,
        packing=cfg.packing,
        padding_free=cfg.padding_free,
        completion_only_loss=True,
        # LoRA checkpoints would hold the adapter but not the embeddings trained in place
        save_strategy="no" if cfg.lora else "steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit or None,
        dataset_num_proc=None,
    )


def build_trainer(
    cfg: TrainConfig,
    model,
    tok,
    rows: list[dict[str, str]],
    output_dir: str,
    max_steps: int,
    callbacks: list | None = None,
    progress: bool = True,
):
    """The `SFTTrainer` for a resolved config (exposed so tests can inspect real batches)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTTrainer

    class NoFinalCheckpoint(TrainerCallback):
        """The Trainer saves a checkpoint at the last step; the finished model makes it useless."""

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= state.max_steps:
                control.should_save = False

    class Trainer(BackgroundCheckpoints, SFTTrainer):
        """TRL's trainer, its checkpoints written while the next step computes."""

    from lintseq.training.lm_head import fast_cpu_head

    fast_cpu_head()
    if cfg.padding_free or cfg.packing:  # TRL's packing joins rows too
        from lintseq.training.padding_free import use_varlen

        use_varlen(model)  # SDPA over a joined micro-batch would attend across its rows
    joiner = join_checkpoint_writer()
    trainer = Trainer(
        model=lora_model(cfg, model) if cfg.lora else model,
        args=sft_config(cfg, output_dir, max_steps, progress),
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        callbacks=[NoFinalCheckpoint(), joiner, *(callbacks or [])],
    )
    joiner.trainer = trainer
    return trainer


def finish_model(model, tok):
    """Merge LoRA and make generation stop at EOS and pad with a token that is not EOS."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    from lintseq.training.padding_free import NAME

    if model.config._attn_implementation == NAME:  # the saved model loads with what it came with
        model.set_attn_implementation("sdpa")
    gen = model.generation_config
    gen.eos_token_id = tok.eos_token_id
    gen.pad_token_id = tok.pad_token_id
    if tok.bos_token_id is not None:
        gen.bos_token_id = tok.bos_token_id
    model.config.eos_token_id = tok.eos_token_id
    model.config.pad_token_id = tok.pad_token_id
    if tok.pad_token_id == tok.eos_token_id:
        raise RuntimeError("pad token equals EOS; generate() would stop at once")
    return model


def checkpoint_dir(output: str | Path) -> Path:
    """Where a run keeps its checkpoints until it finishes: `OUTPUT.checkpoints`, beside it."""
    out = Path(output)
    return out.with_name(out.name + ".checkpoints")


def _check_output(cfg: TrainConfig) -> tuple[Path, Path]:
    """The output directory and the checkpoint directory, if the run may use them (reads only)."""
    out, state = Path(cfg.output), checkpoint_dir(cfg.output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not cfg.overwrite:
        raise FileExistsError(f"{out} exists and is not empty (use --overwrite)")
    if (
        not cfg.overwrite and not cfg.resume and any(state.glob("checkpoint-*"))
    ):  # a run stopped before its first has nothing to lose
        raise FileExistsError(
            f"{state} holds the checkpoints of a stopped run (use --resume to continue it, --overwrite to start over)"
        )
    return out, state


def save_trained(trainer, tok, work: Path | None) -> None:
    """Write the trained model (see `finish_model`) and tokenizer into `work`.

    Every process calls this, and only the main one passes a `work` folder: with FSDP or
    DeepSpeed ZeRO-3 each process holds a shard of the weights, and gathering them is a
    collective step. A LoRA adapter is merged on the main process, which holds the full
    weights (LoRA under sharded weights is refused before training).
    """
    acc = trainer.accelerator
    model = acc.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        if work is not None:
            finish_model(model, tok).save_pretrained(work)
            tok.save_pretrained(work)
        return
    state_dict = acc.get_state_dict(trainer.model_wrapped)
    if work is not None:
        finish_model(model, tok).save_pretrained(work, state_dict=state_dict)
        tok.save_pretrained(work)


def _file_digest(path: str | Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run_identity(cfg: TrainConfig) -> dict[str, Any]:
    """What a resumed run must share with the stopped one: its resolved settings and data."""
    return {k: v for k, v in cfg.to_dict().items() if k not in TRAIN_FREE} | {"data_sha256": _file_digest(cfg.data)}


def _check_resumable(state: Path, cfg: TrainConfig) -> None:
    import json

    saved = json.loads((state / RESUME_FILE).read_text(encoding="utf-8"))
    refuse_changed(f"from {state}", saved, _run_identity(cfg))


def resolve_config(cfg: TrainConfig, n_params: int) -> TrainConfig:
    """Fill in what depends on the model and the device, so the saved config repeats the run."""
    return replace(
        cfg,
        lr=cfg.lr if cfg.lr is not None else lr_for_parameters(n_params),
        bf16=cfg.use_bf16(),
    )


def train(cfg: TrainConfig, callbacks: list | None = None, progress: bool = True) -> TrainResult:
    """Run one training job and save the model directory at `cfg.output` (atomically).

    Checkpoints go to `OUTPUT.checkpoints/` every `save_steps` steps; `cfg.resume` continues
    from the last complete one (optimizer, scheduler, RNG and data order restored), and the
    folder is deleted once the model is saved. Under `accelerate launch`/`torchrun` every
    process runs this; the main one builds the tokenizer and writes every file.
    """
    import json

    from transformers import AutoTokenizer, set_seed

    from lintseq.training.shapes import count_parameters

    procs = start()
    cfg.validate()
    check_precision(cfg.use_bf16())
    if cfg.lora and sharded_weights():
        raise ValueError(
            "--lora merges the adapter into full weights on one process; "
            "train it with plain data parallelism (DDP), not FSDP or DeepSpeed ZeRO-3"
        )
    out, state = _check_output(cfg)
    resuming = cfg.resume and (state / RESUME_FILE).is_file()
    procs.wait()  # every process has looked before the main one changes anything
    set_seed(cfg.seed)  # the tokenizer's new embedding rows are drawn at random
    rows = load_training_rows(cfg.data)
    if procs.is_main:
        _prepare(cfg, rows, out, state, resuming)
    procs.wait()
    tok = AutoTokenizer.from_pretrained(state / "tokenizer")  # every process: the same tokens
    rows, dropped = fitting_rows(rows, tok, cfg.max_seq_length)
    if dropped:
        log.warning("dropped %d rows longer than %d tokens", dropped, cfg.max_seq_length)
    if not rows:
        raise ValueError(f"no rows fit in {cfg.max_seq_length} tokens")
    model = build_model(cfg, tok)
    n_params = count_parameters(model)
    cfg = resolve_config(cfg, n_params)
    cfg, steps, match = plan_steps(cfg, len(rows), tok)
    if resuming:
        _check_resumable(state, cfg)
    elif procs.is_main:
        write_atomic(state / RESUME_FILE, json.dumps(_run_identity(cfg), indent=2))
    last = last_complete_checkpoint(state)
    new_token = None if last else start_new_token(cfg, model, tok, rows)  # a checkpoint holds the trained one
    if new_token:
        log.info("<|diff|> starts predicted: p = %.2f where the data puts it next", new_token["p_at_positions"])
    result = TrainResult(
        str(out),
        cfg,
        len(rows),
        dropped,
        steps,
        n_parameters=n_params,
        match=match,
        resumed_from=last,
        new_token=new_token,
        main_process=procs.is_main,
    )
    log.info("%d rows, %s", len(rows), plan_line(n_params, steps, cfg.lr, procs.count, last))

    trainer = build_trainer(
        cfg, model, tok, rows, str(state), steps if cfg.max_steps is not None else -1, callbacks, progress
    )
    try:
        trainer.train(resume_from_checkpoint=last)
    finally:  # a run stopped by an error or Ctrl-C still finishes the checkpoint being written
        trainer.wait_for_checkpoint()
    result.global_step = trainer.state.global_step
    result.losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]

    if not procs.is_main:
        save_trained(trainer, tok, None)
        return result
    _save_final(trainer, tok, result)
    shutil.rmtree(state, ignore_errors=True)
    return result


def plan_line(n_params: int, steps: int, lr: float | None, processes: int, last: str | None) -> str:
    """What a training run is about to do, for its log."""
    parts = [f"{n_params} params", f"{steps} optimizer steps", f"lr {lr:g}" if lr is not None else "lr unset"]
    parts += [f"{processes} processes"] * (processes > 1) + [f"resuming from {last}"] * bool(last)
    return ", ".join(parts)


def _prepare(cfg: TrainConfig, rows: list[dict], out: Path, state: Path, resuming: bool) -> None:
    """The main process's part before training: a fresh state folder with the tokenizer (unless
    resuming), and a checkpoint cut short set aside before any process looks for one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if not resuming:  # nothing to resume, or a run stopped before it wrote anything to resume
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        build_tokenizer(cfg, rows).save_pretrained(state / "tokenizer")
    last_complete_checkpoint(state)


def _save_final(trainer: Any, tok: Any, result: TrainResult) -> None:
    """The model, its resolved config and summary, swapped in at the output only once complete."""
    import json

    out = Path(result.output)
    work = temp_dir(out)
    try:
        save_trained(trainer, tok, work)
        saved = replace(result.config, output=str(out), resume=False, overwrite=False)
        (work / CONFIG_NAME).write_text(
            dump_toml(saved.to_dict(), "lintseq train config (resolved); repeat with --config"), encoding="utf-8"
        )
        (work / "train_summary.json").write_text(json.dumps(result.summary(), indent=2), encoding="utf-8")
        swap_dir(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
