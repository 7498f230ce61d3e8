"""The experiment's stage graph, built from a normalized config.

[mine-corpus] -> [pretrain] -> [mine-data] -> data -> generate -> format -> [sample-base-BENCH ->
evaluate-base-BENCH, the untouched base model zero-shot] -> train-baseline -> train-lintseq
(steps matched to the baseline, same seed) -> [gate-lintseq] -> sample-ARM-BENCH ->
evaluate-ARM-BENCH -> report.

Stage keys by construction: `build` gives each stage the settings it reads (`Stage.reads`,
plain JSON values) and those it may use without their changing what it writes (`Stage.free`:
workers, logging, paths whose contents are keyed as `inputs`). The stage's `run` receives only
those two (`Context` holds no config), so it cannot depend on a setting its key leaves out; the
runner hashes `reads` with the stage kind's `version`, its inputs' contents and its upstream
keys. Bump a kind's `VERSION` when its output changes for the same reads.
Each `run` function calls the library, not a subprocess, and writes only into its own folder;
stage and file names come from `lintseq.experiment.layout`.

One long module on purpose: a `run_*` function per stage kind, then `build` and a factory per
kind, each read top to bottom in the order the stages run; splitting them would scatter the
graph a reader wants to see whole.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lintseq.experiment import layout as names
from lintseq.experiment.layout import ARMS, BASE, Layout, sampled_as
from lintseq.experiment.recipe import ExperimentConfig
from lintseq.io import load_jsonl, write_atomic, write_json, write_jsonl
from lintseq.training.config import NEW_TOKEN_INITS, TRAIN_FREE

# TRAIN_FREE: settings that change how a run is logged, not what it produces
LAUNCH_FREE = (*TRAIN_FREE, "launcher")  # ... or how many processes produce it


def rows(cfg: ExperimentConfig) -> tuple[str, ...]:
    """What the report compares: the two arms, and the base model when sampled zero-shot."""
    return (BASE, *ARMS) if cfg.sample.zero_shot else ARMS


def sample_style(cfg: ExperimentConfig, row: str) -> tuple[str, bool]:
    """(prompt style, through the chat template) for one row's samples."""
    if row == BASE:
        return ("completion", False) if cfg.sample.zero_shot == "completion" else ("baseline", True)
    return row, cfg.format.chat


def writes_edits(cfg: ExperimentConfig, row: str) -> bool:
    """Whether the row's samples are edit sequences (resolved-clean share, strict-reading scores)."""
    return sample_style(cfg, row)[0] == "lintseq"


def _pass_scores(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if k.startswith("pass@")}


@dataclass
class Context:
    run_dir: Path
    dir: Path  # this stage's folder
    reads: dict[str, Any]  # the settings the stage's key is made of
    free: dict[str, Any]  # settings that change how it runs, not what it writes
    resume: bool  # the folder holds an interrupted attempt at the same key
    progress: bool = False

    @property
    def layout(self) -> Layout:
        return Layout(self.run_dir)


@dataclass
class Stage:
    name: str
    what: str  # one line for --plan
    run: Callable[[Context], dict]
    reads: dict[str, Any]  # every setting `run` receives that can change what it writes (keyed)
    version: int = 1  # of the stage kind: bumped when its output changes for the same reads
    free: dict[str, Any] = field(default_factory=dict)  # settings `run` receives that cannot (not keyed)
    deps: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()  # outside files/folders whose contents it depends on
    extra_outputs: tuple[str, ...] = ()  # files outside its folder (relative to the run dir)


def held_out_tasks(cfg: ExperimentConfig) -> list[str]:
    """Task ids of the bundled benchmarks [sample] evaluates that a bundled [data] source also
    holds (MBPP+ takes 108 of its 378 tasks from MBPP's training split): dropped from training."""
    return list(_held_out(tuple(cfg.sample.benchmarks), tuple(cfg.data.sources)))


@functools.lru_cache(maxsize=16)
def _held_out(benchmarks: tuple[str, ...], data_sources: tuple[str, ...]) -> tuple[str, ...]:
    """Cached: every plan builds the graph, and reading MBPP+ takes a second."""
    from lintseq.evaluation.problems import bundled_benchmark, load_benchmark, task_key

    evaluated = [b for b in benchmarks if bundled_benchmark(b)]
    families = {bundled[0] for b in evaluated if (bundled := bundled_benchmark(b))}
    sources = [s for s in data_sources if (bundled := bundled_benchmark(s)) and bundled[0] in families]
    if not sources:
        return ()
    tested = {task_key(p.task_id) for b in evaluated for p in load_benchmark(b)}
    return tuple(sorted({p.task_id for s in sources for p in load_benchmark(s) if task_key(p.task_id) in tested}))


