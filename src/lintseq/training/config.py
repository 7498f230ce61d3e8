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
from typing import TYPE_CHECKING, Any, ClassVar, Self

from lintseq.settings import setting

CONFIG_NAME = "lintseq_train_config.toml"
INIT_SIZES = ("tiny", "150m", "400m")
REPORT_TO = ("none", "tensorboard", "wandb")
NEW_TOKEN_INITS = ("predictive", "mean")  # training/new_token.py


class _Settings:
    """What both run configs share: dict round trip and the batch/reporting checks."""

    if TYPE_CHECKING:  # each subclass is a dataclass
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

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
        accumulation_steps(
            self.batch_size, self.micro_batch_size, launched_world_size()
        )  # refuses what does not divide
        if self.report_to not in REPORT_TO:
            raise ValueError("--report-to must be none, tensorboard or wandb")
        if self.report_to != "none" and importlib.util.find_spec(self.report_to) is None:
            raise ValueError(
                f"--report-to {self.report_to} needs the {self.report_to!r} package (pip install {self.report_to})"
            )

    def use_bf16(self) -> bool:
        """`bf16` as set, or when unset, whether a CUDA device supports it."""
        if self.bf16 is not None:
            return self.bf16
        import torch

        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()

    def trainer_kwargs(self, max_steps: int, progress: bool = True) -> dict[str, Any]:
        """`TrainingArguments` fields both runs set the same way (TRL's SFTConfig extends it);
        without `progress`, log lines instead of a progress bar (`-q`)."""
        from lintseq.training.processes import cpu_group, launched_world_size
        from lintseq.training.steps import accumulation_steps

        return dict(
            max_steps=max_steps,
            per_device_train_batch_size=self.micro_batch_size,
            gradient_accumulation_steps=accumulation_steps(
                self.batch_size, self.micro_batch_size, launched_world_size()
            ),
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
            disable_tqdm=None if progress else True,  # None: as transformers decides
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        values = {k.replace("-", "_"): v for k, v in values.items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls._KIND} settings: {', '.join(unknown)}")
        return cls(**values)


@dataclass
class TrainConfig(_Settings):
    """One training run. `None` means "decide from the model/data/device at run time"."""

    data: str = setting("", help="Formatted JSONL.", path="file", exists=True)
    output: str = setting("", help="Model directory to write.", flags=("-o", "--output"), path="dir")
    model: str | None = setting(None, help="Pretrained causal LM (path or hub name).", flags=("-m", "--model"))
    init: str | None = setting(None, help="Train from scratch at this size.", choices=INIT_SIZES)
    tokenizer: str | None = setting(None, help="Tokenizer path/name [the model's; trained on the data with --init].")
    vocab_size: int = setting(8192, help="For a tokenizer trained on the data.")
    epochs: float = setting(1.0)
    max_steps: int | None = setting(None, help="Optimizer steps (overrides --epochs).")
    match_steps_with: str | None = setting(
        None, help="Take as many optimizer steps as a run on this formatted file would.", path="file", exists=True
    )
    match_epochs: float | None = setting(None, help="Epochs of that other run [--epochs].")
    max_seq_length: int = setting(1024, help="Longer rows are dropped (and counted), never truncated.")
    batch_size: int = setting(512, help="Effective batch, in sequences.")  # the paper's
    micro_batch_size: int = setting(8, help="Sequences per device per pass.")
    new_token_init: str = setting(
        "predictive",
        help="How <|diff|> starts when the model's vocabulary lacks it: likely where the data puts it, or the mean.",
        choices=NEW_TOKEN_INITS,
    )
    lr: float | None = setting(None, help="Learning rate [by model size: 3e-4 / 5e-5 / 1e-5].")  # the paper's
    lr_scheduler: str = setting("linear")
    warmup_ratio: float = setting(0.001)
    weight_decay: float = setting(0.01)
    optim: str = setting("adamw_torch")
    seed: int = setting(42)
    bf16: bool | None = setting(None, help="[on when the GPU supports it]")
    gradient_checkpointing: bool = setting(False, negatable=True)
    packing: bool = setting(False, negatable=True)
    padding_free: bool = setting(
        True, help="Join each micro-batch's rows into one sequence instead of padding them.", negatable=True
    )
    lora: bool = setting(False, help="Train a LoRA adapter (merged into the model when saved).")
    lora_r: int = setting(16)
    lora_alpha: int = setting(32)
    lora_dropout: float = setting(0.05)
    lora_target_modules: str = setting("all-linear")
    logging_steps: int = setting(10)
    report_to: str = setting("none", choices=REPORT_TO)
    save_steps: int = setting(500, help="Write a checkpoint (to OUTPUT.checkpoints/) every N optimizer steps.")
    save_total_limit: int = setting(1, help="Checkpoints kept; 0 keeps all.")
    resume: bool = setting(False, help="Continue a stopped run from its last checkpoint.")
    overwrite: bool = setting(False, help="Replace an existing output directory (and a stopped run's checkpoints).")

    def validate(self) -> None:
        if not self.data:
            raise ValueError("no training data given (--data)")
        if not self.output:
            raise ValueError("no output directory given (--output)")
        if bool(self.model) == bool(self.init):
            raise ValueError("give exactly one of --model PATH_OR_NAME and --init SIZE")
        if self.init and self.init not in INIT_SIZES:
            raise ValueError(f"unknown --init size {self.init!r}; use one of {', '.join(INIT_SIZES)}")
        if self.new_token_init not in NEW_TOKEN_INITS:
            raise ValueError(
                f"unknown --new-token-init {self.new_token_init!r}; use one of {', '.join(NEW_TOKEN_INITS)}"
            )
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
            raise ValueError(
                "--resume is not available with --lora (its checkpoints would not hold the trained embeddings)"
            )
        self._check_batch_and_reporting()


def load_config(path: str | Path, cls: type[_Settings] = TrainConfig, table: str = "train") -> dict[str, Any]:
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

    data: str = setting(
        "",
        help="Corpus: JSONL with a text field (`lintseq mine --raw`), or a directory of .py files.",
        path="any",
        exists=True,
    )
    output: str = setting("", help="Model directory to write.", flags=("-o", "--output"), path="dir")
    init: str = setting("150m", help="GPT-2 shape: tiny (tests), 150m (12x768), 400m (24x1024).", choices=INIT_SIZES)
    tokenizer: str | None = setting(None, help="Tokenizer path [a byte-level BPE trained on the corpus].")
    vocab_size: int = setting(32768, help="For a tokenizer trained on the corpus.")
    text_field: str = setting("text", help="JSONL field holding a document.")
    epochs: float = setting(1.0)
    max_steps: int | None = setting(None, help="Optimizer steps (overrides --epochs).")
    seq_length: int = setting(1024, help="Tokens per packed sequence.")
    batch_size: int = setting(256, help="Effective batch, in sequences.")  # of seq_length tokens
    micro_batch_size: int = setting(8, help="Sequences per device per pass.")
    lr: float = setting(3e-4)
    lr_scheduler: str = setting("cosine")
    warmup_ratio: float = setting(0.01)
    weight_decay: float = setting(0.1)
    adam_beta2: float = setting(0.95)
    max_grad_norm: float = setting(1.0)
    optim: str = setting("adamw_torch")
    seed: int = setting(42)
    bf16: bool | None = setting(None, help="[on when the GPU supports it]")
    gradient_checkpointing: bool = setting(False, negatable=True)
    save_steps: int = setting(500, help="Checkpoint every N optimizer steps.")
    save_total_limit: int = setting(2, help="Checkpoints kept (0: all).")
    resume: bool = setting(
        False, help="Continue the run in --output from its last checkpoint (its saved settings are the defaults)."
    )
    logging_steps: int = setting(10)
    report_to: str = setting("none", choices=REPORT_TO)
    overwrite: bool = setting(False, help="Delete an existing output directory first.")

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
