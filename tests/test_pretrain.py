"""`lintseq pretrain` on CPU: tiny GPT-2 models from scratch on a few stdlib files."""

from __future__ import annotations

import json
import sysconfig
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lintseq import DIFF_TOKEN
from lintseq.training.config import PRETRAIN_CONFIG_NAME, PretrainConfig

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FILES = ["textwrap.py", "shlex.py", "bisect.py", "heapq.py", "fnmatch.py", "colorsys.py"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Two OpenMP threads on a shared 2-core box are much slower than one for a tiny model."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A `lintseq mine --raw`-style corpus of six stdlib modules (~30k tokens at vocab 512)."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    rows = [{"text": (STDLIB / f).read_text(encoding="utf-8"), "source": f} for f in FILES]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def tiny(corpus: Path, out: Path, **kw) -> PretrainConfig:
    values = dict(
        data=str(corpus),
        output=str(out),
        init="tiny",
        vocab_size=512,
        seq_length=128,
        batch_size=4,
        micro_batch_size=2,
        max_steps=8,
        save_steps=2,
        logging_steps=1,
        lr=3e-3,
    )
    values.update(kw)
    return PretrainConfig(**values)


@pytest.fixture(scope="module")
def tok(corpus):
    from lintseq.training.pretrain import iter_documents
    from lintseq.training.tokenizer import train_bpe_tokenizer

    return train_bpe_tokenizer(iter_documents(corpus), 512)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    docs=st.lists(
        st.lists(
            st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
            | st.sampled_from(["<|endoftext|>", "<|pad|>", "<|diff|>"]),
            min_size=1,
            max_size=4,
        ).map("".join),
        min_size=1,
        max_size=6,
    ),
    seq_length=st.integers(1, 16),
)
def test_packing_keeps_every_document_in_order_between_eos(tok, tmp_path_factory, docs, seq_length):
    """Special-token text inside a document (tokenizer code spells them out) stays text."""
    from lintseq.training.pretrain import PackedDataset, tokenize_corpus

    path = tmp_path_factory.mktemp("tokens") / "tokens.npy"
    meta = tokenize_corpus(iter(docs), tok, path, batch=2)
    ds = PackedDataset(path, seq_length)
    flat = [t for i in range(len(ds)) for t in ds[i]["input_ids"].tolist()]
    assert len(ds) == meta["n_tokens"] // seq_length and meta["n_documents"] == len(docs)
    assert all(torch.equal(ds[i]["input_ids"], ds[i]["labels"]) for i in range(len(ds)))
    whole = ds.tokens.tolist()
    assert flat == whole[: len(flat)]
    assert whole.count(tok.eos_token_id) == len(docs) and whole[-1] == tok.eos_token_id
    if tok.pad_token_id is not None:
        assert tok.pad_token_id not in whole
    ends = [i for i, t in enumerate(whole) if t == tok.eos_token_id]
    pieces = [whole[a + 1 : b] for a, b in zip([-1] + ends, ends)]
    assert [tok.decode(p) for p in pieces] == docs  # lossless, one EOS after each