def load_problems(benchmark: str, limit: int | None) -> list:
    from lintseq.evaluation.problems import load_benchmark

    problems = load_benchmark(benchmark)
    return problems[:limit] if limit is not None else problems


# ------------------------------------------------------------------------------------ stages


def _mine(settings: dict[str, Any], out: Path, raw: bool, progress: bool) -> dict:
    from lintseq.mining.miner import MineSettings, mine

    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
    ms = MineSettings(**values, raw=raw)
    files = ms.files()
    if not files:
        raise RuntimeError("no Python files found under the mining sources")
    summary = mine(files, out, ms, progress=progress)
    if summary.kept == 0:
        raise RuntimeError(f"mining kept no rows ({'; '.join(summary.lines())})")
    return summary.to_dict()


def run_mine_corpus(ctx: Context) -> dict:
    return _mine(ctx.reads["mine"] | ctx.free, ctx.dir / names.CORPUS, True, ctx.progress)


def run_mine_data(ctx: Context) -> dict:
    return _mine(ctx.reads["mine"] | ctx.free, ctx.dir / names.MINED, False, ctx.progress)


def run_pretrain(ctx: Context) -> dict:
    from lintseq.training.config import PretrainConfig
    from lintseq.training.pretrain import STATE_DIR, pretrain

    r = ctx.reads
    out = ctx.dir / names.MODEL
    resume = ctx.resume and (out / STATE_DIR).is_dir()
    settings = r["settings"] | ctx.free["logging"]
    seed = settings.pop("seed", r["seed"])
    pc = PretrainConfig(
        **settings,
        data=ctx.free["corpus"] or str(ctx.layout.corpus),
        output=str(out),
        init=r["init"],
        seed=seed,
        resume=resume,
        overwrite=not resume,
    )
    return _fine_tune(ctx, "pretrain", pc, out / "pretrain_summary.json", lambda: pretrain(pc, progress=ctx.progress))


def _fine_tune(ctx: Context, command: str, settings, summary_file: Path, here: Callable[[], Any]) -> dict:
    """Train in this process, or under the configured launcher; the summary less its loss curve."""
    launcher = ctx.free["launcher"]
    summary = _launch(launcher, command, settings, ctx.dir, summary_file) if launcher else here().summary()
    return {k: v for k, v in summary.items() if k != "losses"} | {"final_loss": (summary["losses"] or [None])[-1]}


def _launch(launcher: str, command: str, settings, folder: Path, summary_file: Path) -> dict:
    """Run `LAUNCHER -m lintseq COMMAND --config FILE` (e.g. on several GPUs) and read back its summary."""
    import shlex
    import subprocess

    from lintseq.training.config import dump_toml

    config_file = folder / f"{command}_config.toml"
    write_atomic(config_file, dump_toml(settings.to_dict(), f"lintseq {command} settings, from lintseq experiment"))
    cmd = [*shlex.split(launcher), "-m", "lintseq", command, "--config", str(config_file)]
    done = subprocess.run(cmd)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited with status {done.returncode}")
    return json.loads(summary_file.read_text(encoding="utf-8"))


def base_model(model: dict[str, Any], run_dir: Path) -> str:
    """The model both arms start from: [model] name, or the pretrain stage's model for init."""
    return model["name"] or str(Layout(run_dir).pretrained)


def chat_tokenizer_name(reads: dict[str, Any], run_dir: Path) -> str:
    """The tokenizer whose chat template formats the training rows: [train] tokenizer or the base model's."""
    return reads["tokenizer"] or base_model(reads["model"], run_dir)


def _rows_from_jsonl(path: str, instruction_field: str, code_field: str) -> list[dict]:
    from lintseq.engine.records import read_rows

    rows = []
    for n, row, _ in read_rows(path):
        if row is None:
            raise ValueError(f"{path}:{n}: not a JSON object")
        ins, code = row.get(instruction_field), row.get(code_field)
        if not isinstance(ins, str) or not isinstance(code, str):
            raise ValueError(f"{path}:{n}: needs string fields {instruction_field!r} and {code_field!r}")
        rows.append({"id": str(row.get("id", f"{Path(path).stem}/{n}")), "instruction": ins, "response": code})
    return rows


