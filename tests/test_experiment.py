"""`lintseq experiment`: the micro recipe end to end, skipping on rerun, partial re-runs, --plan."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from lintseq.cli import main
from lintseq.diffs import DIFF_TOKEN
from lintseq.experiment import layout, runner, stages
from lintseq.experiment import recipe as cfgmod

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _stage(cfg, name: str) -> stages.Stage:
    return next(st for st in stages.build(cfg) if st.name == name)


def _micro_copy(tmp: Path, **replace: str) -> Path:
    text = cfgmod.recipe_path("micro").read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp / "micro.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_micro_experiment_end_to_end_skip_and_partial_rerun(tmp_path):
    run_dir = tmp_path / "run"
    conf = _micro_copy(tmp_path)
    cli = CliRunner()

    res = cli.invoke(main, ["experiment", str(conf), "-o", str(run_dir), "--plan"])
    assert res.exit_code == 0, res.output
    names = [p.stage.name for p in runner.plan(cfgmod.load(conf), run_dir)]
    assert names[0] == "mine-corpus" and names[-1] == "report"
    for name in names:
        assert re.search(rf"^run\s+{re.escape(name)}\s", res.output, re.M), name
    assert not run_dir.exists() or not any(run_dir.iterdir())  # --plan runs nothing
    # the micro recipe is a smoke run, and says so before anything runs
    assert "OUTSIDE THE PAPER'S REGIME" in res.output and "0.50 of an epoch" in res.output

    logs: list[str] = []
    steps = runner.run(cfgmod.load(conf), run_dir, log=logs.append)
    assert [p.action for p in steps] == ["run"] * len(names)
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "LintSeq" in report and "at the largest k" in report and "pass@2" in report
    for png in re.findall(r"\]\((report/[^)]+\.png)\)", report):
        data = (run_dir / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", png
    assert len(list((run_dir / "report").glob("*.png"))) == 9  # 4 benchmarks x 2 views + diversity
    # humaneval+ scores humaneval's samples (same prompts); its scores carry the base score too
    assert "sample-lintseq-humaneval-plus" not in names
    plus = json.loads((run_dir / "evaluate-lintseq-humaneval-plus" / "scores.json").read_text())
    assert plus["benchmark"] == "humaneval+" and plus["samples_evaluated"] == 2 * 2 and "pass@1" in plus["base"]
    # LintSeq rows are resolved by the paper's rule, and scored again by the strict reading (an analysis row)
    assert plus["resolution"]["rule"] == "paper" and plus["resolution"]["edit_sequences"] == 4
    strict = json.loads((run_dir / "evaluate-lintseq-humaneval-plus" / "scores-strict.json").read_text())
    assert strict["completion_format"] == "diff" and strict["resolution"]["rule"] == "strict" and "pass@1" in strict
    assert not (run_dir / "evaluate-baseline-humaneval-plus" / "scores-strict.json").exists()
    assert report.count("| lintseq, strict diff format (analysis) |") == 4  # one per benchmark
    assert report.count("Paired difference, LintSeq - baseline") == 4
    for name in names:
        done = json.loads((run_dir / name / "done.json").read_text())
        assert done["seconds"] >= 0 and done["hardware"]["cpus"] >= 1
    # both arms took the same number of optimizer steps, and LintSeq trained on more rows
    base = json.loads((run_dir / "train-baseline" / "model" / "train_summary.json").read_text())
    lint = json.loads((run_dir / "train-lintseq" / "model" / "train_summary.json").read_text())
    assert base["global_step"] == lint["global_step"] == lint["match"]["steps"]
    assert lint["rows"] > base["rows"]
    # both arms train on the same programs, whatever the length filter left
    programs = {
        arm: {json.loads(x)["row"] for x in (run_dir / "format" / f"{arm}.jsonl").read_text().splitlines()}
        for arm in ("baseline", "lintseq")
    }
    fmt = json.loads((run_dir / "format" / "done.json").read_text())["info"]
    assert programs["baseline"] == programs["lintseq"] and len(programs["baseline"]) == fmt["programs"]
    assert fmt["programs"] + fmt["dropped_programs"] == 24 and fmt["longest_completion_tokens"]["lintseq"] > 24
    gate = json.loads((run_dir / "gate-lintseq" / "done.json").read_text())["info"]
    assert gate["samples"] == 2 and gate["min_share"] == 0.0
    assert "Go/no-go before sampling" in report and "Outside the paper's regime" in report
    samples = [json.loads(x) for x in (run_dir / "sample-lintseq-mbpp" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2 * 2 and all(s["style"] == "lintseq" for s in samples)

    # the same command again: every stage skipped, no file touched
    before = _mtimes(run_dir)
    res = cli.invoke(main, ["experiment", str(conf), "-o", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert res.output.count("[skip]") == len(names) and "[run]" not in res.output
    assert _mtimes(run_dir) == before
    res = cli.invoke(main, ["experiment", str(conf), "-o", str(run_dir), "--plan"])
    table = [line for line in res.output.strip().splitlines() if not line.startswith(("OUTSIDE", "  - "))]
    assert table and all(line.startswith("skip") for line in table)

    # a changed k list re-runs only evaluate and report
    conf = _micro_copy(tmp_path, **{"k = [1, 2]": "k = [1]"})
    steps = runner.run(cfgmod.load(conf), run_dir, log=logs.append)
    ran = {p.stage.name for p in steps if p.action != "skip"}
    assert ran == {n for n in names if n.startswith("evaluate-")} | {"report"}
    assert (run_dir / "sample-lintseq-mbpp" / "samples.jsonl").stat().st_mtime_ns == before[
        "sample-lintseq-mbpp/samples.jsonl"
    ]
    scores = json.loads((run_dir / "evaluate-lintseq-mbpp" / "scores.json").read_text())
    assert "pass@1" in scores and "pass@2" not in scores

    # a stage interrupted after it started (no done.json) resumes in place; what it feeds re-runs
    (run_dir / "sample-lintseq-mbpp" / "done.json").unlink()
    samples_mtime = (run_dir / "sample-lintseq-mbpp" / "samples.jsonl").stat().st_mtime_ns
    steps = runner.run(cfgmod.load(conf), run_dir, log=logs.append)
    acted = {p.stage.name: p.action for p in steps if p.action != "skip"}
    assert acted == {"sample-lintseq-mbpp": "resume", "evaluate-lintseq-mbpp": "run", "report": "run"}
    assert (run_dir / "sample-lintseq-mbpp" / "samples.jsonl").stat().st_mtime_ns == samples_mtime

    # a go/no-go check the LintSeq arm fails stops the run before its sampling
    strict_gate = _micro_copy(tmp_path, **{"min_share = 0.0": "min_share = 1.0", "k = [1, 2]": "k = [1]"})
    res = CliRunner().invoke(main, ["experiment", str(strict_gate), "-o", str(run_dir)])
    assert res.exit_code != 0 and re.search(r"go/no-go: [01] of 2 LintSeq samples", res.output), res.output
    assert "[run] sample-lintseq" not in res.output and not (run_dir / "gate-lintseq" / "done.json").exists()

    # a deleted output re-runs its stage and what depends on it
    (run_dir / "format" / "baseline.jsonl").unlink()
    actions = {p.stage.name: p.action for p in runner.plan(cfgmod.load(conf), run_dir)}
    assert actions["generate"] == "skip" and actions["format"] == "run"
    assert all(a == "run" for n, a in actions.items() if n.startswith(("train-", "sample-", "evaluate-")))


def test_killed_mid_training_resumes_from_the_checkpoint(tmp_path):
    """A real `lintseq experiment` SIGKILLed inside train-baseline: the rerun skips what was
    done and continues that stage from its last checkpoint rather than from step 0."""
    import os
    import signal
    import subprocess
    import sys
    import time

    conf = _micro_copy(tmp_path, **{"baseline_epochs = 1": "baseline_epochs = 10\nsave_steps = 2"})
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lintseq", "experiment", str(conf), "-o", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    first = run_dir / "train-baseline" / "model.checkpoints" / "checkpoint-2" / "trainer_state.json"
    deadline = time.monotonic() + 240
    while not first.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "train-baseline" / "done.json").exists()

    steps = runner.run(cfgmod.load(conf), run_dir, log=lambda _: None)
    acted = {p.stage.name: p.action for p in steps}
    assert acted["pretrain"] == acted["format"] == "skip" and acted["train-baseline"] == "resume"
    summary = json.loads((run_dir / "train-baseline" / "model" / "train_summary.json").read_text())
    assert summary["resumed_from"] and int(summary["resumed_from"].rsplit("-", 1)[1]) >= 2
    assert summary["global_step"] == summary["planned_steps"] == 30
    assert not (run_dir / "train-baseline" / "model.checkpoints").exists()
    assert (run_dir / "report.md").exists()


def test_changed_slice_changes_the_keys_downstream_only(tmp_path):
    conf = _micro_copy(tmp_path)
    cfg = cfgmod.load(conf)
    run_dir = tmp_path / "run"
    key = {p.stage.name: p.key for p in runner.plan(cfg, run_dir)}
    other = cfgmod.load(_micro_copy(tmp_path, **{"\nsamples = 2\n": "\nsamples = 3\n"}))
    changed = {p.stage.name for p in runner.plan(other, run_dir) if p.key != key[p.stage.name]}
    assert "data" not in changed and "pretrain" not in changed
    assert {"generate", "format", "train-baseline", "train-lintseq", "report"} <= changed
    # logging, checkpointing and worker counts do not change what a stage produces
    quiet = cfgmod.load(
        _micro_copy(
            tmp_path,
            **{
                "logging_steps = 1\n\n[sample]": "logging_steps = 5\nsave_steps = 7\n\n[sample]",
                "workers = 2": "workers = 1",
            },
        )
    )
    assert {p.stage.name: p.key for p in runner.plan(quiet, run_dir)} == key
    # a per-table seed reaches the run's settings
    seeded = cfgmod.load(_micro_copy(tmp_path, **{"baseline_epochs = 1": "baseline_epochs = 1\nseed = 7"}))
    st = _stage(seeded, "train-lintseq")
    tc = stages.train_config(st.reads, st.free, run_dir, "lintseq", run_dir / "m")
    assert tc.seed == 7 and tc.match_steps_with and not tc.resume


def test_an_interrupted_stage_whose_upstream_was_rebuilt_runs_again(tmp_path):
    """Partial samples from a model that has since been re-trained must not be continued."""
    conf = _micro_copy(tmp_path)
    run_dir = tmp_path / "run"
    runner.run(cfgmod.load(conf), run_dir, log=lambda _: None)
    folder = run_dir / "sample-lintseq-mbpp"
    (folder / "done.json").unlink()
    started = json.loads((folder / "started.json").read_text())
    assert started["upstream"]["train-lintseq"]  # what the attempt was built from
    acted = {p.stage.name: p.action for p in runner.plan(cfgmod.load(conf), run_dir)}
    assert acted["sample-lintseq-mbpp"] == "resume"
    started["upstream"]["train-lintseq"] = {"model/model.safetensors": [1, 1]}  # an older model
    (folder / "started.json").write_text(json.dumps(started))
    acted = {p.stage.name: p.action for p in runner.plan(cfgmod.load(conf), run_dir)}
    assert acted["sample-lintseq-mbpp"] == "run"


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[model]\ninit = "tiny"\n[data]\nsources = ["mbpp:train"]\n', "needs a [pretrain] table"),
        ('[model]\nname = "m"\ninit = "tiny"\n', "exactly one of"),
        ('[model]\nname = "m"\n[data]\nsources = ["nope.jsonl"]\n', "neither"),
        ('[model]\nname = "m"\n[data]\nsources = ["mbpp:train"]\n[train]\nepochs = 3\n', "unknown key"),
        ('[model]\nname = "m"\n[data]\nsources = ["mbpp:train"]\n[sample]\nn = 2\n[evaluate]\nk = [1, 5]\n', "k = 5"),
        ('[model]\nname = "m"\n[data]\nsources = ["mbpp:train"]\n[bogus]\n', "unknown key"),
        ('[model]\nname = "m"\n[data]\nsources = ["mbpp"]\n', "a benchmark that [sample] evaluates"),
        ('[model]\nname = "m"\n[data]\nsources = ["mbpp_extra.jsonl"]\n', "neither"),
        (
            '[model]\nname = "m"\n[data]\nsources = ["mbpp:train"]\n[sample]\nbenchmarks = ["mbpp-sanitized", "mbpp:sanitized"]\n',
            "share a stage folder",
        ),
    ],
)
def test_bad_configs_are_clear_errors(tmp_path, toml, message):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(cfgmod.ConfigError, match=re.escape(message)):
        cfgmod.load(path)
    res = CliRunner().invoke(main, ["experiment", str(path), "-o", str(tmp_path / "r"), "--plan"])
    assert res.exit_code != 0 and message in res.output


def test_bundled_recipes_load():
    assert {"micro", "tinycodelm-150m", "gemma-2-2b"} <= set(cfgmod.recipe_names())
    gemma = cfgmod.load(cfgmod.recipe_path("gemma-2-2b"))
    assert gemma.model.name == "google/gemma-2-2b" and gemma.train.settings["lr"] == 5e-5
    tiny = cfgmod.load(cfgmod.recipe_path("tinycodelm-150m"))
    assert tiny.model.init == "150m" and tiny.train.settings["batch_size"] == 512
    assert tiny.train.baseline_epochs == 10 and tiny.generate.samples == 5


def test_plus_benchmarks_share_samples_and_hold_out_their_training_tasks(tmp_path):
    """gemma-2-2b trains on mbpp:train and evaluates mbpp+, which has 108 of those tasks: they
    leave the training rows; humaneval+ is scored on humaneval's samples."""
    cfg = cfgmod.load(cfgmod.recipe_path("gemma-2-2b"))
    built = {st.name: st for st in stages.build(cfg)}
    assert "sample-lintseq-humaneval-plus" not in built and "sample-lintseq-mbpp-plus" in built
    assert built["evaluate-lintseq-humaneval-plus"].deps == ("sample-lintseq-humaneval",)
    assert layout.slug("humaneval+") == "humaneval-plus" != layout.slug("humaneval")
    held = stages.held_out_tasks(cfg)
    assert len(held) == 108 and all(t.startswith("Mbpp/") and int(t.split("/")[1]) >= 601 for t in held)
    assert built["data"].reads["held_out"] == held
    rows = stages.instruction_rows(_stage(replace(cfg, data=replace(cfg.data, mine=None)), "data").reads, tmp_path)
    assert len(rows) == 374 - 108 and not {r["id"] for r in rows} & set(held)
    # without mbpp+ nothing is held out, and the data stage's key is what it was
    cfg.sample.benchmarks = ["humaneval", "humaneval+", "mbpp"]
    assert stages.held_out_tasks(cfg) == [] == _stage(cfg, "data").reads["held_out"]


