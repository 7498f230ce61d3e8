"""`lintseq train` on CPU with tiny GPT-2 models built from configs and tokenizers trained here."""

from __future__ import annotations

import json
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from lintseq import DIFF_TOKEN, derive_seed, sample_edit_sequence
from lintseq.cli import main
from lintseq.formatting import format_row
from lintseq.training import steps
from lintseq.training.config import CONFIG_NAME, TrainConfig, dump_toml, load_config, lr_for_parameters

torch = pytest.importorskip("torch")
pytest.importorskip("trl")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Two OpenMP threads on a shared 2-core box are ~20x slower than one for a tiny model."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Baseline rows (one per program) and LintSeq rows (s = 5) from the bundled sample."""
    text = resources.files("lintseq").joinpath("data/sample.jsonl").read_text(encoding="utf-8")
    src = [json.loads(line) for line in text.splitlines()[:12]]
    lintseq_rows, base_rows = [], []
    for row in src:
        base_rows.append(format_row(row, "baseline"))
        for k in range(5):
            seed = derive_seed(0, row["response"], k)
            path = sample_edit_sequence(row["response"], seed=seed)
            gen = {**row, "edit_path": path, "sample": k, "seed": seed, "n_edits": len(path)}
            lintseq_rows.append(format_row(gen, "lintseq"))
    d = tmp_path_factory.mktemp("data")
    return {
        "baseline": write_jsonl(d / "base.jsonl", base_rows),
        "lintseq": write_jsonl(d / "lintseq.jsonl", lintseq_rows),
        "base_rows": base_rows,
        "lintseq_rows": lintseq_rows,
        "dir": d,
    }


def tiny_cfg(data_path, out, **kw) -> TrainConfig:
    values = dict(
        data=str(data_path),
        output=str(out),
        init="tiny",
        vocab_size=600,
        batch_size=4,
        micro_batch_size=4,
        max_seq_length=512,
        logging_steps=1,
        max_steps=2,
    )
    values.update(kw)
    return TrainConfig(**values)


def test_trained_tokenizer_has_one_diff_token(data):
    from lintseq.training.tokenizer import add_diff_token, train_bpe_tokenizer

    rows = data["lintseq_rows"]
    tok = train_bpe_tokenizer((r["prompt"] + r["completion"] for r in rows), vocab_size=600)
    diff_id = add_diff_token(tok)
    assert tok.encode(DIFF_TOKEN, add_special_tokens=False) == [diff_id]
    text = rows[0]["prompt"] + rows[0]["completion"]
    ids = tok.encode(text, add_special_tokens=False)
    assert ids.count(diff_id) == text.count(DIFF_TOKEN)
    assert tok.decode(ids) == text  # byte-level: lossless, and <|diff|> survives decoding
    assert tok.decode(ids, skip_special_tokens=True) == text  # not a special token
    assert tok.pad_token_id != tok.eos_token_id


@pytest.mark.parametrize("style", ["lintseq", "baseline"])
def test_labels_mask_the_prompt_and_end_with_one_eos(data, tmp_path, style):
    from lintseq.training import sft

    cfg = tiny_cfg(data[style], tmp_path / "m", padding_free=False)
    rows = sft.load_training_rows(cfg.data)
    tok = sft.build_tokenizer(cfg, rows)
    model = sft.build_model(cfg, tok)
    cfg = sft.resolve_config(cfg, 1)
    trainer = sft.build_trainer(cfg, model, tok, rows[:4], str(tmp_path / "work"), 1)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    for i, row in enumerate(rows[:4]):
        n_prompt = len(tok(row["prompt"])["input_ids"])
        n_full = len(tok(row["prompt"] + row["completion"] + tok.eos_token)["input_ids"])
        labels = batch["labels"][i].tolist()
        ids = batch["input_ids"][i].tolist()
        assert labels[:n_prompt] == [-100] * n_prompt
        assert labels[n_prompt:n_full] == ids[n_prompt:n_full]
        assert labels[n_full:] == [-100] * (len(labels) - n_full)  # padding
        assert ids[:n_full].count(tok.eos_token_id) == 1 and ids[n_full - 1] == tok.eos_token_id
        if style == "lintseq":
            diff_id = tok.convert_tokens_to_ids(DIFF_TOKEN)
            assert ids[n_prompt - 1] == diff_id  # the prompt ends on <|diff|>
            assert labels.count(diff_id) == row["completion"].count(DIFF_TOKEN)