def instruction_rows(data: dict[str, Any], run_dir: Path) -> list[dict]:
    """Every source's rows as {id, instruction, response}; MBPP problems become their prompt
    (text plus signature, as evaluation shows them) and reference solution. `data`: the data
    stage's reads."""
    from importlib import resources

    from lintseq.evaluation.problems import bundled_benchmark

    held_out = set(data["held_out"])
    rows: list[dict] = []
    for source in data["sources"]:
        if bundled_benchmark(source):
            from lintseq.evaluation.problems import load_benchmark

            rows += [
                {"id": p.task_id, "instruction": p.prompt, "response": p.canonical_solution}
                for p in load_benchmark(source)
                if p.task_id not in held_out
            ]
        elif source == "lintseq:sample":
            path = str(resources.files("lintseq.data").joinpath("sample.jsonl"))
            rows += _rows_from_jsonl(path, "instruction", "response")
        else:
            rows += _rows_from_jsonl(source, data["instruction_field"], data["code_field"])
    if data["mined"]:
        mined = _rows_from_jsonl(str(Layout(run_dir).mined_rows), "instruction", "response")
        keep_n = data["mined_rows"]
        if keep_n is not None and keep_n < len(mined):
            import random

            keep = sorted(random.Random(data["seed"]).sample(range(len(mined)), keep_n))
            mined = [mined[i] for i in keep]  # in file order
        rows += mined
    if data["limit"] is not None:
        rows = rows[: data["limit"]]
    if not rows:
        raise ValueError("the instruction data has no rows")
    return rows


def run_data(ctx: Context) -> dict:
    rows = instruction_rows(ctx.reads, ctx.run_dir)
    write_jsonl(ctx.dir / names.INSTRUCTIONS, rows, ensure_ascii=True)
    held_out = ctx.reads["held_out"]
    return {"rows": len(rows)} | ({"held_out_benchmark_tasks": len(held_out)} if held_out else {})


def run_generate(ctx: Context) -> dict:
    from lintseq.engine.generate import Settings, default_workers, generate

    settings = Settings(**ctx.reads)
    summary = generate(
        ctx.layout.instructions,
        ctx.dir / names.EDITS,
        settings,
        workers=ctx.free["workers"] or default_workers(),
        resume=ctx.resume,
        restart=not ctx.resume,
        progress=ctx.progress,
    )
    return {"programs": summary.programs, "sequences": summary.sequences, "rejects": dict(summary.rejects)}


def run_format(ctx: Context) -> dict:
    from lintseq.formatting import format_file, load_chat_tokenizer

    info: dict[str, Any] = {}
    chat = load_chat_tokenizer(chat_tokenizer_name(ctx.reads, ctx.run_dir)) if ctx.reads["chat"] else None
    for style in ARMS:
        stats = format_file(ctx.layout.edits, ctx.dir / names.training_rows_file(style), style, chat_tokenizer=chat)
        if stats.written == 0:
            raise RuntimeError(f"format {style}: no rows were written ({stats.summary()})")
        info[style] = stats.summary()
    return info | same_programs(ctx)


def _program_key(row: dict) -> Any:
    return row.get("row", row.get("id"))


def same_programs(ctx: Context) -> dict:
    """Both arms keep exactly the programs whose every row fits the training length: a program
    with one LintSeq row too long leaves both arms (training would drop that row alone and the
    arms would see different programs). Also measures what the regime checks need: programs
    and the longest answer, in tokens of the training tokenizer (`<|diff|>` added)."""
    from lintseq.training.config import TrainConfig
    from lintseq.training.sft import build_tokenizer, sequence_lengths

    paths = {arm: ctx.layout.training_rows(arm) for arm in ARMS}
    rows = {arm: load_jsonl(path) for arm, path in paths.items()}
    r = ctx.reads
    tc = TrainConfig(
        model=base_model(r["model"], ctx.run_dir), tokenizer=r["tokenizer"], max_seq_length=r["max_seq_length"]
    )
    tok = build_tokenizer(tc, rows["lintseq"])
    lengths = {arm: sequence_lengths(rows[arm], tok) for arm in ARMS}
    too_long = {_program_key(r) for arm in ARMS for r, n in zip(rows[arm], lengths[arm]) if n > tc.max_seq_length}
    longest: dict[str, int] = {}
    for arm in ARMS:
        kept = [r for r in rows[arm] if _program_key(r) not in too_long]
        if not kept:
            raise RuntimeError(f"format: no program fits max_seq_length = {tc.max_seq_length} tokens in both arms")
        if len(kept) < len(rows[arm]):
            write_jsonl(paths[arm], kept)
        answers = [len(ids) + 1 for ids in tok([r["completion"] for r in kept])["input_ids"]]  # + EOS
        longest[arm] = max(answers)
    return {
        "programs": len({_program_key(r) for r in rows["baseline"]} - too_long),
        "dropped_programs": len(too_long),
        "max_seq_length": tc.max_seq_length,
        "longest_completion_tokens": longest,
    }


