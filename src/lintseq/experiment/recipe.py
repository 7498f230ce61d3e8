"""The experiment's TOML schema: one file names the model, the data, both training arms, the
benchmarks and the sampling/evaluation settings.

Tables (every key optional unless said):

    seed = 42                      # one seed for generate, both training arms and sampling
    [model]   name = "PATH_OR_HUB_ID_OR_SHORT_NAME" (e.g. smollm2-135m)  or  init = "tiny" | "150m" | "400m"
    [pretrain]                     # only with model.init: any `PretrainConfig` key, plus
      corpus = "PATH"              # a raw corpus (JSONL from `mine --raw`, or a folder of .py)
      [pretrain.mine]              # ... or build one with `mine --raw` (see `MINE_KEYS`)
    [data]    sources = ["mbpp:train", "lintseq:sample", "rows.jsonl"], instruction_field,
              code_field, limit (the first N rows), mined_rows (a random subset of N mined rows,
              drawn with the seed);  [data.mine] mines instruction rows (see `MINE_KEYS`)
    [generate] samples (s, edit sequences per program), linter, weighting, workers
    [format]   chat = true renders prompts through the base model's chat template (instruct
               models); sampling then uses the same template
    [train]    any `TrainConfig` key shared by both arms, plus baseline_epochs (LintSeq gets the
               baseline's optimizer steps; `max_steps` instead gives both arms that many) and
               launcher (e.g. "accelerate launch --multi_gpu --num_processes 8": the training
               stages, pre-training included, run as `LAUNCHER -m lintseq train|pretrain`)
    [sample]   benchmarks, limit, n, temperature, top_p, min_p, max_new_tokens, backend, ...,
               zero_shot = true | "chat" | "completion" also samples the untouched base model
               (a third row; true means chat with [format] chat, else completion)
    [evaluate] k, timeout, memory_mb, workers, unsafe_no_sandbox (true: run samples unisolated
               where the kernel allows no sandbox, as `lintseq evaluate --unsafe-no-sandbox`)
    [gate]     the go/no-go check after training: problems (of the first benchmark; 0: no
               check), n, min_share (the share of the LintSeq arm's samples that must be edit
               sequences whose every hunk applies, else the run stops before the long sampling)

Relative paths are resolved against the config file's folder, so a config and its data travel
together. `load` returns an `ExperimentConfig`: one dataclass per table, every default filled
in. What is another dataclass's settings stays a dict: `[pretrain]` and `[train]` keep the
`PretrainConfig`/`TrainConfig` keys as given (the runs fill in the rest), the `[*.mine]`
tables are `MINE_KEYS` with every key set. `to_dict` is the nested form RUN_DIR/config.json
holds, and `from_dict` reads that back.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from lintseq.engine.generate import Settings
from lintseq.evaluation.evaluate_settings import EvaluateSettings
from lintseq.evaluation.problems import bundled_benchmark
from lintseq.experiment.layout import slug
from lintseq.formatting import FormatSettings
from lintseq.inference.types import SampleSettings
from lintseq.mining.mine_settings import MineSettings
from lintseq.settings import problems as settings_problems
from lintseq.settings import same_as, setting
from lintseq.training.config import INIT_SIZES, PretrainConfig, TrainConfig

BUNDLED_SOURCES = ("mbpp:train", "lintseq:sample")
# a [*.mine] table: `MineSettings` (its defaults) less what the stage sets (raw) or does not offer
MINE_KEYS = {
    k: list(v) if isinstance(v, tuple) else v
    for k, v in asdict(MineSettings()).items()
    if k not in ("raw", "ngram", "num_perm")
}
PER_ARM = ("data", "output", "model", "init", "epochs", "match_steps_with", "match_epochs", "resume", "overwrite")
PRETRAIN_OWN = ("data", "output", "init", "resume", "overwrite")


class ConfigError(ValueError):
    """A config that cannot describe an experiment; the message says which key is wrong."""


@dataclass
class ModelTable:
    name: str | None = None  # a path, hub id or short name ...
    init: str | None = None  # ... or a size to pre-train from scratch


@dataclass
class PretrainTable:
    corpus: str | None = None  # a raw corpus, or ...
    mine: dict[str, Any] | None = None  # ... one mined by the mine-corpus stage (`MINE_KEYS`, all set)
    settings: dict[str, Any] = field(default_factory=dict)  # `PretrainConfig` keys, as given


@dataclass
class DataTable:
    sources: list[str] = field(default_factory=list)
    instruction_field: str = same_as(Settings, "instruction_field")
    code_field: str = same_as(Settings, "code_field")
    limit: int | None = setting(None, min=1)  # the first N rows
    mined_rows: int | None = setting(None, min=1)  # a random subset of N mined rows, drawn with the seed
    mine: dict[str, Any] | None = None  # `MINE_KEYS`, all set


# The tables that hand settings to a job spell, default and check them as the job's settings
# class does (`same_as`); only what the experiment adds (benchmarks, workers, ...) is its own.


@dataclass
class GenerateTable:
    samples: int = same_as(Settings, "samples")
    linter: str = same_as(Settings, "linter")
    weighting: str = same_as(Settings, "weighting")
    workers: int = setting(0, min=0)  # 0: every core


@dataclass
class FormatTable:
    chat: bool = same_as(FormatSettings, "chat")


@dataclass
class TrainTable:
    baseline_epochs: float = 10.0
    launcher: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # `TrainConfig` keys both arms share, as given

    def to_dict(self) -> dict[str, Any]:
        return {"baseline_epochs": self.baseline_epochs, "launcher": self.launcher, **self.settings}


@dataclass
class SampleTable:
    benchmarks: list[str] = field(default_factory=lambda: ["humaneval", "mbpp"])
    limit: int | None = same_as(SampleSettings, "limit")
    n: int = same_as(SampleSettings, "n")
    temperature: float = same_as(SampleSettings, "temperature")
    top_p: float = same_as(SampleSettings, "top_p")
    min_p: float = same_as(SampleSettings, "min_p")
    max_new_tokens: int = same_as(SampleSettings, "max_new_tokens")
    backend: str = setting("hf", choices=("hf", "vllm"))  # SampleSettings' less openai (a served model)
    batch_size: int = same_as(SampleSettings, "batch_size")
    device: str = same_as(SampleSettings, "device")
    dtype: str = same_as(SampleSettings, "dtype")
    zero_shot: bool | str = False  # after `load`: False, "chat" or "completion"


@dataclass
class EvaluateTable:
    k: tuple[int, ...] = same_as(EvaluateSettings, "k")
    timeout: float = same_as(EvaluateSettings, "timeout")
    memory_mb: int = same_as(EvaluateSettings, "memory_mb")
    workers: int | None = same_as(EvaluateSettings, "workers")
    unsafe_no_sandbox: bool = same_as(EvaluateSettings, "unsafe_no_sandbox")

    def __post_init__(self) -> None:
        self.k = tuple(self.k)  # as EvaluateSettings holds it (TOML and config.json give a list)


@dataclass
class GateTable:
    problems: int = setting(8, min=0)  # of the first benchmark; 0: no check
    n: int = setting(2, min=1)
    min_share: float = setting(0.5, min=0, max=1)


@dataclass
class ExperimentConfig:
    seed: int = 42
    model: ModelTable = field(default_factory=ModelTable)
    pretrain: PretrainTable | None = None
    data: DataTable = field(default_factory=DataTable)
    generate: GenerateTable = field(default_factory=GenerateTable)
    format: FormatTable = field(default_factory=FormatTable)
    train: TrainTable = field(default_factory=TrainTable)
    sample: SampleTable = field(default_factory=SampleTable)
    evaluate: EvaluateTable = field(default_factory=EvaluateTable)
    gate: GateTable = field(default_factory=GateTable)

    def to_dict(self) -> dict[str, Any]:
        """The nested form (the table order and keys RUN_DIR/config.json has always had)."""
        doc: dict[str, Any] = {"seed": self.seed}
        for name in ("model", "data", "generate", "format", "sample", "evaluate"):
            doc[name] = asdict(getattr(self, name))
        pre = self.pretrain
        doc["pretrain"] = None if pre is None else asdict(pre)
        doc["train"] = self.train.to_dict()
        doc["gate"] = asdict(self.gate)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ExperimentConfig:
        """The config `to_dict` wrote (RUN_DIR/config.json), as it was: not checked again."""
        pre, train, generate = doc.get("pretrain"), dict(doc["train"]), dict(doc["generate"])
        if "s" in generate:  # RUN_DIR/config.json written before [generate] s was named samples
            generate["samples"] = generate.pop("s")
        return cls(
            seed=doc["seed"],
            model=ModelTable(**doc["model"]),
            pretrain=None if pre is None else PretrainTable(**pre),
            data=DataTable(**doc["data"]),
            generate=GenerateTable(**generate),
            format=FormatTable(**doc["format"]),
            train=TrainTable(train.pop("baseline_epochs"), train.pop("launcher"), train),
            sample=SampleTable(**doc["sample"]),
            evaluate=EvaluateTable(**doc["evaluate"]),
            gate=GateTable(**doc.get("gate", {})),  # runs from before the gate have none
        )


def recipe_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("lintseq.recipes").iterdir() if p.name.endswith(".toml"))


def recipe_path(name: str) -> Path:
    """The bundled recipe `name` (with or without `.toml`)."""
    name = name[:-5] if name.endswith(".toml") else name
    ref = resources.files("lintseq.recipes").joinpath(f"{name}.toml")
    if not ref.is_file():
        raise ConfigError(f"no recipe {name!r}; bundled recipes: {', '.join(recipe_names())}")
    return Path(str(ref))


def _check_keys(table: str, values: Any, allowed: set[str]) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"[{table}]: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _table(cls: type, name: str, values: Any, nested: tuple[str, ...] = ()) -> Any:
    """The table's dataclass, defaults filled in, each value checked against its field's type
    and bounds; `nested` tables are left to the caller."""
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table")
    given = {k: v for k, v in values.items() if k not in nested}
    _check_keys(name, set(given), _names(cls) - set(nested))
    found = settings_problems(cls, given)
    if found:
        raise ConfigError(f"[{name}]: " + "; ".join(found))
    return cls(**{k: copy.deepcopy(v) for k, v in given.items()})


def _resolve(base: Path, value: str) -> str:
    """A path relative to the config's folder; hub ids and bundled names stay as they are."""
    from lintseq.models.names import KNOWN

    if value in BUNDLED_SOURCES or bundled_benchmark(value) or (value in KNOWN and not (base / value).exists()):
        return value
    p = Path(value).expanduser()
    if p.is_absolute():
        return str(p)
    candidate = base / p
    # a hub id such as google/gemma-2-2b is not a local path: keep it unless it exists here
    return str(candidate) if candidate.exists() or value.startswith((".", "~")) or "/" not in value else value