def test_padding_free_batches_train_as_padded_ones(data, tmp_path):
    """A micro-batch joined into one sequence, each row attending to itself only
    (`padding_free.varlen_sdpa`), has the padded batch's labels without the padding and trains
    to the same losses and weights, on a tiny Llama (SmolLM2's grouped-query attention, no
    dropout). Plain SDPA on the joined sequence would let rows attend to each other."""
    from tiny_lm import build_llama, train_tokenizer

    from lintseq.training import sft
    from lintseq.training.padding_free import NAME

    tok = train_tokenizer()
    build_llama(tok).save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    rows = data["lintseq_rows"][:8]
    assert len({len(r["prompt"] + r["completion"]) for r in rows}) > 1  # the padded batches hold padding
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    runs = {}
    for free in (False, True):
        cfg = TrainConfig(
            data=str(path),
            output=str(tmp_path / f"out-{free}"),
            model=str(tmp_path / "base"),
            batch_size=8,
            micro_batch_size=4,
            max_steps=3,
            logging_steps=1,
            lr=1e-2,
            warmup_ratio=0.0,
            new_token_init="mean",
            padding_free=free,
        )
        train_rows = sft.load_training_rows(cfg.data)
        t = sft.build_tokenizer(cfg, train_rows)
        model = sft.build_model(cfg, t)
        trainer = sft.build_trainer(sft.resolve_config(cfg, 1), model, t, train_rows, str(tmp_path / f"w-{free}"), 1)
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
        runs[free] = {"batch": batch, "attn": model.config._attn_implementation}
        runs[free]["result"] = sft.train(cfg, progress=False)
    padded, joined = runs[False]["batch"], runs[True]["batch"]
    assert joined["input_ids"].shape[0] == 1 and runs[True]["attn"] == NAME and runs[False]["attn"] == "sdpa"
    real = padded["attention_mask"].bool()
    assert torch.equal(joined["input_ids"][0], padded["input_ids"][real])
    assert torch.equal(joined["labels"][0], padded["labels"][real])
    losses = [runs[free]["result"].losses for free in (False, True)]
    assert len(losses[0]) == 3 and losses[0] == pytest.approx(losses[1], rel=1e-4)
    from transformers import AutoModelForCausalLM

    a, b = (AutoModelForCausalLM.from_pretrained(tmp_path / f"out-{free}") for free in (False, True))
    assert b.config._attn_implementation == "sdpa"  # the saved model loads as any other
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.allclose(pa, pb, atol=1e-4), name