def train_config(reads: dict[str, Any], free: dict[str, Any], run_dir: Path, arm: str, out: Path, resume: bool = False):
    """One arm's `TrainConfig`, from its train stage's reads and free settings."""
    from lintseq.training.config import TrainConfig

    layout = Layout(run_dir)
    shared = (
        reads["train"] | free["logging"] | ({"new_token_init": reads["new_token_init"]} if arm == "lintseq" else {})
    )
    epochs = shared.pop("baseline_epochs")
    seed = shared.pop("seed", reads["seed"])
    tc = TrainConfig(
        **shared,
        data=str(layout.training_rows(arm)),
        output=str(out),
        model=base_model(reads["model"], run_dir),
        seed=seed,
        resume=resume,
        overwrite=not resume,
    )
    tc.epochs = epochs
    if arm == "lintseq" and tc.max_steps is None:
        tc.match_steps_with = str(layout.training_rows("baseline"))
        tc.match_epochs = epochs
    return tc


def _run_train(arm: str) -> Callable[[Context], dict]:
    def run(ctx: Context) -> dict:
        from lintseq.training.sft import checkpoint_dir, train

        out = ctx.dir / names.MODEL
        # an interrupted attempt left checkpoints (LoRA runs write none: they start over)
        resume = ctx.resume and not ctx.reads["train"].get("lora") and checkpoint_dir(out).is_dir()
        tc = train_config(ctx.reads, ctx.free, ctx.run_dir, arm, out, resume=resume)
        return _fine_tune(ctx, "train", tc, out / "train_summary.json", lambda: train(tc, progress=ctx.progress))

    return run


# the [sample] settings a sample stage hands to `lintseq sample`'s settings (n is the stage's)
SAMPLE_READS = ("temperature", "top_p", "min_p", "max_new_tokens", "seed", "backend", "batch_size", "device", "dtype")


def sample_row(ctx: Context, s: dict[str, Any], n: int, limit: int | None = None):
    """Sample `n` completions per problem of `s["benchmark"]` (its first `limit` problems) from
    one row's model into this stage's samples file, resuming a partial one; `s`: the reads of
    that row's sample stage. The sampler's stats."""
    from lintseq.formatting import load_chat_tokenizer
    from lintseq.inference.backends import make_backend
    from lintseq.inference.sample import sample_benchmark
    from lintseq.inference.types import SampleSettings

    row, benchmark = s["row"], s["benchmark"]
    job = SampleSettings(**{k: s[k] for k in SAMPLE_READS}, n=n)
    model = base_model(s["model"], ctx.run_dir) if row == BASE else str(ctx.layout.model(row))
    style, chat = s["style"]
    chat_tokenizer = None
    if chat:  # a trained arm saved the template with its tokenizer; the base row uses the base's
        chat_tokenizer = load_chat_tokenizer(chat_tokenizer_name(s, ctx.run_dir) if row == BASE else model)
    problems = load_problems(benchmark, s["limit"])
    return sample_benchmark(
        problems[:limit] if limit is not None else problems,
        make_backend(job.backend, model, **job.backend_options()),
        job.decoding(),
        style=style,
        out=str(ctx.dir / names.SAMPLES),
        model=model,
        benchmark=benchmark,
        overwrite=not ctx.resume,
        progress=ctx.progress,
        chat_tokenizer=chat_tokenizer,
    )


