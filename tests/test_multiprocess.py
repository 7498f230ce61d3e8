"""`lintseq train`/`pretrain` as several processes (torchrun, `accelerate launch`), on the CPU.

Two real processes join a gloo process group; the comparisons are against a single process
with the same effective batch. The model for the loss comparison has no dropout: with dropout
each process draws its own masks, and the curves would differ by noise rather than by mistakes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from lintseq import derive_seed, sample_edit_sequence
from lintseq.formatting import format_row
from lintseq.training.config import PretrainConfig, TrainConfig

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

sys.path.insert(0, str(Path(__file__).parent))
from tiny_lm import EOS, train_tokenizer  # noqa: E402

# fp32 sums taken in another order (gloo adds the two processes' gradients; one process adds
# its micro-batches one by one) differ by about 1e-7 relative; a few steps at lr 1e-3 keep that
# far below 1e-5. A batch with other rows in it changes the loss by 1e-3 or more.
LOSS_RTOL = 1e-5


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


def two_processes(command: str, *args: str) -> list[str]:
    """torchrun with a free port (`--standalone`), as `accelerate launch --multi_gpu --num_processes 2` runs it."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "lintseq",
        command,
        *args,
    ]


def kill_tree(pid: int) -> None:
    import psutil

    parent = psutil.Process(pid)
    for p in [*parent.children(recursive=True), parent]:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lintseq_rows(tmp_path_factory) -> Path:
    text = resources.files("lintseq").joinpath("data/sample.jsonl").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines()[:16]:
        row = json.loads(line)
        for k in range(2):
            seed = derive_seed(0, row["response"], k)
            path = sample_edit_sequence(row["response"], seed=seed)
            rows.append(
                format_row({**row, "edit_path": path, "sample": k, "seed": seed, "n_edits": len(path)}, "lintseq")
            )
    return write_jsonl(tmp_path_factory.mktemp("data") / "lintseq.jsonl", rows)