def test_cpu_lm_head_gives_trls_loss_metrics_and_gradients(data, tmp_path, monkeypatch):
    """The CPU LM head (`lm_head`: labelled positions only, gradient computed in the forward
    pass) gives the loss, entropy, top-1 and gradients of TRL's kernel scoring every position,
    on a real padding-free micro-batch; and the gradient of a loss weighing positions unequally."""
    from tiny_lm import build_llama, train_tokenizer
    from trl.trainer import utils

    from lintseq.training import sft
    from lintseq.training.lm_head import CpuLogProb, fast_cpu_head
    from lintseq.training.lm_head import _fused_function as sft_head_function

    tok = train_tokenizer()
    build_llama(tok).save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    rows = data["lintseq_rows"][:4]
    cfg = TrainConfig(
        data=str(write_jsonl(tmp_path / "rows.jsonl", rows)),
        output=str(tmp_path / "out"),
        model=str(tmp_path / "base"),
        batch_size=4,
        micro_batch_size=4,
        lr=1e-3,
        new_token_init="mean",
    )
    t = sft.build_tokenizer(cfg, rows)
    model = sft.build_model(cfg, t)
    trainer = sft.build_trainer(sft.resolve_config(cfg, 1), model, t, rows, str(tmp_path / "w"), 1)
    assert fast_cpu_head() and utils._use_triton(torch.device("cpu"))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    assert (batch["labels"] == -100).any()  # prompts: positions the compact head skips
    results = []
    trl_head = (utils._use_triton.original, CpuLogProb.original)
    for use_triton, function in (trl_head, (utils._use_triton, CpuLogProb)):
        monkeypatch.setattr(utils, "_use_triton", use_triton)
        monkeypatch.setattr(utils, "_ChunkedLogProbFunction", function)
        model.zero_grad()
        out = model(**batch, fused_lm_head=True)
        out.loss.backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        results.append((out.loss.detach(), out.entropy.detach(), out.is_top1, grads))
    (loss_a, ent_a, top_a, grads_a), (loss_b, ent_b, top_b, grads_b) = results
    assert torch.allclose(loss_a, loss_b, rtol=1e-5) and torch.allclose(ent_a, ent_b, atol=1e-5)
    assert torch.equal(top_a, top_b) and len(grads_a) == len(grads_b)
    assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(grads_a, grads_b))

    h = torch.randn(7, 16, dtype=torch.float64, requires_grad=True)
    w = torch.randn(30, 16, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 30, (7,))
    fused = CpuLogProb.function or sft_head_function()
    weights = torch.arange(7.0, dtype=torch.float64)
    (fused.apply(h, w, y)[0] * weights).sum().backward()
    expected = [g.clone() for g in (h.grad, w.grad)]
    h.grad = w.grad = None
    (torch.log_softmax(h @ w.T, -1).gather(1, y[:, None])[:, 0] * weights).sum().backward()
    assert torch.allclose(expected[0], h.grad) and torch.allclose(expected[1], w.grad)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A tiny model trained 20 steps on a repeated batch of 4 LintSeq rows."""
    from lintseq.training.sft import train

    tmp = tmp_path_factory.mktemp("trained")
    rows = data["lintseq_rows"][:4]
    out = tmp / "model"
    cfg = tiny_cfg(write_jsonl(tmp / "four.jsonl", rows), out, max_steps=20, lr=5e-3, warmup_ratio=0.0)
    return {"result": train(cfg), "out": out, "rows": rows, "tmp": tmp}


def test_loss_falls_and_saved_model_loads_and_generates(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result, out, rows, tmp_path = trained["result"], trained["out"], trained["rows"], trained["tmp"]
    assert result.global_step == 20 and len(result.losses) == 20
    assert result.losses[-1] < 0.5 * result.losses[0], result.losses

    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert tok.convert_tokens_to_ids(DIFF_TOKEN) == tok.encode(DIFF_TOKEN, add_special_tokens=False)[0]
    gen = model.generation_config
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    assert gen.pad_token_id is not None and gen.pad_token_id not in eos
    prompt = tok(rows[0]["prompt"], return_tensors="pt")
    new = model.generate(**prompt, max_new_tokens=40, do_sample=False)[0, prompt["input_ids"].shape[1] :]
    assert len(new) > 0
    text = tok.decode(new)
    assert text.startswith("@@ -0,0 +1")  # every completion starts so; 20 steps teach that much

    saved = load_config(out / CONFIG_NAME)
    assert saved["lr"] == 5e-3 and saved["max_steps"] == 20 and saved["init"] == "tiny"
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == 20
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_saved_model_samples_through_lintseq_sample(trained, tmp_path):
    pytest.importorskip("lintseq.evaluation.problems")
    from lintseq import resolve

    out = tmp_path / "samples.jsonl"
    cmd = [
        "sample",
        "--model",
        str(trained["out"]),
        "--benchmark",
        "humaneval",
        "--limit",
        "2",
        "-n",
        "1",
        "-t",
        "0",
        "--max-new-tokens",
        "24",
        "--device",
        "cpu",
        "-o",
        str(out),
        "-q",
    ]
    res = CliRunner().invoke(main, cmd)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2
    assert all(r["completion"].startswith("@@") for r in rows)  # it writes edits, not prose
    assert all(r["program"] == resolve(r["completion"]).program for r in rows)


def test_match_steps_gives_equal_optimizer_steps(data, tmp_path):
    """Baseline 10 epochs on N rows vs LintSeq on 5N rows, matched (the paper's comparison)."""
    from lintseq.training.sft import train

    n_base, n_ls = 12, 60
    micro, batch = 6, 12
    base = train(
        tiny_cfg(data["baseline"], tmp_path / "b", max_steps=None, epochs=10, batch_size=batch, micro_batch_size=micro)
    )
    ls = train(
        tiny_cfg(
            data["lintseq"],
            tmp_path / "l",
            max_steps=None,
            epochs=1,
            batch_size=batch,
            micro_batch_size=micro,
            match_steps_with=str(data["baseline"]),
            match_epochs=10,
        )
    )
    accum = batch // micro
    expected = steps.total_steps(n_base, 10, micro, accum)
    assert (base.rows, ls.rows) == (n_base, n_ls)
    assert expected == 10 * math.ceil(math.ceil(n_base / micro) / accum) == 10
    assert steps.total_steps(n_ls, 2, micro, accum) == expected  # here 2 epochs on 5x rows match exactly
    assert base.planned_steps == base.global_step == expected
    assert ls.planned_steps == ls.global_step == expected
    assert ls.match["this_run_epochs"] == pytest.approx(expected / steps.steps_per_epoch(n_ls, micro, accum))
    # the saved config repeats the matched run without the other file
    saved = load_config(tmp_path / "l" / CONFIG_NAME)
    assert saved["max_steps"] == expected and "match_steps_with" not in saved


def test_resume_after_a_crash_gives_the_same_weights_as_an_uninterrupted_run(data, tmp_path):
    """Optimizer, scheduler, RNG and data order come back from the checkpoint: on CPU the
    resumed run is bit-identical, and its checkpoint folder is gone once the model is saved."""
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    from lintseq.training.sft import checkpoint_dir, train

    def cfg(out, **kw):
        return tiny_cfg(data["lintseq"], out, max_steps=8, save_steps=2, save_total_limit=0, micro_batch_size=2, **kw)

    full = train(cfg(tmp_path / "full"))
    assert not checkpoint_dir(tmp_path / "full").exists()

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 5:
                raise KeyboardInterrupt  # after checkpoint-4, before checkpoint-6

    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        train(cfg(cut), callbacks=[Crash()])
    state = checkpoint_dir(cut)
    assert not cut.exists()  # nothing that loads as a finished model
    assert sorted(p.name for p in state.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg(cut))
    with pytest.raises(ValueError, match=r"settings differ.*lr"):
        train(cfg(cut, resume=True, lr=1e-3))

    class Count(TrainerCallback):
        steps: ClassVar[list[int]] = []  # on the class: read after train() has dropped the instance

        def on_step_end(self, args, state, control, **kw):
            self.steps.append(state.global_step)

    (state / "checkpoint-6").mkdir()  # as if killed while saving step 6
    resumed = train(cfg(cut, resume=True), callbacks=[Count()])
    assert Path(resumed.resumed_from).name == "checkpoint-4"
    assert Count.steps == [5, 6, 7, 8]  # only the steps the stopped run had not taken
    assert resumed.global_step == full.global_step == 8
    assert resumed.losses[-4:] == full.losses[-4:] and full.losses[-1] < full.losses[0]
    a, b = load_file(tmp_path / "full" / "model.safetensors"), load_file(cut / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not state.exists()

    # a run stopped before its first checkpoint (a LoRA run writes none) has nothing to resume
    early = checkpoint_dir(tmp_path / "early")
    early.mkdir()
    (early / "run.json").write_text("{}")
    assert train(cfg(tmp_path / "early")).global_step == 8 and not early.exists()


def test_checkpoints_are_written_beside_training_and_a_failed_one_never_looks_complete(data, tmp_path, monkeypatch):
    """Checkpoint files are written by a thread while the next step computes; the Trainer's
    state file comes last, so a checkpoint whose writing failed lacks it (and is set aside on
    resume), and the failure stops the run instead of passing unnoticed."""
    import threading
    import time

    from transformers import Trainer, TrainerCallback

    from lintseq.training.checkpoints import last_complete_checkpoint
    from lintseq.training.sft import checkpoint_dir, train

    seen: list[str] = []

    class Watch(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            seen.extend(t.name for t in threading.enumerate() if t.name == "checkpoint")

    save_model = Trainer.save_model

    def slow_save(self, *args, **kw):  # a tiny model writes too fast to be caught writing
        time.sleep(0.5)
        save_model(self, *args, **kw)

    monkeypatch.setattr(Trainer, "save_model", slow_save)
    cfg = tiny_cfg(data["lintseq"], tmp_path / "ok", max_steps=4, save_steps=2, micro_batch_size=2)
    train(cfg, callbacks=[Watch()])
    assert seen  # a checkpoint was still being written when the next step began

    def fail(self, output_dir):
        raise OSError("disk full")

    monkeypatch.setattr(Trainer, "_save_optimizer_and_scheduler", fail)
    out = tmp_path / "failed"
    with pytest.raises(RuntimeError, match="writing a checkpoint failed"):
        train(tiny_cfg(data["lintseq"], out, max_steps=4, save_steps=2, micro_batch_size=2))
    state = checkpoint_dir(out)
    written = state / "checkpoint-2"
    assert (written / "model.safetensors").is_file() and not (written / "trainer_state.json").exists()
    assert not out.exists() and last_complete_checkpoint(state) is None


def test_cli_baseline_run_drops_long_rows_and_refuses_to_overwrite(data, tmp_path):
    out = tmp_path / "cli"
    args = [
        "train",
        "--init",
        "tiny",
        "--data",
        str(data["baseline"]),
        "--output",
        str(out),
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--micro-batch-size",
        "2",
        "--max-seq-length",
        "96",
        "--vocab-size",
        "600",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["dropped_too_long"] > 0 and summary["rows"] + summary["dropped_too_long"] == 12
    assert summary["global_step"] == 2
    res = CliRunner().invoke(main, args)
    assert res.exit_code != 0 and "--overwrite" in res.output
    # rerun from the saved config, overriding one option
    res = CliRunner().invoke(
        main, ["train", "--config", str(out / CONFIG_NAME), "--output", str(tmp_path / "again"), "--max-steps", "1"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "again" / "train_summary.json").read_text())["global_step"] == 1
    assert tomllib.loads((tmp_path / "again" / CONFIG_NAME).read_text())["max_seq_length"] == 96


def test_lora_on_pretrained_model_adds_diff_token_and_merges(data, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lintseq.training.sft import train
    from lintseq.training.shapes import init_model
    from lintseq.training.tokenizer import train_bpe_tokenizer

    rows = data["base_rows"]
    tok = train_bpe_tokenizer((r["prompt"] + r["completion"] for r in rows), 500, with_diff_token=False)
    assert DIFF_TOKEN not in tok.get_vocab()
    base = init_model("tiny", len(tok), 512, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)
    base.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")

    def run(name, lr):
        cfg = TrainConfig(
            data=str(data["lintseq"]),
            output=str(tmp_path / name),
            model=str(tmp_path / "base"),
            lora=True,
            lora_r=4,
            batch_size=4,
            micro_batch_size=4,
            max_steps=3,
            lr=lr,
            warmup_ratio=0.0,
            max_seq_length=512,
        )
        return train(cfg)

    result = run("lora", 1e-2)
    frozen = run("lr0", 0.0)  # same seed: same resized embeddings, no updates
    assert result.global_step == frozen.global_step == 3
    out = tmp_path / "lora"
    assert not (out / "adapter_config.json").exists()
    tuned = AutoModelForCausalLM.from_pretrained(out)
    start = AutoModelForCausalLM.from_pretrained(tmp_path / "lr0")
    tok2 = AutoTokenizer.from_pretrained(out)
    diff_id = tok2.convert_tokens_to_ids(DIFF_TOKEN)
    assert diff_id >= len(tok) and tok2.encode(DIFF_TOKEN, add_special_tokens=False) == [diff_id]
    emb, emb0 = tuned.get_input_embeddings().weight, start.get_input_embeddings().weight
    assert emb.shape[0] >= len(tok2)
    assert tuned.get_output_embeddings().weight.data_ptr() == emb.data_ptr()  # still tied
    assert (emb[diff_id] - emb0[diff_id]).abs().max() > 1e-3  # the new token was trained
    # LoRA was merged into the attention weights
    name = "transformer.h.0.attn.c_attn.weight"
    assert (tuned.state_dict()[name] - start.state_dict()[name]).abs().max() > 1e-4


# ---- pure parts: steps, config, learning rate ----


@given(
    n=st.integers(1, 10_000),
    micro=st.sampled_from([1, 2, 4, 8, 16]),
    accum=st.integers(1, 64),
    epochs=st.integers(1, 12),
    world=st.sampled_from([1, 2, 8]),
)
def test_step_math(n, micro, accum, epochs, world):
    per = steps.steps_per_epoch(n, micro, accum, world)
    assert per >= 1
    # every row is seen once per epoch: (per - 1) full steps are not enough
    assert (per - 1) * micro * accum * world < n <= per * micro * accum * world
    total = steps.total_steps(n, epochs, micro, accum, world)
    assert total == epochs * per
    assert steps.matched_epochs(n, total, micro, accum, world) == pytest.approx(epochs)


def test_accumulation_must_divide():
    assert steps.accumulation_steps(512, 8) == 64
    assert steps.accumulation_steps(512, 8, world_size=4) == 16
    with pytest.raises(ValueError, match="multiple"):
        steps.accumulation_steps(512, 24)


def test_lr_by_model_size():
    assert lr_for_parameters(150_000_000) == 3e-4
    assert lr_for_parameters(2_600_000_000) == 5e-5
    assert lr_for_parameters(8_000_000_000) == 1e-5


def test_config_round_trip_and_errors(tmp_path):
    cfg = TrainConfig(data="d.jsonl", output="o", model="m", lr=1e-4, report_to="tensorboard", epochs=2.5)
    path = tmp_path / "c.toml"
    path.write_text(dump_toml(cfg.to_dict(), "x"))
    assert TrainConfig.from_dict(load_config(path)) == cfg
    (tmp_path / "t.toml").write_text('[train]\ndata = "a"\nmax-seq-length = 256\n')
    assert load_config(tmp_path / "t.toml") == {"data": "a", "max_seq_length": 256}
    (tmp_path / "bad.toml").write_text("lerning_rate = 1\n")
    with pytest.raises(ValueError, match="lerning_rate"):
        load_config(tmp_path / "bad.toml")
    for bad in (
        dict(data="d", output="o"),
        dict(data="d", output="o", model="m", init="tiny"),
        dict(data="d", output="o", init="huge"),
        dict(data="d", output="o", model="m", max_steps=3, match_steps_with="x"),
    ):
        with pytest.raises(ValueError):
            TrainConfig(**bad).validate()


def test_cli_usage_errors(tmp_path, data):
    res = CliRunner().invoke(main, ["train", "--data", str(data["baseline"]), "--output", str(tmp_path / "x")])
    assert res.exit_code != 0 and "--model" in res.output
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"instruction": "x", "response": "y"}])
    res = CliRunner().invoke(main, ["train", "--init", "tiny", "--data", str(bad), "--output", str(tmp_path / "y")])
    assert res.exit_code != 0 and "lintseq format" in res.output
    assert not (tmp_path / "y").exists()


# ---- where an added <|diff|> starts ----


@pytest.fixture(scope="module")
def base_without_diff(data, tmp_path_factory):
    """A tiny "pretrained" model saved with a tokenizer that lacks <|diff|>."""
    from lintseq.training.shapes import init_model
    from lintseq.training.tokenizer import train_bpe_tokenizer

    rows = data["base_rows"]
    tok = train_bpe_tokenizer((r["prompt"] + r["completion"] for r in rows), 500, with_diff_token=False)
    base = init_model("tiny", len(tok), 512, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)
    path = tmp_path_factory.mktemp("base") / "model"
    base.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _diff_probability(model, tok, rows) -> float:
    """Mean probability the model gives <|diff|> where the completions put it next."""
    diff_id = tok.convert_tokens_to_ids(DIFF_TOKEN)
    probs = []
    with torch.no_grad():
        for row in rows:
            n_prompt = len(tok(row["prompt"])["input_ids"])
            ids = tok(row["prompt"] + row["completion"], return_tensors="pt")["input_ids"]
            p = model(input_ids=ids).logits[0, :-1].softmax(-1)[:, diff_id]
            at = (ids[0, 1:] == diff_id) & (torch.arange(ids.shape[1] - 1) >= n_prompt - 1)
            probs += p[at].tolist()
    assert probs
    return sum(probs) / len(probs)


@pytest.mark.parametrize("how", ["predictive", "mean"])
def test_added_diff_token_starts_where_the_data_puts_it(data, base_without_diff, tmp_path, how):
    from lintseq.training import sft

    cfg = TrainConfig(
        data=str(data["lintseq"]),
        output=str(tmp_path / "o"),
        model=str(base_without_diff),
        max_seq_length=512,
        new_token_init=how,
    )
    rows = sft.load_training_rows(cfg.data)
    tok = sft.build_tokenizer(cfg, rows)
    model = sft.build_model(cfg, tok).eval()
    info = sft.start_new_token(cfg, model, tok, rows)
    p = _diff_probability(model, tok, rows)  # all 60 rows; the start read 32 of them
    if how == "mean":
        assert info is None and p < 0.02  # one token of ~500 at an average logit
    else:
        assert info is not None and info["rows"] == 32 and info["alpha"] > 0
        assert abs(info["p_at_positions"] - 0.5) < 0.01  # the bisection's target, on the rows it read
        assert p > 0.3  # measured here, with the token's own input embedding moved too
        assert info["p_elsewhere"] < info["p_at_positions"]


def test_a_model_that_knows_diff_keeps_its_embedding(data, tmp_path):
    from lintseq.training import sft

    cfg = tiny_cfg(data["lintseq"], tmp_path / "m", max_steps=1)
    rows = sft.load_training_rows(cfg.data)
    tok = sft.build_tokenizer(cfg, rows)
    model = sft.build_model(cfg, tok)
    assert sft.start_new_token(cfg, model, tok, rows) is None  # fresh: nothing to start
    sft.train(cfg)
    again = TrainConfig(data=cfg.data, output=str(tmp_path / "again"), model=cfg.output, max_seq_length=512)
    tok2 = sft.build_tokenizer(again, rows)
    model2 = sft.build_model(again, tok2)
    before = model2.get_input_embeddings().weight.clone()
    assert sft.start_new_token(again, model2, tok2, rows) is None  # its vocabulary has <|diff|>
    assert torch.equal(before, model2.get_input_embeddings().weight)