def _run_sample(arm: str, benchmark: str) -> Callable[[Context], dict]:
    def run(ctx: Context) -> dict:
        out = ctx.dir / names.SAMPLES
        if ctx.resume and out.exists():  # finished before the marker was written
            rows = load_jsonl(out)
            return {"samples": len(rows), "tokens": sum(r.get("n_tokens") or 0 for r in rows), "resumed": "all"}
        stats = sample_row(ctx, ctx.reads, ctx.reads["n"])
        return {
            "problems": stats.problems,
            "samples": stats.samples,
            "resumed": stats.resumed,
            "clean": stats.clean,
            "tokens": stats.tokens,
            "finish": dict(stats.finish),
        }

    return run


def _run_evaluate(arm: str, benchmark: str) -> Callable[[Context], dict]:
    def run(ctx: Context) -> dict:
        from lintseq.evaluation.evaluate_settings import EvaluateSettings
        from lintseq.evaluation.scoring import evaluate

        r = ctx.reads
        settings = EvaluateSettings(**r["evaluate"], workers=ctx.free["workers"])
        sandbox = settings.sandbox()
        samples = ctx.layout.samples(arm, r["samples_of"])
        problems = load_problems(benchmark, r["limit"])
        report = evaluate(samples, problems, settings, benchmark=benchmark, sandbox=sandbox, label=arm)
        write_jsonl(ctx.dir / names.RESULTS, report.per_problem, ensure_ascii=True)
        write_json(ctx.dir / names.SCORES, report.scores)
        info = _pass_scores(report.scores) | {"sandbox": sandbox.info.mode}
        if r["edits"]:
            # the analysis row of docs/design.md §2.6: what the diff format's strict reading would score
            strict = evaluate(
                samples,
                problems,
                settings,
                benchmark=benchmark,
                completion_format="diff",
                resolution="strict",
                sandbox=sandbox,
                label=f"{arm}, strict diff format",
            )
            write_json(ctx.dir / names.SCORES_STRICT, strict.scores)
            info["strict"] = _pass_scores(strict.scores)
        return info

    return run


def gate_counts(completions: Iterable[str]) -> tuple[int, int]:
    """(edit sequences whose every hunk applies, resolved programs that parse) among completions."""
    import ast

    from lintseq.diffs import resolve

    good = parses = 0
    for completion in completions:
        r = resolve(completion)
        good += r.hunks > 0 and not r.skipped
        try:
            ast.parse(r.program)
            parses += 1
        except (SyntaxError, ValueError):
            pass
    return good, parses


def run_gate(ctx: Context) -> dict:
    """Sample a few problems from the LintSeq arm and stop the run when most of its samples are
    not edit sequences whose every hunk applies: hours of sampling a model that has not learnt
    the format would measure nothing. Whether the resolved programs parse is recorded but does
    not stop the run: that is the quality the comparison measures, and stopping on it would
    report only the runs where LintSeq already looks good."""

    g = ctx.reads["gate"]
    out = ctx.dir / names.SAMPLES
    if not (ctx.resume and out.exists()):
        sample_row(ctx, ctx.reads["sample"], g["n"], g["problems"])
    rows = load_jsonl(out)
    good, parses = gate_counts(row["completion"] for row in rows)
    share = good / len(rows) if rows else 0.0
    info = {"samples": len(rows), "resolved": good, "parse": parses, "share": share, "min_share": g["min_share"]}
    if share < g["min_share"]:
        raise RuntimeError(
            f"go/no-go: {good} of {len(rows)} LintSeq samples on {g['problems']} problems are edit sequences whose "
            f"every hunk applies ({100 * share:.0f}% < [gate] min_share {100 * g['min_share']:.0f}%), so the LintSeq "
            f"arm has not learnt the format and sampling it would measure nothing; the run stops before sampling. "
            f"Look at the samples with `lintseq show {out} --task ID`; train longer, or set [gate] min_share = 0 to go on"
        )
    return info


def run_report(ctx: Context) -> dict:
    from lintseq.experiment.report import ReportFiles, RowFiles, write_report

    cfg, layout = ExperimentConfig.from_dict(ctx.reads["config"]), ctx.layout
    benchmarks = {
        b: {
            row: RowFiles(
                samples=layout.samples(row, sampled_as(b, cfg.sample.benchmarks)),
                results=layout.results(row, b),
                scores=layout.scores(row, b),
                lintseq_style=writes_edits(cfg, row),
                scores_strict=layout.scores_strict(row, b),
            )
            for row in rows(cfg)
        }
        for b in cfg.sample.benchmarks
    }
    done = {st.name: layout.done(st.name) for st in build(cfg) if st.name != names.REPORT}
    files = ReportFiles(
        benchmarks, done, training=layout.done(names.train_stage("baseline")), markdown=layout.report, figures=ctx.dir
    )
    return write_report(cfg, files)