def no_dropout_model(path: Path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = train_tokenizer()
    torch.manual_seed(0)
    eos = tok.convert_tokens_to_ids(EOS)
    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=512,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    GPT2LMHeadModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def load_weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(model_dir / "model.safetensors")


# ---- cheap checks (default suite) ----


def test_effective_batch_must_divide_by_the_processes(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from lintseq.cli import main

    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(ValueError, match="micro-batch 2 x 3 process"):
        TrainConfig(data="d", output="o", init="tiny", batch_size=8, micro_batch_size=2).validate()
    TrainConfig(data="d", output="o", init="tiny", batch_size=12, micro_batch_size=2).validate()  # 2 x 3 x 2
    with pytest.raises(ValueError, match="micro-batch 4 x 3 process"):
        PretrainConfig(data="d", output="o", init="tiny", batch_size=8, micro_batch_size=4).validate()
    data = write_jsonl(tmp_path / "rows.jsonl", [{"prompt": "p", "completion": "c"}])
    res = CliRunner().invoke(
        main,
        [
            "train",
            "--init",
            "tiny",
            "--data",
            str(data),
            "-o",
            str(tmp_path / "m"),
            "--batch-size",
            "16",
            "--micro-batch-size",
            "4",
        ],
    )
    assert res.exit_code == 2 and "not a multiple of micro-batch 4 x 3 process(es)" in res.output
    assert not (tmp_path / "m").exists()


def test_matched_steps_do_not_depend_on_the_number_of_processes(monkeypatch, lintseq_rows, tmp_path):
    """`--match-steps-with` under 1, 2 or 4 processes: the same optimizer steps for the same effective batch."""
    from lintseq.training.sft import plan_steps
    from lintseq.training.tokenizer import add_diff_token

    tok = train_tokenizer()
    add_diff_token(tok)
    rows = [json.loads(line) for line in lintseq_rows.read_text().splitlines()]
    other = write_jsonl(tmp_path / "other.jsonl", rows[:13])
    plans = []
    for world in (1, 2, 4):
        monkeypatch.setenv("WORLD_SIZE", str(world))
        cfg = TrainConfig(
            data=str(lintseq_rows),
            output="o",
            init="tiny",
            batch_size=8,
            micro_batch_size=2,
            match_steps_with=str(other),
            match_epochs=3,
            max_seq_length=2048,
        )
        _, steps, match = plan_steps(cfg, len(rows), tok)
        plans.append((steps, match["rows"], match["this_run_epochs"]))
    assert plans == [(6, 13, 1.5)] * 3  # 3 epochs of ceil(13 / 8) steps; 32 rows take 4 steps an epoch


def test_lora_is_refused_when_the_launcher_shards_the_weights(monkeypatch, tmp_path):
    from lintseq.training.sft import train

    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    data = write_jsonl(tmp_path / "rows.jsonl", [{"prompt": "p", "completion": "c"}])
    with pytest.raises(ValueError, match="not FSDP"):
        train(TrainConfig(data=str(data), output=str(tmp_path / "m"), model="any", lora=True, batch_size=8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl"]


def test_experiment_training_stages_run_under_a_launcher(tmp_path, lintseq_rows):
    """`[train] launcher`: the stage runs `LAUNCHER -m lintseq train --config FILE` (here plain
    python) and reports what the in-process stage reports; the launcher is not part of the
    stage's key, so a run moved to more processes is not trained again."""
    import shutil
    import tomllib

    from lintseq.experiment import recipe as cfgmod
    from lintseq.experiment import runner, stages

    base = no_dropout_model(tmp_path / "base")

    def conf(launcher: str) -> dict:
        path = tmp_path / "exp.toml"
        path.write_text(
            f"""[model]
name = "{base}"
[data]
sources = ["lintseq:sample"]
[train]
launcher = {json.dumps(launcher)}
max_steps = 2
batch_size = 4
micro_batch_size = 4
max_seq_length = 512
logging_steps = 1
""",
            encoding="utf-8",
        )
        return cfgmod.load(path)

    cfg = conf(sys.executable)
    run_dir = tmp_path / "run"
    (run_dir / "format").mkdir(parents=True)
    shutil.copy(lintseq_rows, run_dir / "format" / "baseline.jsonl")
    folder = run_dir / "train-baseline"
    folder.mkdir()

    def context(c) -> stages.Context:
        st = next(st for st in stages.build(c) if st.name == "train-baseline")
        return stages.Context(run_dir, folder, st.reads, st.free, resume=False)

    info = stages._run_train("baseline")(context(cfg))
    assert info["global_step"] == info["planned_steps"] == 2 and info["final_loss"] > 0
    written = tomllib.loads((folder / "train_config.toml").read_text(encoding="utf-8"))
    assert written["max_steps"] == 2 and written["model"] == str(base) and written["overwrite"] is True
    assert (folder / "model" / "config.json").is_file()

    many = conf("accelerate launch --multi_gpu --num_processes 8")
    assert runner.stage_keys(stages.build(many)) == runner.stage_keys(stages.build(cfg))
    failing = conf(f"{sys.executable} -c 'raise SystemExit(3)'")
    with pytest.raises(RuntimeError, match="exited with status 3"):
        stages._run_train("baseline")(context(failing))
    with pytest.raises(cfgmod.ConfigError, match="launcher must be a command"):
        conf("  ")


def test_a_launcher_with_other_mixed_precision_is_refused(monkeypatch, tmp_path, lintseq_rows):
    from lintseq.training.pretrain import pretrain
    from lintseq.training.sft import train

    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    with pytest.raises(ValueError, match=r"asks for bf16 mixed precision, this run for none.*--mixed_precision no"):
        train(TrainConfig(data=str(lintseq_rows), output=str(tmp_path / "m"), init="tiny", bf16=False))
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")
    with pytest.raises(ValueError, match="asks for fp16"):
        pretrain(PretrainConfig(data=str(lintseq_rows), output=str(tmp_path / "p"), init="tiny", bf16=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---- two real processes (slow) ----


@pytest.mark.slow
def test_two_processes_train_like_one_and_resume_after_sigkill(lintseq_rows, tmp_path):
    """Same effective batch (8 = 2 x 4 accumulation x 1 process = 2 x 2 x 2 processes): the
    loss curves and the weights match; only the main process writes; a run killed after a
    checkpoint resumes under two processes to the uninterrupted run's weights."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lintseq import DIFF_TOKEN
    from lintseq.training.sft import checkpoint_dir, train

    base = no_dropout_model(tmp_path / "base")
    common = dict(
        model=str(base),
        data=str(lintseq_rows),
        batch_size=8,
        micro_batch_size=2,
        max_seq_length=512,
        max_steps=40,
        logging_steps=1,
        lr=1e-3,
        save_steps=4,
        save_total_limit=0,
    )
    torch.set_num_threads(1)
    single = train(TrainConfig(output=str(tmp_path / "one"), **common))

    args = [
        "--model",
        str(base),
        "--data",
        str(lintseq_rows),
        "--batch-size",
        "8",
        "--micro-batch-size",
        "2",
        "--max-seq-length",
        "512",
        "--max-steps",
        "40",
        "--logging-steps",
        "1",
        "--lr",
        "1e-3",
        "--save-steps",
        "4",
        "--save-total-limit",
        "0",
    ]
    two = tmp_path / "two"
    done = subprocess.run(
        two_processes("train", *args, "-o", str(two)), capture_output=True, text=True, env=env(), timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "40 optimizer steps, lr 0.001, 2 processes" in done.stderr
    assert done.stderr.count("trained 40 steps on 32 rows") == 1  # the main process reports

    summary = json.loads((two / "train_summary.json").read_text())
    assert summary["global_step"] == summary["planned_steps"] == single.global_step == 40
    assert len(summary["losses"]) == len(single.losses) == 40
    assert summary["losses"] == pytest.approx(single.losses, rel=LOSS_RTOL)
    assert summary["losses"][-1] < summary["losses"][0]
    a, b = load_weights(tmp_path / "one"), load_weights(two)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=0, atol=1e-5) for k in a)
    # only the finished model and no leftovers beside it (temporary folders, checkpoints)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "one", "two"]
    model = AutoModelForCausalLM.from_pretrained(two)
    tok = AutoTokenizer.from_pretrained(two)
    assert tok.encode(DIFF_TOKEN, add_special_tokens=False) == [tok.convert_tokens_to_ids(DIFF_TOKEN)]
    out = model.generate(
        **tok("Write a function\n" + DIFF_TOKEN, return_tensors="pt"), max_new_tokens=4, do_sample=False
    )
    assert out.shape[1] > 1

    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        two_processes("train", *args, "-o", str(cut)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env()
    )
    mark = checkpoint_dir(cut) / "checkpoint-8" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while not mark.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before its second checkpoint"
        time.sleep(0.02)
    kill_tree(proc.pid)  # the launcher and its workers (they run in their own process groups)
    proc.wait()
    assert not cut.exists() and (checkpoint_dir(cut) / "checkpoint-8").is_dir()

    resumed = subprocess.run(
        two_processes("train", *args, "-o", str(cut), "--resume"),
        capture_output=True,
        text=True,
        env=env(),
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "trained 40 steps (resumed from checkpoint-" in resumed.stderr
    c = load_weights(cut)
    assert all(torch.allclose(b[k], c[k], rtol=0, atol=1e-6) for k in b)
    assert not checkpoint_dir(cut).exists()


@pytest.mark.slow
def test_two_processes_pretrain(tmp_path, sample_rows):
    """Pre-training from scratch in two processes: one tokenizer and one packed corpus, written
    by the main process; the same steps and tokens as one process. GPT-2's dropout draws
    different masks in each process, so the losses agree only to dropout noise (measured
    below 0.2%; bounded at 1% here); the data order itself is checked by the fine-tuning test."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lintseq.training.pretrain import STATE_DIR, SUMMARY, pretrain

    corpus = write_jsonl(tmp_path / "corpus.jsonl", [{"text": r["response"]} for r in sample_rows])
    args = [
        "--data",
        str(corpus),
        "--init",
        "tiny",
        "--vocab-size",
        "400",
        "--seq-length",
        "64",
        "--batch-size",
        "8",
        "--micro-batch-size",
        "2",
        "--max-steps",
        "6",
        "--logging-steps",
        "1",
    ]
    torch.set_num_threads(1)
    one = pretrain(
        PretrainConfig(
            data=str(corpus),
            output=str(tmp_path / "one"),
            init="tiny",
            vocab_size=400,
            seq_length=64,
            batch_size=8,
            micro_batch_size=2,
            max_steps=6,
            logging_steps=1,
        )
    )
    two = tmp_path / "two"
    done = subprocess.run(
        two_processes("pretrain", *args, "-o", str(two)), capture_output=True, text=True, env=env(), timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("pre-trained 6 steps") == 1
    summary = json.loads((two / SUMMARY).read_text())
    assert summary["global_step"] == one.global_step == 6
    assert summary["n_tokens"] == one.n_tokens and summary["tokens_trained"] == one.summary()["tokens_trained"]
    assert summary["losses"] == pytest.approx(one.losses, rel=1e-2)
    assert (two / "tokenizer.json").read_text() == (tmp_path / "one" / "tokenizer.json").read_text()
    assert (two / STATE_DIR / "tokens.npy").read_bytes() == (tmp_path / "one" / STATE_DIR / "tokens.npy").read_bytes()
    assert not list(two.glob(".*"))  # no temporary folder left behind
    model = AutoModelForCausalLM.from_pretrained(two)
    assert model.config.vocab_size >= len(AutoTokenizer.from_pretrained(two))


@pytest.mark.slow
def test_micro_experiment_with_training_stages_in_two_processes(tmp_path, monkeypatch):
    """The micro recipe with `[train] launcher` = torchrun x 2: pre-training and both arms run
    as two processes, the arms still take the same optimizer steps, and the report is written."""
    from lintseq.experiment import recipe as cfgmod
    from lintseq.experiment import runner

    text = cfgmod.recipe_path("micro").read_text(encoding="utf-8")
    launcher = f"{sys.executable} -m torch.distributed.run --standalone --nproc_per_node 2"
    for old, new in {
        "micro_batch_size = 4\nmax_steps = 4": "micro_batch_size = 2\nmax_steps = 4",
        "micro_batch_size = 8": f"micro_batch_size = 4\nlauncher = {json.dumps(launcher)}",
    }.items():
        assert old in text
        text = text.replace(old, new)
    conf = tmp_path / "micro.toml"
    conf.write_text(text, encoding="utf-8")
    run_dir = tmp_path / "run"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    runner.run(cfgmod.load(conf), run_dir, log=lambda _: None)
    for stage in ("pretrain", "train-baseline", "train-lintseq"):
        assert (run_dir / stage / f"{'pretrain' if stage == 'pretrain' else 'train'}_config.toml").is_file()
    base = json.loads((run_dir / "train-baseline" / "model" / "train_summary.json").read_text())
    lint = json.loads((run_dir / "train-lintseq" / "model" / "train_summary.json").read_text())
    assert base["global_step"] == lint["global_step"] == lint["match"]["steps"]
    pre = json.loads((run_dir / "pretrain" / "done.json").read_text())["info"]
    assert pre["global_step"] == 4 and pre["tokens_trained"] == 4 * 4 * 512
    assert (run_dir / "report.md").is_file()