def test_documents_from_a_directory_and_bad_rows(tmp_path):
    from lintseq.training.pretrain import iter_documents

    tree = tmp_path / "tree"
    for rel, text in {
        "b.py": "b = 2\n",
        "a/x.py": "x = 1\n",
        "a/__pycache__/x.py": "cached\n",
        ".hidden/h.py": "h\n",
        "notes.txt": "not python\n",
        "empty.py": "  \n",
    }.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    (tree / "latin.py").write_bytes(b"s = '\xe9'\n")
    assert list(iter_documents(tree)) == ["x = 1\n", "b = 2\n"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"content": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: needs a string field 'text'"):
        list(iter_documents(bad))
    with pytest.raises(ValueError, match=r":1: needs a string field 'content'"):
        list(iter_documents(bad, "content"))


def test_resume_after_a_crash_gives_the_same_weights_as_an_uninterrupted_run(corpus, tmp_path):
    """On CPU the resumed run is bit-identical: optimizer, scheduler, RNG and data order all restored."""
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    from lintseq.training.pretrain import pretrain

    full = pretrain(tiny(corpus, tmp_path / "full"))

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 5:
                raise KeyboardInterrupt  # after checkpoint-4, before checkpoint-6

    with pytest.raises(KeyboardInterrupt):
        pretrain(tiny(corpus, tmp_path / "cut"), callbacks=[Crash()])
    cut = tmp_path / "cut"
    assert not (cut / "config.json").exists()  # nothing that loads as a finished model
    assert sorted(p.name for p in (cut / "pretrain_state").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]

    partial = cut / "pretrain_state" / "checkpoint-6"  # as if killed while saving step 6
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"half")
    resumed = pretrain(tiny(corpus, cut, resume=True))
    assert (cut / "pretrain_state" / "incomplete-checkpoint-6" / "model.safetensors").read_bytes() == b"half"
    assert Path(resumed.resumed_from).name == "checkpoint-4"
    assert resumed.global_step == full.global_step == 8
    assert resumed.losses == full.losses and full.losses[-1] < full.losses[0]
    a, b = load_file(tmp_path / "full" / "model.safetensors"), load_file(cut / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cli_pretrained_model_fine_tunes_with_lintseq_train(corpus, tmp_path, sample_rows):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lintseq.commands.pretrain import command as pretrain_cmd
    from lintseq.formatting import format_row
    from lintseq.training.config import TrainConfig
    from lintseq.training.sft import train

    out = tmp_path / "base"
    args = [
        "--data",
        str(corpus),
        "--init",
        "tiny",
        "--vocab-size",
        "512",
        "--seq-length",
        "256",
        "--batch-size",
        "2",
        "--micro-batch-size",
        "2",
        "--max-steps",
        "3",
        "--save-steps",
        "2",
        "-o",
        str(out),
    ]
    res = CliRunner().invoke(pretrain_cmd, args)
    assert res.exit_code == 0, res.output
    assert "pre-trained 3 steps" in res.output

    saved = tomllib.loads((out / PRETRAIN_CONFIG_NAME).read_text())
    assert saved["init"] == "tiny" and saved["max_steps"] == 3 and saved["lr"] == 3e-4 and saved["bf16"] is False
    summary = json.loads((out / "pretrain_summary.json").read_text())
    assert summary["global_step"] == 3 and summary["tokens_trained"] == 3 * 2 * 256

    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert tok.encode(DIFF_TOKEN, add_special_tokens=False) == [tok.convert_tokens_to_ids(DIFF_TOKEN)]
    rows_before = model.get_input_embeddings().weight.shape[0]
    assert rows_before >= len(tok)
    gen = model.generation_config
    assert gen.pad_token_id is not None and gen.pad_token_id != gen.eos_token_id == tok.eos_token_id

    # the same directory again: refused without --resume; --resume alone continues with its settings
    again = CliRunner().invoke(pretrain_cmd, args)
    assert again.exit_code != 0 and "--resume" in again.output
    changed = CliRunner().invoke(pretrain_cmd, ["-o", str(out), "--resume", "--seq-length", "128"])
    assert changed.exit_code != 0 and "seq_length: 256 -> 128" in changed.output
    more = CliRunner().invoke(pretrain_cmd, ["-o", str(out), "--resume", "--max-steps", "4"])
    assert more.exit_code == 0, more.output
    assert "pre-trained 4 steps (resumed from checkpoint-3)"  # the last step is always saved in more.output

    # fine-tune: no new tokens, so no resize
    rows = [format_row(r, "baseline") for r in sample_rows[:2]]
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    too_long = TrainConfig(data=str(data), output=str(tmp_path / "ft0"), model=str(out), max_seq_length=1024)
    with pytest.raises(ValueError, match="at most 256 positions"):
        train(too_long)
    result = train(
        TrainConfig(
            data=str(data),
            output=str(tmp_path / "ft"),
            model=str(out),
            batch_size=2,
            micro_batch_size=2,
            max_seq_length=256,
            max_steps=2,
            logging_steps=1,
        )
    )
    assert result.global_step == 2 and result.rows + result.dropped_too_long == 2 and result.rows >= 1
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "ft")
    assert tuned.get_input_embeddings().weight.shape[0] == rows_before


def test_bad_settings_are_clear_errors(corpus, tmp_path):
    from lintseq.commands.pretrain import command as pretrain_cmd
    from lintseq.training.pretrain import pretrain

    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"text": "def f():\n    return 1\n"}) + "\n")
    with pytest.raises(ValueError, match=r"has \d+ tokens, fewer than one sequence of 128"):
        pretrain(tiny(small, tmp_path / "short", vocab_size=300))
    res = CliRunner().invoke(
        pretrain_cmd, ["--data", str(corpus), "-o", str(tmp_path / "x"), "--resume", "--overwrite"]
    )
    assert res.exit_code == 2 and "give one" in res.output
    res = CliRunner().invoke(
        pretrain_cmd,
        [
            "--data",
            str(corpus),
            "-o",
            str(tmp_path / "x"),
            "--batch-size",
            "6",
            "--micro-batch-size",
            "4",
            "--init",
            "tiny",
            "--vocab-size",
            "300",
        ],
    )
    assert res.exit_code == 2 and "not a multiple of micro-batch 4" in res.output


@pytest.mark.slow
def test_cli_killed_with_sigkill_resumes_to_the_same_weights(tmp_path):
    """A real process killed mid-run (SIGKILL, no cleanup) on a directory corpus, then `--resume`."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from safetensors.torch import load_file

    tree = tmp_path / "tree"
    tree.mkdir()
    for f in FILES:
        (tree / f).write_text((STDLIB / f).read_text(encoding="utf-8"), encoding="utf-8")
    script = "import torch, sys; torch.set_num_threads(1); from lintseq.commands.pretrain import command; command()"
    args = [
        "--data",
        str(tree),
        "--init",
        "tiny",
        "--vocab-size",
        "512",
        "--seq-length",
        "128",
        "--batch-size",
        "4",
        "--micro-batch-size",
        "2",
        "--max-steps",
        "60",
        "--save-steps",
        "4",
        "--save-total-limit",
        "0",
        "--lr",
        "3e-3",
    ]

    def run(out: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", script, *args, "-o", str(out), *extra], capture_output=True, text=True, timeout=300
        )

    full = run(tmp_path / "full")
    assert full.returncode == 0, full.stderr[-2000:]

    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args, "-o", str(cut)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while not (cut / "pretrain_state" / "checkpoint-8" / "trainer_state.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "run ended before its second checkpoint"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (cut / "config.json").exists()

    resumed = run(cut, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "pre-trained 60 steps (resumed from checkpoint-" in resumed.stderr
    a, b = load_file(tmp_path / "full" / "model.safetensors"), load_file(cut / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
