"""The experiment config as dataclasses: the stage slices the runner hashes stay what they were
(a finished run directory is still skipped), and RUN_DIR/config.json reads back into the config."""

from __future__ import annotations

import json
import sys

import pytest

from lintseq.experiment import config as cfgmod
from lintseq.experiment import runner, stages
from lintseq.experiment.config import ExperimentConfig

# The slices of the micro recipe as the untyped-dict config built them (recorded before the
# dataclasses): a slice that changes shape changes its stage's key, and every finished run
# directory would then run that stage and everything after it again.
MICRO_SLICES = {
    "mine-corpus": {
        "mine": {
            "decontaminate": True,
            "dedup": True,
            "max_files": None,
            "max_lines": None,
            "min_docstring_chars": 10,
            "min_lines": None,
            "near_threshold": 0.85,
            "packages": ["json"],
            "paths": [],
            "self_contained": False,
            "site_packages": False,
            "skip_tests": True,
            "stdlib": False,
        },
        "python": ".".join(map(str, sys.version_info[:2])),
    },
    "pretrain": {
        "init": "tiny",
        "seed": 0,
        "settings": {
            "batch_size": 4,
            "lr": 0.003,
            "max_steps": 4,
            "micro_batch_size": 4,
            "seq_length": 512,
            "vocab_size": 512,
        },
    },
    "data": {"code_field": "response", "instruction_field": "instruction", "limit": 24, "sources": ["lintseq:sample"]},
    "generate": {"linter": "fast", "s": 2, "seed": 0, "weighting": "indent"},
    # changed on purpose: format keeps only the programs whose rows all fit the training length in
    # both arms, by the training tokenizer (the micro recipe's: the pre-trained model's)
    "format": {"chat": False, "same_programs": 512, "tokenizer": None},
    "train-lintseq": {
        "model": {"init": "tiny", "name": None},
        "seed": 0,
        "train": {"baseline_epochs": 1, "batch_size": 8, "lr": 0.003, "max_seq_length": 512, "micro_batch_size": 8},
    },
    "sample-baseline-mbpp-plus": {
        "backend": "hf",
        "batch_size": 4,
        "benchmark": "mbpp+",
        "device": "cpu",
        "dtype": "float32",
        "limit": 2,
        "max_new_tokens": 24,
        "min_p": 0.0,
        "n": 2,
        "seed": 0,
        "temperature": 1.0,
        "top_p": 1.0,
    },
    # LintSeq rows are resolved by the paper's rule and also write the strict reading's scores
    # (changed on purpose: runs evaluated by the old rule run those stages again); the
    # baseline's keep their keys
    "evaluate-lintseq-humaneval-plus": {
        "analysis": "strict",
        "benchmark": "humaneval+",
        "resolution": "paper",
        "evaluate": {"k": [1, 2], "memory_mb": 1024, "timeout": 5.0},
        "limit": 2,
    },
    "evaluate-baseline-humaneval-plus": {
        "benchmark": "humaneval+",
        "evaluate": {"k": [1, 2], "memory_mb": 1024, "timeout": 5.0},
        "limit": 2,
    },
    "report": {"k": [1, 2]},
}


def test_the_micro_recipe_keeps_the_slices_of_earlier_runs():
    built = {st.name: st for st in stages.build(cfgmod.load(cfgmod.recipe_path("micro")))}
    assert len(built) == 23
    for name, expected in MICRO_SLICES.items():
        assert stages.dumps(built[name].slice) == stages.dumps(expected), name
    # integers stay integers: `baseline_epochs = 1` hashed as 1.0 would be another key
    assert stages.dumps(built["train-baseline"].slice["train"]["baseline_epochs"]) == "1"


@pytest.mark.parametrize("recipe", cfgmod.recipe_names())
def test_config_json_reads_back_into_the_same_stages(recipe, tmp_path, monkeypatch):
    monkeypatch.setenv("LINTSEQ_CACHE", str(tmp_path / "cache"))
    cfg = cfgmod.load(cfgmod.recipe_path(recipe))
    saved = json.loads(json.dumps(cfg.to_dict(), default=str))  # what the runner writes to RUN_DIR/config.json
    again = ExperimentConfig.from_dict(saved)
    assert again == cfg
    assert runner.stage_keys(stages.build(again)) == runner.stage_keys(stages.build(cfg))
    assert list(saved) == [
        "seed",
        "model",
        "data",
        "generate",
        "format",
        "sample",
        "evaluate",
        "pretrain",
        "train",
        "gate",
    ]


def test_tables_are_checked_as_tables(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nname = "m"\n[data]\nsources = ["mbpp:train"]\nmine = 5\n')
    with pytest.raises(cfgmod.ConfigError, match=r"\[data.mine\] must be a table"):
        cfgmod.load(path)
    path.write_text('[model]\nname = "m"\n[data]\nsources = ["mbpp:train"]\n[sample.mine]\nstdlib = true\n')
    with pytest.raises(cfgmod.ConfigError, match=r"\[sample\]: unknown key\(s\) mine"):
        cfgmod.load(path)


def test_the_chat_template_source_is_part_of_the_format_key(tmp_path):
    """With [format] chat, the rows are rendered by [train] tokenizer's template: another
    tokenizer (a hub id, which is no local input) must render them again, and so re-run every
    stage after format."""

    def keys(tokenizer: str | None) -> dict:
        conf = tmp_path / "c.toml"
        tok = f'tokenizer = "{tokenizer}"\n' if tokenizer else ""
        conf.write_text(
            f'[model]\nname = "some/model"\n[data]\nsources = ["lintseq:sample"]\n[format]\nchat = true\n[train]\n{tok}'
        )
        return {st.name: stages.dumps(st.slice) for st in stages.build(cfgmod.load(conf))}

    a, b, none = keys("org/tokenizer-a"), keys("org/tokenizer-b"), keys(None)
    assert a["format"] != b["format"] and a["format"] != none["format"]
    assert a["generate"] == b["generate"] == none["generate"]
    assert json.loads(none["format"])["tokenizer"] is None


@pytest.mark.parametrize(
    ("table", "line", "says"),
    [
        ("generate", 'linter = "fastt"', "[generate]: linter = 'fastt': expected one of fast, pylint, none"),
        ("generate", "s = 0", "[generate]: s = 0: must be >= 1"),
        ("sample", "top_p = 1.5", "[sample]: top_p = 1.5: must be <= 1"),
        ("sample", "temperature = -1", "[sample]: temperature = -1: must be >= 0"),
        ("sample", 'benchmarks = ["humaneval++"]', "[sample]: benchmarks: 'humaneval++' is neither a bundled"),
        ("train", 'max_seq_length = "long"', "[train]: max_seq_length = 'long': expected a number"),
    ],
)
def test_a_mistake_in_a_recipe_fails_when_it_is_read(tmp_path, table, line, says):
    """Before any stage runs, with the key and the file named (not hours later, in the stage)."""
    conf = tmp_path / "mine.toml"
    conf.write_text(f'[model]\nname = "some/model"\n[data]\nsources = ["lintseq:sample"]\n[{table}]\n{line}\n')
    with pytest.raises(cfgmod.ConfigError) as err:
        cfgmod.load(conf)
    assert str(err.value).startswith(f"{conf}: ") and says in str(err.value)