def _mine_table(table: str, values: Any, base: Path) -> dict:
    if not isinstance(values, dict):
        raise ConfigError(f"[{table}] must be a table")
    _check_keys(table, values, set(MINE_KEYS))
    out = {**copy.deepcopy(MINE_KEYS), **values}
    out["paths"] = [str((base / p) if not Path(p).is_absolute() else p) for p in out["paths"]]
    if not (out["paths"] or out["packages"] or out["stdlib"] or out["site_packages"]):
        raise ConfigError(f"[{table}]: nothing to mine: give paths, packages, stdlib = true or site_packages = true")
    return out


def _model(model: ModelTable, raw: dict, base: Path) -> None:
    if bool(model.name) == bool(model.init):
        raise ConfigError("[model]: give exactly one of name = PATH_OR_HUB_ID and init = SIZE")
    if model.init and model.init not in INIT_SIZES:
        raise ConfigError(f"[model]: unknown init size {model.init!r}; use one of {', '.join(INIT_SIZES)}")
    if model.name:
        model.name = _resolve(base, model.name)
    if model.init and raw.get("pretrain") is None:
        raise ConfigError(
            "[model] init = SIZE needs a [pretrain] table (corpus = PATH or [pretrain.mine]): "
            "both arms must start from the same weights and tokenizer"
        )


