"""Settings of a training run, with the paper's defaults, read from and saved as TOML.

The resolved config (every default filled in, learning rate and step count included) is saved
next to the model as `lintseq_train_config.toml`; `lintseq train --config` on that file repeats
the run.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

CONFIG_NAME = "lintseq_train_config.toml"
INIT_SIZES = ("tiny", "150m", "400m")


class _Settings:
    """What both run configs share: dict round trip and the batch/reporting checks."""

    _KIND = "training"
    batch_size: int
    lr: float | None
    lr_scheduler: str
    warmup_ratio: float
    weight_decay: float
    optim: str
    seed: int
    bf16: bool | None
    gradient_checkpointing: bool
    logging_steps: int
    micro_batch_size: int
    report_to: str

    def _check_batch_and_reporting(self) -> None:
        from lintseq.training.processes import launched_world_size
        from lintseq.training.steps import accumulation_steps

        if self.micro_batch_size > self.batch_size:
            self.micro_batch_size = self.batch_size
        accumulation_steps(self.batch_size, self.micro_batch_size, launched_world_size())  # refuses what does not divide
        if self.report_to not in ("none", "tensorboard", "wandb"):
            raise ValueError("--report-to must be none, tensorboard or wandb")
        if self.report_to != "none" and importlib.util.find_spec(self.report_to) is None:
            raise ValueError(f"--report-to {self.report_to} needs the {self.report_to!r} package (pip install {self.report_to})")

    def use_bf16(self) -> bool:
        """`bf16` as set, or when unset, whether a CUDA device supports it."""
        if self.bf16 is not None:
            return self.bf16
        import torch

        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()

    def trainer_kwargs(self, max_steps: int) -> dict[str, Any]:
        """`TrainingArguments` fields both runs set the same way (TRL's SFTConfig extends it)."""
        from lintseq.training.processes import cpu_group, launched_world_size
        from lintseq.training.steps import accumulation_steps

        return dict(
            max_steps=max_steps,
            per_device_train_batch_size=self.micro_batch_size,
            gradient_accumulation_steps=accumulation_steps(self.batch_size, self.micro_batch_size, launched_world_size()),
            use_cpu=cpu_group(),
            learning_rate=self.lr,
            lr_scheduler_type=self.lr_scheduler,
            warmup_steps=self.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
            weight_decay=self.weight_decay,
            optim=self.optim,
            seed=self.seed,
            data_seed=self.seed,
            bf16=bool(self.bf16),
            fp16=False,
            activation_checkpointing=self.gradient_checkpointing,
            logging_steps=self.logging_steps,
            logging_first_step=True,
            report_to=[] if self.report_to == "none" else [self.report_to],
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        values = {k.replace("-", "_"): v for k, v in values.items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls._KIND} settings: {', '.join(unknown)}")
        return cls(**values)


@dataclass
class TrainConfig(_Settings):
    """One training run. `None` means "decide from the model/data/device at run time"."""

    data: str = ""
    output: str = ""
    model: str | None = None  # path or hub name of a pretrained causal LM
    init: str | None = None  # or a from-scratch size: tiny | 150m | 400m
    tokenizer: str | None = None  # defaults to the model's; with --init, trained on the data
    vocab_size: int = 8192  # for a tokenizer trained on the data
    epochs: float = 1.0
    max_steps: int | None = None
    match_steps_with: str | None = None  # another formatted file ...
    match_epochs: float | None = None  # ... and its epochs (default: `epochs`)
    max_seq_length: int = 1024
    batch_size: int = 512  # effective, in sequences (paper)
    micro_batch_size: int = 8
    lr: float | None = None  # None: by model size (paper)
    lr_scheduler: str = "linear"
    warmup_ratio: float = 0.001
    weight_decay: float = 0.01
    optim: str = "adamw_torch"
    seed: int = 42
    bf16: bool | None = None  # None: on when a CUDA device supports it
    gradient_checkpointing: bool = False
    packing: bool = False
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: str = "all-linear"
    logging_steps: int = 10
    report_to: str = "none"  # none | tensorboard | wandb
    save_steps: int = 500  # a checkpoint every N optimizer steps, in OUTPUT.checkpoints/
    save_total_limit: int = 1  # checkpoints kept; 0 keeps all
    resume: bool = False  # continue a stopped run from its last checkpoint
    overwrite: bool = False

    def validate(self) -> None:
        if not self.data:
            raise ValueError("no training data given (--data)")
        if not self.output:
            raise ValueError("no output directory given (--output)")
        if bool(self.model) == bool(self.init):
            raise ValueError("give exactly one of --model PATH_OR_NAME and --init SIZE")
        if self.init and self.init not in INIT_SIZES:
            raise ValueError(f"unknown --init size {self.init!r}; use one of {', '.join(INIT_SIZES)}")
        if self.max_steps is not None and self.match_steps_with:
            raise ValueError("--max-steps and --match-steps-with both set the step count; give one")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("--max-steps must be at least 1")
        if not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise ValueError("--epochs must be positive")
        if self.max_seq_length < 8:
            raise ValueError("--max-seq-length is too small")
        if self.save_steps < 1:
            raise ValueError("--save-steps must be at least 1")
        if self.save_total_limit < 0:
            raise ValueError("--save-total-limit must be 0 (keep all) or more")
        if self.resume and self.overwrite:
            raise ValueError("--resume continues a stopped run; --overwrite starts over; give one")
        if self.resume and self.lora:
            raise ValueError("--resume is not available with --lora (its checkpoints would not hold the trained embeddings)")
        self._check_batch_and_reporting()



def load_config(path: str | Path, cls: type = TrainConfig, table: str = "train") -> dict[str, Any]:
    """Settings from a TOML (top level or a `[train]`/`[table]` table) or JSON file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a valid config file: {exc}") from None
    if table in values and isinstance(values[table], dict):
        values = values[table]
    cls.from_dict(values)  # reject unknown keys early
    return {k.replace("-", "_"): v for k, v in values.items()}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_toml(values: dict[str, Any], header: str = "") -> str:
    """Flat TOML (tomllib only reads); `None` values are left out, which means "default"."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def lr_for_parameters(n_params: int) -> float:
    """The paper's learning rates: 3e-4 for ~100M-400M, 5e-5 for 2-4B, 1e-5 for 8B and up."""
    if n_params < 1_000_000_000:
        return 3e-4
    if n_params < 6_000_000_000:
        return 5e-5
    return 1e-5


# settings a resumed `train` run may change; every other one must equal the stopped run's
TRAIN_FREE = ("output", "resume", "overwrite", "logging_steps", "report_to", "save_steps", "save_total_limit")

PRETRAIN_CONFIG_NAME = "lintseq_pretrain_config.toml"
# settings a resumed run must share with the run that wrote the checkpoints
PRETRAIN_FIXED = ("init", "tokenizer", "vocab_size", "seq_length", "batch_size", "seed", "text_field")


@dataclass
class PretrainConfig(_Settings):
    """One pre-training run from scratch. Defaults follow GPT-2-style small-model recipes
    (TinyCodeLM: GPT-2 shapes, lr 3e-4, warm-up then cosine decay, AdamW beta2 0.95)."""

    _KIND = "pre-training"

    data: str = ""  # JSONL with a text field (`lintseq mine --raw`) or a directory of .py files
    output: str = ""
    init: str = "150m"
    tokenizer: str | None = None  # a tokenizer path; default: byte-level BPE trained on the corpus
    vocab_size: int = 32768
    text_field: str = "text"
    epochs: float = 1.0
    max_steps: int | None = None
    seq_length: int = 1024
    batch_size: int = 256  # effective, in sequences of seq_length tokens
    micro_batch_size: int = 8
    lr: float = 3e-4
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.01
    weight_decay: float = 0.1
    adam_beta2: float = 0.95
    max_grad_norm: float = 1.0
    optim: str = "adamw_torch"
    seed: int = 42
    bf16: bool | None = None  # None: on when a CUDA device supports it
    gradient_checkpointing: bool = False
    save_steps: int = 500
    save_total_limit: int = 2  # checkpoints kept; 0 keeps all
    resume: bool = False
    logging_steps: int = 10
    report_to: str = "none"  # none | tensorboard | wandb
    overwrite: bool = False

    def validate(self) -> None:
        if not self.data:
            raise ValueError("no pre-training corpus given (--data)")
        if not self.output:
            raise ValueError("no output directory given (--output)")
        if self.init not in INIT_SIZES:
            raise ValueError(f"unknown --init size {self.init!r}; use one of {', '.join(INIT_SIZES)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("--max-steps must be at least 1")
        if not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise ValueError("--epochs must be positive")
        if self.seq_length < 8:
            raise ValueError("--seq-length is too small")
        if self.vocab_size < 300:
            raise ValueError("--vocab-size must be at least 300 (256 bytes plus special tokens)")
        if self.save_total_limit < 0:
            raise ValueError("--save-total-limit must be 0 (keep all) or more")
        if self.save_steps < 1:
            raise ValueError("--save-steps must be at least 1")
        if self.resume and self.overwrite:
            raise ValueError("--resume continues the run in the output directory; --overwrite deletes it; give one")
        self._check_batch_and_reporting()