def test_evaluate_stage_uses_the_configured_sandbox_limits(tmp_path):
    """A sample that passes but sleeps 2 s fails under `[evaluate] timeout = 1` and passes under 10."""
    from lintseq.evaluation.problems import load_benchmark

    problem = load_benchmark("humaneval")[0]
    program = problem.code_prompt + problem.canonical_solution + "\nimport time\ntime.sleep(2)\n"
    cfg = cfgmod.load(_micro_copy(tmp_path, **{"limit = 2": "limit = 1", "k = [1, 2]": "k = [1]"}))
    run_dir = tmp_path / "run"
    (run_dir / "sample-baseline-humaneval").mkdir(parents=True)
    (run_dir / "sample-baseline-humaneval" / "samples.jsonl").write_text(
        json.dumps({"task_id": problem.task_id, "program": program}) + "\n", encoding="utf-8"
    )
    scores = {}
    for timeout in (1.0, 10.0):
        cfg.evaluate.timeout = timeout
        folder = run_dir / f"evaluate-{timeout}"
        folder.mkdir()
        st = _stage(cfg, "evaluate-baseline-humaneval")
        scores[timeout] = st.run(stages.Context(run_dir, folder, st.reads, st.free, resume=False))
    assert scores[1.0]["pass@1"] == 0.0 and scores[10.0]["pass@1"] == 1.0