def build(cfg: ExperimentConfig) -> list[Stage]:
    """The stages of an experiment, in the order they run."""
    stages: list[Stage] = []
    if cfg.pretrain and cfg.pretrain.mine:
        stages.append(
            _mine_stage(names.MINE_CORPUS, "mine --raw a pre-training corpus", run_mine_corpus, cfg.pretrain.mine)
        )
    if cfg.pretrain:
        stages.append(_pretrain_stage(cfg))
    if cfg.data.mine:
        stages.append(_mine_stage(names.MINE_DATA, "mine instruction rows", run_mine_data, cfg.data.mine))
    stages += [_data_stage(cfg), _generate_stage(cfg), _format_stage(cfg)]
    if cfg.sample.zero_shot:
        stages += _zero_shot_stages(cfg)
    stages += _train_stages(cfg)
    if cfg.gate.problems:
        stages.append(_gate_stage(cfg))
    stages += _sample_stages(cfg)
    stages += [_evaluate_stage(cfg, arm, b) for arm in ARMS for b in cfg.sample.benchmarks]
    stages.append(
        Stage(
            names.REPORT,
            "report.md and plots: pass@k with 95% intervals, pass@k per token, diversity, time",
            run_report,
            {"config": _shown_config(cfg)},  # the report shows the settings, so it reads them all
            deps=tuple(st.name for st in stages if st.name.startswith(("evaluate-", "sample-"))),
            extra_outputs=(names.REPORT_MD,),
        )
    )
    return stages


def _mine_stage(name: str, what: str, run: Callable[[Context], dict], m: dict) -> Stage:
    python = ".".join(map(str, sys.version_info[:2]))  # the stdlib (and the miner) depend on it
    return Stage(
        name,
        f"{what} from {_sources(m)}",
        run,
        {"mine": _without(m, "workers"), "python": python},
        free={"workers": m["workers"]},
        inputs=tuple(m["paths"]),
    )


def _pretrain_stage(cfg: ExperimentConfig) -> Stage:
    pre = cfg.pretrain
    assert pre is not None
    return Stage(
        names.PRETRAIN,
        f"pre-train a {cfg.model.init} GPT-2 from scratch on {'the mined corpus' if pre.mine else pre.corpus}",
        run_pretrain,
        {"settings": _without(pre.settings, *TRAIN_FREE), "init": cfg.model.init, "seed": cfg.seed},
        free={"logging": _only(pre.settings, *TRAIN_FREE), "launcher": cfg.train.launcher, "corpus": pre.corpus},
        deps=(names.MINE_CORPUS,) if pre.mine else (),
        inputs=_local(pre.corpus, pre.settings.get("tokenizer")),
    )


def _data_stage(cfg: ExperimentConfig) -> Stage:
    data = cfg.data
    held_out = held_out_tasks(cfg)
    return Stage(
        names.DATA,
        f"instruction rows from {', '.join(data.sources + (['mined rows'] if data.mine else []))}"
        + (f" (first {data.limit})" if data.limit is not None else "")
        + (f", less {len(held_out)} tasks of the evaluated benchmarks" if held_out else ""),
        run_data,
        _without(asdict(data), "mine") | {"mined": bool(data.mine), "seed": cfg.seed, "held_out": held_out},
        deps=(names.MINE_DATA,) if data.mine else (),
        inputs=tuple(s for s in data.sources if Path(s).exists()),
    )


def _generate_stage(cfg: ExperimentConfig) -> Stage:
    g = cfg.generate
    return Stage(
        names.GENERATE,
        f"s = {g.samples} edit sequences per program ({g.linter} linter)",
        run_generate,
        {"samples": g.samples, "linter": g.linter, "weighting": g.weighting, "seed": cfg.seed},
        free={"workers": g.workers},
        deps=(names.DATA,),
    )


def _model_inputs(cfg: ExperimentConfig) -> tuple[str, ...]:
    """The local base model and [train] tokenizer, whose files the stages that load them depend on."""
    named = () if cfg.pretrain or not cfg.model.name else (cfg.model.name,)
    return named + _local(cfg.train.settings.get("tokenizer"))


