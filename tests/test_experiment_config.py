"""The experiment config as dataclasses: stage keys by construction (a changed setting re-runs
exactly the stages that read it and what follows), and RUN_DIR/config.json reads back into the
config."""

from __future__ import annotations

import json

import pytest

from lintseq.experiment import recipe as cfgmod
from lintseq.experiment import runner, stages
from lintseq.experiment.recipe import ExperimentConfig
from lintseq.training.config import TRAIN_FREE

# Settings that change how a stage runs, not what it writes: no stage key may depend on them.
FREE = {
    ("generate", "workers"),
    ("evaluate", "workers"),
    ("train", "launcher"),
    ("train", "logging_steps"),
    ("train", "save_steps"),
    ("data", "mine", "workers"),
    ("pretrain", "mine", "workers"),
}


def _leaves(doc, path=()):
    """(path, value) of every setting in a config's nested form (lists are one setting)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, doc


def _changed(value):
    """Another value of the same kind (None: no other value to try)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "-other"
    if isinstance(value, list) and value:
        return value[:-1] if len(value) > 1 else value * 2
    return None


def _set(doc, path, value):
    doc = json.loads(json.dumps(doc))
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


def _descendants(built, names):
    out = set(names)
    for st in built:  # stages come in run order: a dependency is always seen first
        if set(st.deps) & out:
            out.add(st.name)
    return out


@pytest.mark.parametrize("recipe", ["micro", "smollm2-135m", "gemma-2-2b"])
def test_a_changed_setting_reruns_exactly_the_stages_that_read_it_and_what_follows(recipe, tmp_path, monkeypatch):
    """Stage keys by construction: a stage's `run` receives only its `reads` (keyed) and `free`
    settings. Changing any setting of the config re-keys exactly the stages whose reads hold it
    and every stage downstream of them, and a free setting re-keys nothing."""
    monkeypatch.setenv("LINTSEQ_CACHE", str(tmp_path / "cache"))
    cfg = cfgmod.load(cfgmod.recipe_path(recipe))
    doc = json.loads(json.dumps(cfg.to_dict(), default=str))
    built = stages.build(cfg)
    keys = runner.stage_keys(built)
    tried = 0
    for path, value in _leaves(doc):
        zero_shot = {"chat": "completion", "completion": "chat", False: None}  # its valid values
        other = zero_shot[value] if path == ("sample", "zero_shot") else _changed(value)
        if other is None or (path[0] == "pretrain" and path[1] not in ("settings", "mine")):
            continue
        try:
            changed_cfg = ExperimentConfig.from_dict(_set(doc, path, other))
            rebuilt = stages.build(changed_cfg)
        except Exception:  # a value the stage graph cannot be built with (e.g. an unknown benchmark)
            continue
        if [st.name for st in rebuilt] != [st.name for st in built]:
            continue  # another graph (e.g. a benchmark list): nothing to compare stage by stage
        tried += 1
        new = runner.stage_keys(rebuilt)
        changed = {n for n in keys if new[n] != keys[n]}
        readers = {a.name for a, b in zip(built, rebuilt) if stages.dumps(a.reads) != stages.dumps(b.reads)}
        free = path in FREE or (path[0] in ("train", "pretrain") and path[-1] in TRAIN_FREE)
        if free:
            assert changed == set() and readers == set(), path
            assert any(stages.dumps(a.free) != stages.dumps(b.free) for a, b in zip(built, rebuilt)), path
        else:
            assert readers - {"report"}, f"{path}: no stage but the report reads it"
            assert changed == _descendants(built, readers), path
    assert tried >= 30


def test_format_reads_the_training_tokenizer_with_the_chat_template(tmp_path):
    """[train] tokenizer with [format] chat: the rows are rendered by that tokenizer's template,
    so changing it re-runs format and everything after it (the arms must not train on rows of
    the old template)."""
    cfg = cfgmod.load(cfgmod.recipe_path("smollm2-135m-cpu"))
    before = runner.stage_keys(stages.build(cfg))
    cfg.train.settings["tokenizer"] = "org/another-tokenizer"
    built = stages.build(cfg)
    after = runner.stage_keys(built)
    changed = {n for n in before if before[n] != after[n]}
    assert changed == _descendants(built, {"format", "train-baseline", "train-lintseq"})
    assert "format" in changed and "generate" not in changed


