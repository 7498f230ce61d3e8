"""One CLI grammar: options derived from the settings dataclasses carry their defaults, and the
spellings of before 0.1 are refused with a usage error."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from lintseq.cli import main
from lintseq.commands import command_line_wins
from lintseq.engine.generate import Settings
from lintseq.evaluation.evaluate_settings import EvaluateSettings
from lintseq.experiment import recipe
from lintseq.formatting import FormatSettings
from lintseq.inference.types import SampleSettings
from lintseq.mining.mine_settings import MineSettings
from lintseq.training.config import PretrainConfig, TrainConfig


def parse(name: str, args: list[str]) -> click.Context:
    """The context `lintseq NAME ARGS` would run with (nothing runs)."""
    command = main.get_command(click.Context(main), name)
    assert command is not None
    return command.make_context(name, list(args))


def field_default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return None if f.default == "" else f.default
    return f.default_factory()  # type: ignore[misc]


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"instruction": "i", "response": "def f():\\n    return 1\\n"}\n')
    return path


@pytest.mark.parametrize(
    "name, cls, args",
    [
        ("train", TrainConfig, []),
        ("pretrain", PretrainConfig, []),
        ("generate", Settings, ["-o", "out.jsonl"]),
        ("sample", SampleSettings, ["-m", "m", "-b", "humaneval", "-o", "s.jsonl"]),
        ("mine", MineSettings, ["-o", "mined.jsonl"]),
        ("evaluate", EvaluateSettings, ["SAMPLES", "-b", "humaneval"]),
        ("format", FormatSettings, ["INPUT", "-o", "out.jsonl"]),
    ],
)
def test_options_left_alone_take_the_dataclass_defaults(name, cls, args, existing) -> None:
    params = parse(name, [str(existing) if a in ("SAMPLES", "INPUT") else a for a in args]).params
    derived = [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)]
    assert derived and all(f.name in params for f in derived)
    for f in derived:
        assert params[f.name] == field_default(f), f.name


def _scalar_fields(cls) -> list[tuple[str, type]]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        base = hints[f.name]
        args = [a for a in typing.get_args(base) if a is not type(None)]
        base = args[0] if args else base
        if base in (int, float, str) and not {"path", "choices", "flags"} & set(f.metadata):
            out.append((f.name, base))
    return out


def _value(kind: type) -> st.SearchStrategy:
    if kind is int:
        return st.integers(1, 10**9)
    if kind is float:
        return st.floats(1e-9, 1e9, allow_nan=False)
    return st.text("abcdefghij_", min_size=1, max_size=12)


@pytest.mark.parametrize("name, cls", [("train", TrainConfig), ("pretrain", PretrainConfig)])
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_typed_options_reach_the_config(name, cls, data) -> None:
    """Any subset of the number and text settings, typed as options, lands in the config with its
    value, and every other setting keeps its default."""
    chosen = data.draw(st.lists(st.sampled_from(_scalar_fields(cls)), unique=True, max_size=8))
    values = {field: data.draw(_value(kind)) for field, kind in chosen}
    args = [
        a
        for field, v in values.items()
        for a in ("--" + field.replace("_", "-"), repr(v) if isinstance(v, float) else str(v))
    ]
    ctx = parse(name, args)
    params = {k: v for k, v in ctx.params.items() if k not in ("config_path", "quiet")}
    cfg = cls.from_dict(command_line_wins(ctx, params, {}))
    expected = cls(**values)
    assert cfg == dataclasses.replace(expected, data=cfg.data, output=cfg.output) and not cfg.data


def test_a_config_file_value_stays_unless_typed(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("lr = 0.001\nseed = 7\n")
    ctx = parse("train", ["--config", str(config), "--seed", "8"])
    params = {k: v for k, v in ctx.params.items() if k not in ("config_path", "quiet")}
    cfg = TrainConfig.from_dict(command_line_wins(ctx, params, {"lr": 0.001, "seed": 7}))
    assert (cfg.lr, cfg.seed, cfg.batch_size) == (0.001, 8, TrainConfig.batch_size)


def test_quiet_turns_the_trainers_bar_off() -> None:
    assert parse("train", ["-q"]).params["quiet"] and parse("pretrain", ["--quiet"]).params["quiet"]
    assert not parse("train", []).params["quiet"]
    cfg = TrainConfig(data="d", output="o", model="m")
    assert cfg.trainer_kwargs(10, progress=False)["disable_tqdm"] is True
    assert cfg.trainer_kwargs(10)["disable_tqdm"] is None  # transformers' own choice, as before


def test_workers_and_model_have_their_short_spelling(existing: Path) -> None:
    assert parse("generate", ["-o", "x.jsonl", "-j", "3"]).params["workers"] == 3
    assert parse("evaluate", [str(existing), "-b", "humaneval", "-j", "2"]).params["workers"] == 2
    assert parse("mine", ["-o", "x.jsonl", "-j", "4"]).params["workers"] == 4
    assert parse("train", ["-m", "gpt2"]).params["model"] == "gpt2"


@pytest.mark.parametrize(
    "name, old",
    [
        ("generate", "--restart"),
        ("generate", "--limit"),
        ("generate", "-n"),
        ("mine", "--no-progress"),
        ("experiment", "--no-progress"),
        ("experiment", "--progress"),
    ],
)
def test_pre_release_spellings_are_refused_not_guessed(name: str, old: str) -> None:
    res = CliRunner().invoke(main, [name, old])
    assert res.exit_code == 2 and "No such option" in res.output, res.output
    command = main.get_command(click.Context(main), name)
    assert command is not None
    assert old not in {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


def _generate(tmp_path: Path, name: str, *extra: str):
    out = tmp_path / f"{name}.jsonl"
    res = CliRunner().invoke(main, ["generate", "--sample", "-o", str(out), "--workers", "1", "-q", *extra])
    return res, out


def test_generate_overwrite_discards_an_interrupted_run(tmp_path: Path) -> None:
    out = tmp_path / "edits.jsonl"
    out.with_name("edits.jsonl.partial").write_text('{"row": 0, "torn')
    refused, _ = _generate(tmp_path, "edits", "--subset", "2")
    assert refused.exit_code != 0 and "--overwrite" in refused.output
    res, _ = _generate(tmp_path, "edits", "--subset", "2", "--overwrite")
    assert res.exit_code == 0, res.output
    assert out.exists() and not out.with_name("edits.jsonl.partial").exists()
    assert len({json.loads(line)["row"] for line in out.read_text().splitlines()}) == 2


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    body = 'def {name}(a, b):\n    """{doc}"""\n    total = a + b\n    total *= 2\n    return total - a\n'
    (tmp_path / "pkg" / "tests").mkdir(parents=True)
    (tmp_path / "pkg" / "calc.py").write_text(body.format(name="double_sum", doc="Twice the sum, less a."))
    (tmp_path / "pkg" / "tests" / "test_calc.py").write_text(
        body.format(name="check_sum", doc="A helper the tests use to check sums.")
    )
    return tmp_path / "pkg"


def _mine(tree: Path, out: Path, *extra: str):
    res = CliRunner().invoke(main, ["mine", str(tree), "-o", str(out), "--no-decontaminate", *extra])
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return res, sorted(r["source"]["qualname"] for r in rows)


def test_mine_skips_test_suites_by_default_as_the_experiment_does(tree: Path, tmp_path: Path) -> None:
    res, names = _mine(tree, tmp_path / "a.jsonl", "-q")
    assert res.exit_code == 0, res.output
    assert names == ["double_sum"]
    summary = json.loads((tmp_path / "a.jsonl.summary.json").read_text())
    assert summary["settings"]["skip_tests"] is True and "workers" not in summary["settings"]
    res, names = _mine(tree, tmp_path / "b.jsonl", "-q", "--include-tests")
    assert names == ["check_sum", "double_sum"]


def test_the_cli_and_the_experiment_mine_with_the_same_defaults(tmp_path: Path) -> None:
    from lintseq.experiment.recipe import normalize

    table = normalize({"model": {"name": "m"}, "data": {"mine": {"paths": ["src"]}}}, tmp_path).data.mine
    assert table is not None
    cli = {k: list(v) if isinstance(v, tuple) else v for k, v in parse("mine", ["-o", "x.jsonl"]).params.items()}
    shared = set(table) - {"paths"}
    assert len(shared) == 13 and {k: table[k] for k in shared} == {k: cli[k] for k in shared}


def test_experiment_quiet_spelling() -> None:
    assert parse("experiment", ["--list-recipes", "-q"]).params["quiet"] is True
    assert parse("experiment", ["--list-recipes"]).params["quiet"] is False


@pytest.mark.parametrize(
    "table, job",
    [
        (recipe.GenerateTable, Settings),
        (recipe.FormatTable, FormatSettings),
        (recipe.SampleTable, SampleSettings),
        (recipe.EvaluateTable, EvaluateSettings),
    ],
)
def test_a_recipe_table_spells_defaults_and_checks_as_its_job(table, job) -> None:
    """One vocabulary: a [table] key that names a setting of the job is that setting, with the
    job's default and checks (the experiment's own keys, e.g. benchmarks, are the rest)."""
    jobs = {f.name: f for f in dataclasses.fields(job)}
    # backend: the job's choices less openai (a served model); the rest are the experiment's own
    shared = [f for f in dataclasses.fields(table) if f.name in jobs and f.name != "backend"]
    rest = {f.name for f in dataclasses.fields(table)} - jobs.keys()
    assert shared and rest <= {"benchmarks", "zero_shot", "workers"}
    for f in shared:
        assert (field_default(f), dict(f.metadata)) == (field_default(jobs[f.name]), dict(jobs[f.name].metadata))


def test_evaluate_reads_k_as_a_comma_separated_list(existing: Path) -> None:
    assert parse("evaluate", [str(existing), "-b", "humaneval", "-k", "10,1,5,1"]).params["k"] == (1, 5, 10)
    res = CliRunner().invoke(main, ["evaluate", str(existing), "-b", "humaneval", "-k", "1,0"])
    assert res.exit_code == 2 and "0 is not in the range x>=1" in res.output, res.output