def _pretrain(pre: Any, model: ModelTable, base: Path) -> PretrainTable | None:
    if pre is None:
        return None
    if not model.init:
        raise ConfigError("[pretrain] needs [model] init = SIZE (a named model is already trained)")
    pre = dict(pre)
    mine_cfg = pre.pop("mine", None)
    corpus = pre.pop("corpus", None)
    if bool(corpus) == bool(mine_cfg):
        raise ConfigError("[pretrain]: give exactly one of corpus = PATH and a [pretrain.mine] table")
    own = sorted(set(pre) & set(PRETRAIN_OWN))
    if own:
        raise ConfigError(f"[pretrain]: {', '.join(own)} are set by the experiment")
    _check_keys("pretrain", pre, _names(PretrainConfig) - set(PRETRAIN_OWN))
    return PretrainTable(
        _resolve(base, corpus) if corpus else None,
        _mine_table("pretrain.mine", mine_cfg, base) if mine_cfg else None,
        pre,
    )


def _data(data: DataTable, mine: Any, base: Path) -> None:
    data.mine = _mine_table("data.mine", mine, base) if mine else None
    if isinstance(data.sources, str):
        data.sources = [data.sources]
    data.sources = [_resolve(base, s) for s in data.sources]
    if data.mined_rows is not None and not data.mine:
        raise ConfigError("[data]: mined_rows needs a [data.mine] table")
    if not data.sources and not data.mine:
        raise ConfigError("[data]: no instruction data: give sources = [...] and/or a [data.mine] table")
    for s in data.sources:
        if s not in BUNDLED_SOURCES and not bundled_benchmark(s) and not Path(s).exists():
            raise ConfigError(
                f"[data]: source {s!r} is neither a bundled set ({', '.join(BUNDLED_SOURCES)}, "
                "mbpp:SPLIT) nor an existing file"
            )