@pytest.mark.parametrize("recipe", cfgmod.recipe_names())
def test_config_json_reads_back_into_the_same_stages(recipe, tmp_path, monkeypatch):
    monkeypatch.setenv("LINTSEQ_CACHE", str(tmp_path / "cache"))
    cfg = cfgmod.load(cfgmod.recipe_path(recipe))
    saved = json.loads(json.dumps(cfg.to_dict(), default=str))  # what the runner writes to RUN_DIR/config.json
    again = ExperimentConfig.from_dict(saved)
    assert again == cfg
    assert runner.stage_keys(stages.build(again)) == runner.stage_keys(stages.build(cfg))
    older = json.loads(json.dumps(saved))  # a record from before [generate] s was named samples
    older["generate"] = {"s" if k == "samples" else k: v for k, v in older["generate"].items()}
    assert ExperimentConfig.from_dict(older) == cfg
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
        return {st.name: stages.dumps(st.reads) for st in stages.build(cfgmod.load(conf))}

    a, b, none = keys("org/tokenizer-a"), keys("org/tokenizer-b"), keys(None)
    assert a["format"] != b["format"] and a["format"] != none["format"]
    assert a["generate"] == b["generate"] == none["generate"]
    assert json.loads(none["format"])["tokenizer"] is None


@pytest.mark.parametrize(
    ("table", "line", "says"),
    [
        ("generate", 'linter = "fastt"', "[generate]: linter = 'fastt': expected one of fast, pylint, none"),
        ("generate", "samples = 0", "[generate]: samples = 0: must be >= 1"),
        ("sample", "top_p = 1.5", "[sample]: top_p = 1.5: must be <= 1"),
        ("sample", "temperature = -1", "[sample]: temperature = -1: must be >= 0"),
        ("sample", 'benchmarks = ["humaneval++"]', "[sample]: benchmarks: 'humaneval++' is neither a bundled"),
        ("train", 'max_seq_length = "long"', "[train]: max_seq_length = 'long': expected a number"),
        ("evaluate", 'timeout = "ten"', "[evaluate]: timeout = 'ten': expected a number"),
        ("evaluate", "memory_mb = 0", "[evaluate]: memory_mb = 0: must be >= 64"),
        ("evaluate", "workers = 0", "[evaluate]: workers = 0: must be >= 1"),
        ("evaluate", "k = [1, 0]", "[evaluate]: k = [1, 0]: 0 must be >= 1"),
        ("evaluate", 'k = "1,5"', "[evaluate]: k = '1,5': expected a non-empty list of integers"),
        ("generate", "s = 3", "[generate]: unknown key(s) s; known: linter, samples, weighting, workers"),
        ("gate", "min_share = 1.5", "[gate]: min_share = 1.5: must be <= 1"),
        ("gate", "problems = -1", "[gate]: problems = -1: must be >= 0"),
        ("sample", 'backend = "openai"', "[sample]: backend = 'openai': expected one of hf, vllm"),
        ("format", 'chat = "yes"', "[format]: chat = 'yes': expected true or false"),
        ("sample", "batch_size = 0", "[sample]: batch_size = 0: must be >= 1"),
        ("sample", "limit = 2.5", "[sample]: limit = 2.5: expected an integer"),
    ],
)
def test_a_mistake_in_a_recipe_fails_when_it_is_read(tmp_path, table, line, says):
    """Before any stage runs, with the key and the file named (not hours later, in the stage)."""
    conf = tmp_path / "mine.toml"
    conf.write_text(f'[model]\nname = "some/model"\n[data]\nsources = ["lintseq:sample"]\n[{table}]\n{line}\n')
    with pytest.raises(cfgmod.ConfigError) as err:
        cfgmod.load(conf)
    assert str(err.value).startswith(f"{conf}: ") and says in str(err.value)
