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
    [generate] s, linter, weighting, workers
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

Relative paths are resolved against the config file's folder, so a config and its data travel
together.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import asdict, fields
from importlib import resources
from pathlib import Path
from typing import Any

from lintseq.evaluation.problems import bundled_benchmark
from lintseq.mining.settings import MineSettings
from lintseq.training.config import INIT_SIZES, PretrainConfig, TrainConfig

BUNDLED_SOURCES = ("mbpp:train", "lintseq:sample")
# a [*.mine] table: `MineSettings` (its defaults) less what the stage sets (raw) or does not offer
MINE_KEYS = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(MineSettings()).items()
             if k not in ("raw", "ngram", "num_perm")}
DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {"name": None, "init": None},
    "data": {"sources": [], "instruction_field": "instruction", "code_field": "response", "limit": None,
             "mined_rows": None},
    "generate": {"s": 5, "linter": "fast", "weighting": "indent", "workers": 0},
    "format": {"chat": False},
    "sample": {
        "benchmarks": ["humaneval", "mbpp"], "limit": None, "n": 20, "temperature": 1.0, "top_p": 0.95,
        "min_p": 0.0, "max_new_tokens": 512, "backend": "hf", "batch_size": 16, "device": "auto", "dtype": "auto",
        "zero_shot": False,
    },
    "evaluate": {"k": [1, 5, 10], "timeout": 10.0, "memory_mb": 4096, "workers": None, "unsafe_no_sandbox": False},
}
TRAIN_EXTRA = {"baseline_epochs": 10.0, "launcher": None}
PER_ARM = ("data", "output", "model", "init", "epochs", "match_steps_with", "match_epochs", "resume", "overwrite")
PRETRAIN_OWN = ("data", "output", "init", "resume", "overwrite")


class ConfigError(ValueError):
    """A config that cannot describe an experiment; the message says which key is wrong."""


def recipe_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("lintseq.recipes").iterdir() if p.name.endswith(".toml"))


def recipe_path(name: str) -> Path:
    """The bundled recipe `name` (with or without `.toml`)."""
    name = name[:-5] if name.endswith(".toml") else name
    ref = resources.files("lintseq.recipes").joinpath(f"{name}.toml")
    if not ref.is_file():
        raise ConfigError(f"no recipe {name!r}; bundled recipes: {', '.join(recipe_names())}")
    return Path(str(ref))


def _check_keys(table: str, values: dict, allowed: set[str]) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"[{table}]: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")


def _resolve(base: Path, value: str) -> str:
    """A path relative to the config's folder; hub ids and bundled names stay as they are."""
    from lintseq.known_models import KNOWN

    if value in BUNDLED_SOURCES or bundled_benchmark(value) or (value in KNOWN and not (base / value).exists()):
        return value
    p = Path(value).expanduser()
    if p.is_absolute():
        return str(p)
    candidate = base / p
    # a hub id such as google/gemma-2-2b is not a local path: keep it unless it exists here
    return str(candidate) if candidate.exists() or value.startswith((".", "~")) or "/" not in value else value


def _mine_table(table: str, values: dict, base: Path) -> dict:
    _check_keys(table, values, set(MINE_KEYS))
    out = {**copy.deepcopy(MINE_KEYS), **values}
    out["paths"] = [str((base / p) if not Path(p).is_absolute() else p) for p in out["paths"]]
    if not (out["paths"] or out["packages"] or out["stdlib"] or out["site_packages"]):
        raise ConfigError(f"[{table}]: nothing to mine: give paths, packages, stdlib = true or site_packages = true")
    return out