def _train(raw: dict, pretrain: PretrainTable | None, base: Path) -> TrainTable:
    settings = dict(raw.get("train", {}))
    extra = _names(TrainTable) - {"settings"}
    _check_keys("train", settings, (_names(TrainConfig) - set(PER_ARM)) | extra)
    for table in (settings, pretrain.settings if pretrain else {}):
        if table.get("tokenizer"):
            table["tokenizer"] = _resolve(base, table["tokenizer"])
    train = TrainTable(**{k: settings.pop(k) for k in extra if k in settings}, settings=settings)
    if train.baseline_epochs <= 0:
        raise ConfigError("[train]: baseline_epochs must be positive")
    if train.launcher is not None and (not isinstance(train.launcher, str) or not train.launcher.strip()):
        raise ConfigError('[train]: launcher must be a command such as "accelerate launch --num_processes 8"')
    return train


def _sample(sample: SampleTable, data: DataTable, chat: Any, base: Path) -> None:
    if isinstance(sample.benchmarks, str):
        sample.benchmarks = [sample.benchmarks]
    if not sample.benchmarks:
        raise ConfigError("[sample]: no benchmarks")
    written = list(sample.benchmarks)
    sample.benchmarks = [_resolve(base, b) for b in sample.benchmarks]
    slugs = [slug(b) for b in sample.benchmarks]
    same = sorted({b for b, sl in zip(sample.benchmarks, slugs) if slugs.count(sl) > 1})
    if same:
        raise ConfigError(f"[sample]: benchmarks {', '.join(same)} would share a stage folder; rename a file")
    for name, b in zip(written, sample.benchmarks):
        if not bundled_benchmark(b) and not Path(b).is_file():
            raise ConfigError(
                f"[sample]: benchmarks: {name!r} is neither a bundled benchmark (humaneval, humaneval+, "
                "mbpp[:split], mbpp-sanitized[:split], mbpp+) nor an existing JSONL file"
            )
    evaluated = {bundled_benchmark(b) for b in sample.benchmarks} - {None}
    for s in data.sources:
        if bundled_benchmark(s) in evaluated:
            raise ConfigError(
                f"[data]: source {s!r} is a benchmark that [sample] evaluates: training on it "
                "would measure memorisation (MBPP's training split is mbpp:train)"
            )
    if sample.zero_shot is True:
        sample.zero_shot = "chat" if chat else "completion"
    elif sample.zero_shot not in (False, "chat", "completion"):
        raise ConfigError('[sample]: zero_shot must be true, false, "chat" or "completion"')


def _evaluate(ev: EvaluateTable, n: int) -> None:
    ev.k = tuple(sorted(set(ev.k)))
    if ev.k[-1] > n:
        raise ConfigError(f"[evaluate]: k = {ev.k[-1]} needs at least that many samples; [sample] n = {n}")


def normalize(raw: dict, base: Path) -> ExperimentConfig:
    """Every table with its defaults filled in, checked, paths resolved."""
    raw = copy.deepcopy(raw)
    _check_keys("top level", raw, _names(ExperimentConfig))
    seed = raw.pop("seed", 42)
    if not isinstance(seed, int):
        raise ConfigError("seed must be an integer")
    model: ModelTable = _table(ModelTable, "model", raw.get("model", {}))
    data: DataTable = _table(DataTable, "data", raw.get("data", {}), nested=("mine",))
    generate: GenerateTable = _table(GenerateTable, "generate", raw.get("generate", {}))
    fmt: FormatTable = _table(FormatTable, "format", raw.get("format", {}))
    sample: SampleTable = _table(SampleTable, "sample", raw.get("sample", {}))
    evaluate: EvaluateTable = _table(EvaluateTable, "evaluate", raw.get("evaluate", {}))
    _model(model, raw, base)
    pretrain = _pretrain(raw.get("pretrain"), model, base)
    _data(data, raw.get("data", {}).get("mine"), base)
    train = _train(raw, pretrain, base)
    found = settings_problems(TrainConfig, train.settings)
    if found:
        raise ConfigError("[train]: " + "; ".join(found))
    _sample(sample, data, fmt.chat, base)
    _evaluate(evaluate, sample.n)
    gate: GateTable = _table(GateTable, "gate", raw.get("gate", {}))
    return ExperimentConfig(seed, model, pretrain, data, generate, fmt, train, sample, evaluate, gate)


def load(path: str | Path) -> ExperimentConfig:
    """Read and check a config file; see the module docstring for the schema."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    try:
        return normalize(raw, path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