def _format_stage(cfg: ExperimentConfig) -> Stage:
    # the training tokenizer decides which programs fit (and, with chat, renders the prompts):
    # [train] tokenizer when set (a hub id is no local input), else the base model's
    max_len = cfg.train.settings.get("max_seq_length", train_default("max_seq_length"))
    return Stage(
        names.FORMAT,
        "training rows in both styles (baseline, lintseq)"
        + (", chat template" if cfg.format.chat else "")
        + f", the programs whose rows all fit {max_len} tokens",
        run_format,
        {
            "chat": cfg.format.chat,
            "tokenizer": cfg.train.settings.get("tokenizer"),
            "model": asdict(cfg.model),
            "max_seq_length": max_len,
        },
        deps=(names.GENERATE,) + ((names.PRETRAIN,) if cfg.pretrain else ()),
        inputs=_model_inputs(cfg),
    )


def _zero_shot_stages(cfg: ExperimentConfig) -> list[Stage]:
    """The untouched base model sampled and scored: the report's third row."""
    s, out = cfg.sample, []
    for b in s.benchmarks:
        if sampled_as(b, s.benchmarks) == b:
            out.append(
                Stage(
                    names.sample_stage(BASE, b),
                    f"{s.n} samples per problem of {b} from the base model, zero-shot ({s.zero_shot} prompts)",
                    _run_sample(BASE, b),
                    _sample_reads(cfg, BASE, b),
                    deps=(names.PRETRAIN,) if cfg.pretrain else (),
                    inputs=_model_inputs(cfg) + ((b,) if Path(b).exists() else ()),
                )
            )
        out.append(_evaluate_stage(cfg, BASE, b))
    return out


def _train_stages(cfg: ExperimentConfig) -> list[Stage]:
    """Both arms from the same base model and seed; LintSeq gets the baseline's optimizer steps."""
    t, pre = cfg.train, cfg.pretrain
    max_steps = t.settings.get("max_steps")
    epochs = f"{t.baseline_epochs} epoch{'s' if t.baseline_epochs != 1 else ''}"
    steps = f"max_steps = {max_steps}" if max_steps else epochs
    matched = steps if max_steps else "the baseline's optimizer steps"
    new_token = t.settings.get("new_token_init", NEW_TOKEN_INITS[0]) if cfg.model.name and not pre else "mean"
    # how an added <|diff|> starts concerns only the arm whose rows hold it (the baseline's
    # rows have none, so its start is the mean whatever the setting)
    reads = {
        "train": _without(t.to_dict(), *LAUNCH_FREE, "new_token_init"),
        "seed": cfg.seed,
        "model": asdict(cfg.model),
    }
    what = {
        "baseline": f"fine-tune the base model on programs ({steps})",
        "lintseq": f"fine-tune the base model on edit sequences ({matched}, same seed"
        + (", <|diff|> starts predicted)" if new_token == "predictive" else ")"),
    }
    return [
        Stage(
            names.train_stage(arm),
            what[arm],
            _run_train(arm),
            reads | ({"new_token_init": new_token} if arm == "lintseq" else {}),
            free={"logging": _only(t.settings, *TRAIN_FREE), "launcher": t.launcher},
            deps=(names.FORMAT,) + ((names.PRETRAIN,) if pre else ()),
            inputs=_model_inputs(cfg),
        )
        for arm in ARMS
    ]


def _gate_stage(cfg: ExperimentConfig) -> Stage:
    gate, first = cfg.gate, cfg.sample.benchmarks[0]
    return Stage(
        names.GATE,
        f"go/no-go: {gate.n} LintSeq samples on {gate.problems} problems of {first}; stop unless "
        f"{100 * gate.min_share:.0f}% are edit sequences whose every hunk applies",
        run_gate,
        {"gate": asdict(gate), "sample": _sample_reads(cfg, "lintseq", first)},
        deps=(names.train_stage("lintseq"),),
        version=2,  # 2: the check is "every hunk applies" (was "resolves into a program that parses")
    )