def test_chat_experiment_from_a_named_model_with_the_zero_shot_row(tmp_path):
    """A pretrained instruct model (a tiny GGUF converted here) named in [model]: training rows
    and samples go through its chat template, and the base model is a third, zero-shot row."""
    pytest.importorskip("gguf")
    from gguf_model import write_tiny_gguf

    from lintseq.models.gguf import convert

    model = convert(write_tiny_gguf(tmp_path / "tiny.gguf"), tmp_path / "instruct")
    text = cfgmod.recipe_path("micro").read_text(encoding="utf-8")
    head, _, rest = text.partition("[model]")
    rest = rest[rest.index("[data]") :]  # drop [model], [pretrain] and [pretrain.mine]
    conf = tmp_path / "chat.toml"
    conf.write_text(
        head
        + f'[model]\nname = "{model}"\n\n[format]\nchat = true\n\n'
        + rest.replace("[sample]\n", "[sample]\nzero_shot = true\n").replace(
            'benchmarks = ["humaneval", "mbpp"]', 'benchmarks = ["humaneval"]'
        ),
        encoding="utf-8",
    )
    cfg = cfgmod.load(conf)
    assert cfg.sample.zero_shot == "chat"
    names = [p.stage.name for p in runner.plan(cfg, tmp_path / "run")]
    assert names.index("evaluate-base-humaneval") < names.index("train-baseline")
    runner.run(cfg, tmp_path / "run", log=lambda m: None)
    run_dir = tmp_path / "run"

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    rows = [json.loads(x) for x in (run_dir / "format" / "lintseq.jsonl").read_text().splitlines()]
    head = tok.apply_chat_template([{"role": "user", "content": "X"}], tokenize=False, add_generation_prompt=True)
    start, end = head.split("X")
    assert all(r["prompt"].startswith(start) and r["prompt"].endswith(end + DIFF_TOKEN) for r in rows)
    for row in ("base", "baseline", "lintseq"):
        samples = [
            json.loads(x) for x in (run_dir / f"sample-{row}-humaneval" / "samples.jsonl").read_text().splitlines()
        ]
        assert len(samples) == 4 and all(s["chat"] for s in samples)
        assert {s["style"] for s in samples} == {"baseline" if row == "base" else row}
    assert json.loads((run_dir / "sample-base-humaneval" / "samples.jsonl").read_text().splitlines()[0])[
        "model"
    ] == str(model)
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "| base (zero-shot) |" in report and "chat template" in report
    lint_row = next(line for line in report.splitlines() if line.startswith("| lintseq |"))
    assert lint_row.rstrip(" |").endswith("%")  # the resolved-clean share

    # scripts/export_run.py: what goes into results/ is the run's own files, with the rates
    export = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "export_run.py"), str(run_dir), str(tmp_path / "out")]
        + ["--recipe", str(conf), "--command", "lintseq experiment chat.toml -o run", "--commit", "abc"],
        capture_output=True,
        text=True,
    )
    assert export.returncode == 0, export.stderr
    out = tmp_path / "out"
    assert (out / "report.md").read_text(encoding="utf-8") == report
    assert (out / "recipe.toml").read_text(encoding="utf-8") == conf.read_text(encoding="utf-8")
    scores = sorted(p.name for p in (out / "scores").iterdir())
    written = run_dir.glob("evaluate-*/scores*.json")
    assert scores == sorted(f"{p.parent.name}{p.stem.removeprefix('scores')}.json" for p in written) and scores
    assert "evaluate-lintseq-humaneval-strict.json" in scores
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert all(r["state"] == "done" for r in run["stages"]) and run["commit"] == "abc"
    rates = {t["stage"]: t for t in run["throughput"]}
    assert rates["train-baseline"]["tokens"] > 0 and rates["sample-lintseq-humaneval"]["tokens_per_s"] > 0
    assert "lintseq experiment chat.toml -o run" in (out / "run.md").read_text(encoding="utf-8")