def normalize(raw: dict, base: Path) -> dict:
    """Every table with its defaults filled in, checked, paths resolved."""
    raw = copy.deepcopy(raw)
    known = {"seed", "pretrain", "train", *DEFAULTS}
    _check_keys("top level", raw, known)
    seed = raw.pop("seed", 42)
    if not isinstance(seed, int):
        raise ConfigError("seed must be an integer")
    cfg: dict[str, Any] = {"seed": seed}
    for table, defaults in DEFAULTS.items():
        values = raw.get(table, {})
        if not isinstance(values, dict):
            raise ConfigError(f"[{table}] must be a table")
        _check_keys(table, {k for k in values if k != "mine"}, set(defaults))
        cfg[table] = {**copy.deepcopy(defaults), **{k: v for k, v in values.items() if k != "mine"}}

    model = cfg["model"]
    if bool(model["name"]) == bool(model["init"]):
        raise ConfigError("[model]: give exactly one of name = PATH_OR_HUB_ID and init = SIZE")
    if model["init"] and model["init"] not in INIT_SIZES:
        raise ConfigError(f"[model]: unknown init size {model['init']!r}; use one of {', '.join(INIT_SIZES)}")
    if model["name"]:
        model["name"] = _resolve(base, model["name"])
    if model["init"] and raw.get("pretrain") is None:
        raise ConfigError("[model] init = SIZE needs a [pretrain] table (corpus = PATH or [pretrain.mine]): "
                          "both arms must start from the same weights and tokenizer")

    pre = raw.get("pretrain")
    if pre is not None:
        if not model["init"]:
            raise ConfigError("[pretrain] needs [model] init = SIZE (a named model is already trained)")
        pre = dict(pre)
        mine_cfg = pre.pop("mine", None)
        corpus = pre.pop("corpus", None)
        if bool(corpus) == bool(mine_cfg):
            raise ConfigError("[pretrain]: give exactly one of corpus = PATH and a [pretrain.mine] table")
        own = sorted(set(pre) & set(PRETRAIN_OWN))
        if own:
            raise ConfigError(f"[pretrain]: {', '.join(own)} are set by the experiment")
        _check_keys("pretrain", pre, {f.name for f in fields(PretrainConfig)} - set(PRETRAIN_OWN))
        cfg["pretrain"] = {
            "corpus": _resolve(base, corpus) if corpus else None,
            "mine": _mine_table("pretrain.mine", mine_cfg, base) if mine_cfg else None,
            "settings": pre,
        }
    else:
        cfg["pretrain"] = None

    data = cfg["data"]
    mine_data = raw.get("data", {}).get("mine")
    data["mine"] = _mine_table("data.mine", mine_data, base) if mine_data else None
    if isinstance(data["sources"], str):
        data["sources"] = [data["sources"]]
    data["sources"] = [_resolve(base, s) for s in data["sources"]]
    if data["mined_rows"] is not None and (not isinstance(data["mined_rows"], int) or data["mined_rows"] < 1):
        raise ConfigError("[data]: mined_rows must be a positive integer")
    if data["mined_rows"] is not None and not data["mine"]:
        raise ConfigError("[data]: mined_rows needs a [data.mine] table")
    if not data["sources"] and not data["mine"]:
        raise ConfigError("[data]: no instruction data: give sources = [...] and/or a [data.mine] table")
    for s in data["sources"]:
        if s not in BUNDLED_SOURCES and not bundled_benchmark(s) and not Path(s).exists():
            raise ConfigError(f"[data]: source {s!r} is neither a bundled set ({', '.join(BUNDLED_SOURCES)}, "
                              "mbpp:SPLIT) nor an existing file")

    train = dict(raw.get("train", {}))
    _check_keys("train", train, ({f.name for f in fields(TrainConfig)} - set(PER_ARM)) | set(TRAIN_EXTRA))
    for table in (train, cfg["pretrain"]["settings"] if cfg["pretrain"] else {}):
        if table.get("tokenizer"):
            table["tokenizer"] = _resolve(base, table["tokenizer"])
    cfg["train"] = {**TRAIN_EXTRA, **train}
    if cfg["train"]["baseline_epochs"] <= 0:
        raise ConfigError("[train]: baseline_epochs must be positive")
    launcher = cfg["train"]["launcher"]
    if launcher is not None and (not isinstance(launcher, str) or not launcher.strip()):
        raise ConfigError('[train]: launcher must be a command such as "accelerate launch --num_processes 8"')

    gen = cfg["generate"]
    if not isinstance(gen["s"], int) or gen["s"] < 1:
        raise ConfigError("[generate]: s must be a positive integer")

    sample = cfg["sample"]
    if isinstance(sample["benchmarks"], str):
        sample["benchmarks"] = [sample["benchmarks"]]
    if not sample["benchmarks"]:
        raise ConfigError("[sample]: no benchmarks")
    sample["benchmarks"] = [_resolve(base, b) for b in sample["benchmarks"]]
    from lintseq.experiment.stages import slug

    slugs = [slug(b) for b in sample["benchmarks"]]
    same = sorted({b for b, sl in zip(sample["benchmarks"], slugs) if slugs.count(sl) > 1})
    if same:
        raise ConfigError(f"[sample]: benchmarks {', '.join(same)} would share a stage folder; rename a file")
    evaluated = {bundled_benchmark(b) for b in sample["benchmarks"]} - {None}
    for s in data["sources"]:
        if bundled_benchmark(s) in evaluated:
            raise ConfigError(f"[data]: source {s!r} is a benchmark that [sample] evaluates: training on it "
                              "would measure memorisation (MBPP's training split is mbpp:train)")
    if sample["backend"] not in ("hf", "vllm"):
        raise ConfigError("[sample]: backend must be hf or vllm")
    if not isinstance(sample["n"], int) or sample["n"] < 1:
        raise ConfigError("[sample]: n must be a positive integer")
    if not isinstance(cfg["format"]["chat"], bool):
        raise ConfigError("[format]: chat must be true or false")
    zero = sample["zero_shot"]
    if zero is True:
        sample["zero_shot"] = "chat" if cfg["format"]["chat"] else "completion"
    elif zero not in (False, "chat", "completion"):
        raise ConfigError('[sample]: zero_shot must be true, false, "chat" or "completion"')

    ev = cfg["evaluate"]
    ks = ev["k"] if isinstance(ev["k"], list) else [ev["k"]]
    if not ks or not all(isinstance(k, int) and k >= 1 for k in ks):
        raise ConfigError("[evaluate]: k must be a list of positive integers")
    ev["k"] = sorted(set(ks))
    if not isinstance(ev["unsafe_no_sandbox"], bool):
        raise ConfigError("[evaluate]: unsafe_no_sandbox must be true or false")
    if ev["k"][-1] > sample["n"]:
        raise ConfigError(f"[evaluate]: k = {ev['k'][-1]} needs at least that many samples; [sample] n = {sample['n']}")
    return cfg


def load(path: str | Path) -> dict:
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