def _sample_stages(cfg: ExperimentConfig) -> list[Stage]:
    """Both arms per benchmark, alternating, so a run cut short still holds a paired comparison."""
    s, out = cfg.sample, []
    for b in s.benchmarks:
        if sampled_as(b, s.benchmarks) != b:
            continue  # scored on another benchmark's samples (humaneval+ on humaneval's)
        for arm in ARMS:
            out.append(
                Stage(
                    names.sample_stage(arm, b),
                    f"{s.n} samples per problem of {b}"
                    + (f" (first {s.limit})" if s.limit is not None else "")
                    + f" from the {arm} model",
                    _run_sample(arm, b),
                    _sample_reads(cfg, arm, b),
                    deps=(names.train_stage(arm),) + ((names.GATE,) if arm == "lintseq" and cfg.gate.problems else ()),
                    inputs=(b,) if Path(b).exists() else (),
                )
            )
    return out


def _shown_config(cfg: ExperimentConfig) -> dict:
    """The config as the report reads it: every setting but those no stage's output depends on
    (workers, logging, the launcher), which are set to their defaults."""
    from lintseq.experiment.recipe import MINE_KEYS

    doc = copy.deepcopy(cfg.to_dict())
    doc["generate"]["workers"] = 0
    doc["evaluate"]["workers"] = None
    doc["train"] = _without(doc["train"], *TRAIN_FREE) | {"launcher": None}
    for table in (doc["data"], doc["pretrain"] or {}):
        if table.get("mine"):
            table["mine"]["workers"] = MINE_KEYS["workers"]
    if doc["pretrain"]:
        doc["pretrain"]["settings"] = _without(doc["pretrain"]["settings"], *TRAIN_FREE)
    return doc


def _evaluate_stage(cfg: ExperimentConfig, row: str, benchmark: str) -> Stage:
    """One row's samples run on one benchmark's tests. LintSeq rows are resolved by the paper's
    rule and also scored by the strict reading (`edits`)."""
    e = cfg.evaluate
    whose = "the base model's" if row == BASE else f"the {row}"
    what = f"run {whose} samples on {benchmark}'s tests" + (
        f"; pass@{list(e.k)}" + (" (and by the strict diff-format reading)" if writes_edits(cfg, row) else "")
        if row != BASE
        else ""
    )
    samples_of = sampled_as(benchmark, cfg.sample.benchmarks)
    return Stage(
        names.evaluate_stage(row, benchmark),
        what,
        _run_evaluate(row, benchmark),
        {
            "evaluate": _without(asdict(e), "workers"),
            "benchmark": benchmark,
            "limit": cfg.sample.limit,
            "samples_of": samples_of,
            "edits": writes_edits(cfg, row),
        },
        free={"workers": e.workers},
        deps=(names.sample_stage(row, samples_of),),
        inputs=(benchmark,) if Path(benchmark).exists() else (),
    )


def _sample_reads(cfg: ExperimentConfig, row: str, benchmark: str) -> dict:
    """What a sample stage (or the gate, for the LintSeq row) reads: [sample] less the list of
    benchmarks, its row, prompt style and seed; the base row also its model and chat tokenizer."""
    reads = _without(asdict(cfg.sample), "benchmarks", "zero_shot") | {
        "benchmark": benchmark,
        "row": row,
        "style": list(sample_style(cfg, row)),
        "seed": cfg.seed,
    }
    if row == BASE:
        reads |= {"model": asdict(cfg.model), "tokenizer": cfg.train.settings.get("tokenizer")}
    return reads


def train_default(name: str) -> Any:
    from dataclasses import fields

    from lintseq.training.config import TrainConfig

    return next(f.default for f in fields(TrainConfig) if f.name == name)


def _without(table: dict, *keys: str) -> dict:
    """A config slice less the settings that do not change a stage's output (workers, logging)."""
    return {k: v for k, v in table.items() if k not in keys}


def _only(table: dict, *keys: str) -> dict:
    """The settings of `table` among `keys` (a stage's free settings, e.g. logging)."""
    return {k: v for k, v in table.items() if k in keys}


def _local(*paths: str | None) -> tuple[str, ...]:
    """The given paths that are local files or folders (a hub id is part of the config slice)."""
    return tuple(p for p in paths if p and Path(p).exists())


def _sources(m: dict) -> str:
    parts = (
        list(m["paths"])
        + [f"package {p}" for p in m["packages"]]
        + (["the standard library"] if m["stdlib"] else [])
        + (["site-packages"] if m["site_packages"] else [])
    )
    return ", ".join(parts) + (f" (first {m['max_files']} files)" if m["max_files"] else "")


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