def test_mined_rows_is_a_seeded_subset_in_file_order(tmp_path):
    (tmp_path / "src").mkdir()
    rows = [{"instruction": f"task {i}", "response": f"def f{i}():\n    return {i}\n"} for i in range(10)]
    (tmp_path / "run" / "mine-data").mkdir(parents=True)
    (tmp_path / "run" / "mine-data" / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def picked(seed: int, mined_rows: int | None) -> list[str]:
        raw = {
            "seed": seed,
            "model": {"init": "tiny"},
            "pretrain": {"corpus": str(tmp_path / "src")},
            "data": {"mine": {"paths": ["src"]}, **({"mined_rows": mined_rows} if mined_rows else {})},
        }
        cfg = cfgmod.normalize(raw, tmp_path)
        return [r["instruction"] for r in stages.instruction_rows(_stage(cfg, "data").reads, tmp_path / "run")]

    first = picked(1, 4)
    assert len(first) == 4 and first == sorted(first, key=lambda t: int(t.split()[1]))
    assert picked(1, 4) == first and picked(2, 4) != first
    assert picked(1, None) == [r["instruction"] for r in rows]
    with pytest.raises(cfgmod.ConfigError, match="mined_rows"):
        cfgmod.normalize({"model": {"name": "m"}, "data": {"sources": ["mbpp:train"], "mined_rows": 3}}, tmp_path)


@pytest.mark.parametrize(
    ("recipe", "rows", "s"),
    [("smollm2-135m-cpu", ("baseline", "lintseq"), 3), ("smollm2-135m", ("baseline", "lintseq"), 3)],
)
def test_smollm2_recipes_plan_without_the_model(recipe, rows, s, tmp_path, monkeypatch):
    """--plan needs neither the model package nor a conversion: the short name stays a name."""
    monkeypatch.setenv("LINTSEQ_CACHE", str(tmp_path / "cache"))
    cfg = cfgmod.load(cfgmod.recipe_path(recipe))
    assert cfg.model.name == "smollm2-135m" and cfg.format.chat
    assert cfg.generate.samples == s and cfg.sample.temperature == 1.0 and cfg.sample.top_p == 0.95
    names = [p.stage.name for p in runner.plan(cfg, tmp_path / "run")]
    for bench in cfg.sample.benchmarks:
        for row in rows:
            assert f"evaluate-{row}-{layout.slug(bench)}" in names
    assert ("evaluate-base-humaneval" in names) == ("base" in rows)
    res = CliRunner().invoke(main, ["experiment", "--recipe", recipe, "-o", str(tmp_path / "run"), "--plan"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("recipe", ["smollm2-135m-cpu", "smollm2-135m"])
def test_the_smollm2_comparisons_are_in_the_papers_regime(recipe):
    """What the config alone can tell: every program seen by both arms, every problem sampled, a gate."""
    from lintseq.experiment import regime

    cfg = cfgmod.load(cfgmod.recipe_path(recipe))
    assert regime.outside(cfg) == []
    assert cfg.train.baseline_epochs / cfg.generate.samples >= 1 and cfg.sample.limit is None and cfg.gate.problems


def test_new_token_start_changes_only_the_lintseq_arm(tmp_path, monkeypatch):
    """Only the arm whose rows hold <|diff|> depends on where the token starts."""
    monkeypatch.setenv("LINTSEQ_CACHE", str(tmp_path / "cache"))
    cfg = cfgmod.load(cfgmod.recipe_path("smollm2-135m-cpu"))
    keys = {p.stage.name: p.key for p in runner.plan(cfg, tmp_path / "run")}
    cfg.train.settings["new_token_init"] = "mean"
    changed = {p.stage.name for p in runner.plan(cfg, tmp_path / "run") if p.key != keys[p.stage.name]}
    assert "train-lintseq" in changed and "sample-lintseq-humaneval" in changed
    assert not {n for n in changed if "baseline" in n or "base-" in n}
    st = _stage(cfg, "train-lintseq")
    tc = stages.train_config(st.reads, st.free, tmp_path / "run", "lintseq", tmp_path / "m")
    assert tc.new_token_init == "mean"


def test_the_gate_checks_the_format_and_only_records_whether_programs_parse() -> None:
    """A model that writes edit sequences passes the gate even when a program does not parse
    (that is the quality the comparison measures); prose or a hunk the paper's rule skips fails."""
    from lintseq.experiment.stages import gate_counts

    parses = "<|diff|>@@ -0,0 +1,2 @@\n+def f():\n+    return 1\n"
    does_not_parse = "<|diff|>@@ -0,0 +1,2 @@\n+def f():\n+return 1\n"
    bad_header = "<|diff|>@@ -0,0 +1 @@\n+x = 1\n<|diff|>@@ junk @@\n+y = 2\n"
    prose = "def f():\n    return 1\n"
    assert gate_counts([parses]) == (1, 1)
    assert gate_counts([does_not_parse]) == (1, 0)
    assert gate_counts([bad_header]) == (0, 1)  # by the paper's rule the junk hunk is skipped
    assert gate_counts([prose])[0] == 0
