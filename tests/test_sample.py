"""`lintseq sample` and the transformers backend, on a tiny GPT-2 built here (no downloads)."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from tiny_lm import DIFF, EOS, build_llama, build_model, save_tiny, token_id, train_tokenizer

from lintseq.diffs import resolve
from lintseq.inference.backends import make_backend
from lintseq.inference.hf import HFBackend
from lintseq.inference.sample import sample_benchmark
from lintseq.inference.samples_file import ResumeMismatch
from lintseq.inference.text import cut_at_stop, strip_fences, to_program
from lintseq.inference.types import BackendUnavailable, Request, SamplingSettings
from lintseq.io import partial_path

# The constant-distribution model emits "x" (p=.51), "<|diff|>" (p=.31) or EOS (p=.19).
LOGITS = {"x": 0.0, DIFF: -0.5, EOS: -1.0}


@dataclass
class Problem:
    task_id: str
    prompt: str

    def prompt_for(self, style: str, chat_tokenizer=None) -> str:
        assert chat_tokenizer is None
        return self.prompt + ("\n" + DIFF if style == "lintseq" else "\n")


PROBLEMS = [Problem(f"T/{i}", f"Write a function f{i} that returns {i}.") for i in range(4)]


def const(diff_special: bool) -> HFBackend:
    tok = train_tokenizer(diff_special=diff_special)
    return HFBackend("const", model_obj=build_model(tok, LOGITS), tokenizer_obj=tok, device="cpu", batch_size=8)


@pytest.fixture(scope="module")
def const_backend() -> HFBackend:
    return const(diff_special=True)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny") / "model", diff_special=True, next_token_logits=LOGITS)


def settings(**kw) -> SamplingSettings:
    return SamplingSettings(**{"n": 4, "temperature": 1.0, "max_new_tokens": 12, "seed": 7, **kw})


def expected_tokens(text: str, reason: str) -> int:
    return text.count("x") + text.count(DIFF) + (reason == "stop")


@pytest.mark.parametrize("diff_special", [False, True], ids=["diff-added", "diff-special"])
def test_decode_keeps_diff_drops_eos_and_pad(diff_special):
    b = const(diff_special)
    x, diff, eos = (token_id(b.tokenizer, t) for t in ("x", DIFF, EOS))
    g = b._decode([x, diff, x, eos, b.pad_id, b.pad_id], settings())
    assert (g.text, g.finish_reason, g.n_tokens) == (f"x{DIFF}x", "stop", 4)
    g = b._decode([diff, x, x], settings())
    assert (g.text, g.finish_reason, g.n_tokens) == (f"{DIFF}xx", "length", 3)


def test_pad_is_never_eos():
    tok = train_tokenizer()
    tok.pad_token = EOS  # the pitfall: pad == eos empties generate's output
    b = HFBackend("t", model_obj=build_model(tok, LOGITS), tokenizer_obj=tok, device="cpu")
    assert b.pad_id not in b.eos
    out = b.generate([Request("a", 8, 1)], settings(n=8, max_new_tokens=6))[0]
    assert any(g.text for g in out)


def test_samples_and_token_counts(const_backend):
    out = const_backend.generate([Request("def f():", 4, 1), Request("a longer prompt here", 4, 2)], settings())
    gens = [g for gs in out for g in gs]
    assert [len(gs) for gs in out] == [4, 4]
    for g in gens:
        assert set(g.text.replace(DIFF, "")) <= {"x"}
        assert g.n_tokens == expected_tokens(g.text, g.finish_reason)
        assert g.finish_reason == "stop" or g.n_tokens == 12
    assert any(g.finish_reason == "stop" for g in gens)
    assert any(DIFF in g.text for g in gens)


def test_min_p_top_p_and_greedy_are_applied(const_backend):
    # min_p 0.5 drops EOS (.19 < .5 * .51): nothing stops early.
    out = const_backend.generate([Request("a", 8, 3)], settings(n=8, min_p=0.5))[0]
    assert all(g.finish_reason == "length" and g.n_tokens == 12 for g in out)
    assert any(DIFF in g.text for g in out)
    # top_p 0.4 keeps only "x".
    out = const_backend.generate([Request("a", 3, 3)], settings(n=3, top_p=0.4))[0]
    assert [g.text for g in out] == ["x" * 12] * 3
    out = const_backend.generate([Request("a", 3, 3)], settings(n=3, temperature=0.0))[0]
    assert [(g.text, g.n_tokens) for g in out] == [("x" * 12, 12)] * 3


def test_stop_strings_cut_and_count(const_backend):
    out = const_backend.generate([Request("a", 8, 5)], settings(n=8, stop=(DIFF,), max_new_tokens=30))[0]
    for g in out:
        assert DIFF not in g.text and set(g.text) <= {"x"}
        # the token that completed the stop string (or the EOS) counts, nothing after it
        assert g.n_tokens == len(g.text) + 1 or (g.finish_reason == "length" and g.n_tokens == 30)


def test_seed_reproducible(const_backend):
    reqs = [Request("a", 4, 11), Request("b", 4, 12)]
    first = const_backend.generate(reqs, settings())
    again = const_backend.generate(reqs, settings())
    other = const_backend.generate([Request("a", 4, 99), Request("b", 4, 98)], settings())
    assert first == again
    assert first != other


def read(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_rows_resolve_and_record_the_run(const_backend, tmp_path):
    out = tmp_path / "s.jsonl"
    stats = sample_benchmark(
        PROBLEMS[:3],
        const_backend,
        settings(n=2),
        style="lintseq",
        out=str(out),
        model="const",
        benchmark="toy",
        progress=False,
    )
    rows = read(out)
    assert stats.samples == 6 and not partial_path(out).exists()
    assert [(r["task_id"], r["sample"]) for r in rows] == [(p.task_id, i) for p in PROBLEMS[:3] for i in (0, 1)]
    for r in rows:
        res = resolve(r["completion"])
        assert (r["program"], r["resolved_clean"], r["n_edits"]) == (res.program, res.clean, res.edits)
        assert r["n_tokens"] == expected_tokens(r["completion"], r["finish_reason"])
        assert (r["model"], r["backend"], r["style"], r["benchmark"]) == ("const", "hf", "lintseq", "toy")
        assert r["settings"]["n"] == 2 and r["settings"]["seed"] == 7
    with pytest.raises(FileExistsError):
        sample_benchmark(
            PROBLEMS[:3],
            const_backend,
            settings(n=2),
            style="lintseq",
            out=str(out),
            model="const",
            benchmark="toy",
            progress=False,
        )


class Crash(RuntimeError):
    pass


class CrashingBackend:
    """Delegates to a real backend and dies on a chosen call (a killed run)."""

    def __init__(self, inner, die_on_call: int):
        self.inner, self.die_on_call, self.calls = inner, die_on_call, 0
        self.name = inner.name

    def problems_per_call(self, n):
        return self.inner.problems_per_call(n)

    def generate(self, requests, s):
        self.calls += 1
        if self.calls == self.die_on_call:
            raise Crash
        return self.inner.generate(requests, s)


@pytest.mark.parametrize("batch_size", [2, 4])
def test_crash_then_resume_equals_uninterrupted(const_backend, tmp_path, batch_size):
    b = const_backend
    b.batch_size = batch_size
    try:
        args = dict(style="lintseq", model="const", benchmark="toy", progress=False)
        full = tmp_path / "full.jsonl"
        sample_benchmark(PROBLEMS, b, settings(n=2), out=str(full), **args)
        out = tmp_path / "resumed.jsonl"
        with pytest.raises(Crash):
            sample_benchmark(PROBLEMS, CrashingBackend(b, 2), settings(n=2), out=str(out), **args)
        assert not out.exists()  # no half-written file under the final name
        done = read(partial_path(out))
        assert 0 < len(done) < 8
        with pytest.raises(ResumeMismatch):
            sample_benchmark(PROBLEMS, b, settings(n=2, seed=8), out=str(out), **args)
        stats = sample_benchmark(PROBLEMS, b, settings(n=2), out=str(out), **args)
        assert stats.resumed == len(done) // 2
        assert out.read_text() == full.read_text()
    finally:
        b.batch_size = 8


@pytest.mark.parametrize("whole", [5, 4], ids=["inside-a-problem", "at-a-problem-boundary"])
def test_torn_partial_line_is_dropped_and_resampled(const_backend, tmp_path, whole):
    b = const_backend
    b.batch_size = 2  # one problem per call, so a resampled problem is seeded as before
    try:
        args = dict(style="baseline", model="const", benchmark="toy", progress=False)
        full = tmp_path / "full.jsonl"
        sample_benchmark(PROBLEMS, b, settings(n=2), out=str(full), **args)
        lines = full.read_text().splitlines(keepends=True)
        out = tmp_path / "out.jsonl"
        # two whole problems, then (maybe one row of the third and) half of the next row
        partial_path(out).write_text("".join(lines[:whole]) + lines[whole][: len(lines[whole]) // 2])
        stats = sample_benchmark(PROBLEMS, b, settings(n=2), out=str(out), **args)
        assert stats.resumed == 2 and stats.samples == 4
        assert out.read_text() == full.read_text()
    finally:
        b.batch_size = 8


def test_bad_style_and_duplicate_ids(const_backend, tmp_path):
    with pytest.raises(ValueError, match="style"):
        sample_benchmark(
            PROBLEMS,
            const_backend,
            settings(),
            style="chat",
            out=str(tmp_path / "a"),
            model="m",
            benchmark="b",
            progress=False,
        )
    with pytest.raises(ValueError, match="duplicate"):
        sample_benchmark(
            PROBLEMS + PROBLEMS[:1],
            const_backend,
            settings(),
            style="lintseq",
            out=str(tmp_path / "b"),
            model="m",
            benchmark="b",
            progress=False,
        )


def test_settings_validation():
    for bad in (dict(n=0), dict(temperature=-1), dict(top_p=0), dict(min_p=1.0), dict(stop=("",))):
        with pytest.raises(ValueError):
            SamplingSettings(**bad)


def test_vllm_missing_is_a_clear_error():
    if importlib.util.find_spec("vllm") is not None:  # pragma: no cover
        pytest.skip("vllm is installed")
    with pytest.raises(BackendUnavailable, match=r"pip install 'lintseq\[vllm\]'"):
        make_backend("vllm", "some/model")


def test_hf_loads_a_saved_model(tiny_dir):
    b = make_backend("hf", str(tiny_dir), device="cpu", batch_size=4, dtype="float32")
    out = b.generate([Request("hi", 2, 1)], settings(n=2))[0]
    assert all(g.n_tokens == expected_tokens(g.text, g.finish_reason) for g in out)


# -- text helpers ----------------------------------------------------------------------------------


@given(st.text(alphabet="ab\n<|>", max_size=40), st.lists(st.text(alphabet="ab\n", min_size=1, max_size=3), max_size=3))
def test_cut_at_stop_is_the_shortest_prefix_without_stops(text, stops):
    cut, stopped = cut_at_stop(text, stops)
    assert text.startswith(cut)
    assert not any(s in cut for s in stops)
    assert stopped == (cut != text or any(s in text for s in stops))
    if stopped:
        assert any(text[len(cut) :].startswith(s) for s in stops)


def test_strip_fences():
    assert strip_fences("def f():\n    return 1\n") == "def f():\n    return 1\n"
    text = "Here:\n```python\ndef f():\n    return 1\n```\nand\n```\nx = 2\n```\nbye"
    assert strip_fences(text) == "def f():\n    return 1\n\nx = 2\n"
    assert strip_fences("```python\ndef f():\n    return") == "def f():\n    return\n"


def test_to_program_styles():
    diff = "@@ -0,0 +1,2 @@\n+def f():\n+    return 1\n" + DIFF + "@@ -2,0 +3 @@\n+print(f())\n" + DIFF + "\n"
    assert to_program("lintseq", diff) == ("def f():\n    return 1\nprint(f())\n", True, 2)
    # the paper's rule appends a hunk that points past the end (its blank row is a line too);
    # the diff format would not, so the sample is not clean
    program, clean, _ = to_program("lintseq", diff + "@@ -9,0 +9 @@\n+oops\n")
    assert program == "def f():\n    return 1\nprint(f())\noops\n\n" and not clean
    assert to_program("baseline", "```python\nx = 1\n```") == ("x = 1\n", True, None)
    with pytest.raises(ValueError):
        to_program("chat", "x")


# -- the command -----------------------------------------------------------------------------------


def test_cli_humaneval_smoke_and_resume(tiny_dir, tmp_path):
    pytest.importorskip("lintseq.evaluation.problems")
    from lintseq.cli import main

    out = tmp_path / "he.jsonl"
    cmd = [
        "sample",
        "--model",
        str(tiny_dir),
        "--benchmark",
        "humaneval",
        "--limit",
        "3",
        "-n",
        "2",
        "--max-new-tokens",
        "8",
        "--device",
        "cpu",
        "-o",
        str(out),
        "-q",
        "--seed",
        "3",
    ]
    res = CliRunner().invoke(main, cmd)
    assert res.exit_code == 0, res.output
    rows = read(out)
    assert [(r["task_id"], r["sample"]) for r in rows] == [(f"HumanEval/{i}", s) for i in range(3) for s in (0, 1)]
    assert all(r["n_tokens"] == expected_tokens(r["completion"], r["finish_reason"]) <= 8 for r in rows)
    assert all(r["program"] == resolve(r["completion"]).program for r in rows)
    res = CliRunner().invoke(main, cmd)
    assert res.exit_code != 0 and "--overwrite" in res.output
    first = out.read_text()
    res = CliRunner().invoke(main, cmd + ["--overwrite"])
    assert res.exit_code == 0, res.output
    assert out.read_text() == first  # same seed, same samples


def test_cli_errors(tmp_path):
    from lintseq.cli import main

    res = CliRunner().invoke(
        main, ["sample", "-m", "x", "-b", "humaneval", "-o", str(tmp_path / "o"), "--backend", "openai"]
    )
    assert res.exit_code != 0 and "--base-url" in res.output
    res = CliRunner().invoke(main, ["sample", "-m", "x", "-b", "humaneval", "-o", str(tmp_path / "o"), "--top-p", "0"])
    assert res.exit_code != 0 and "top-p" in res.output


# -- vLLM: what can be checked without vllm installed ------------------------------------------------


def test_vllm_sampling_params_mapping():
    from lintseq.inference.vllm_offline import sampling_params_kwargs

    s = SamplingSettings(n=5, temperature=0.6, top_p=0.95, min_p=0.05, max_new_tokens=300, stop=("\nclass",), seed=1)
    kw = sampling_params_kwargs(s, Request("p", 5, 42))
    assert kw == dict(
        n=5,
        temperature=0.6,
        top_p=0.95,
        min_p=0.05,
        seed=42,
        max_tokens=300,
        skip_special_tokens=False,
        include_stop_str_in_output=False,
        stop=["\nclass"],
    )
    greedy = sampling_params_kwargs(SamplingSettings(n=5, temperature=0.0), Request("p", 5, 1))
    assert (greedy["n"], greedy["temperature"], greedy["top_p"], greedy["min_p"]) == (1, 0.0, 1.0, 0.0)
    assert "stop" not in greedy


def test_vllm_outputs_to_generations():
    from types import SimpleNamespace as NS

    from lintseq.inference.vllm_offline import generations_from_output

    out = NS(
        outputs=[
            NS(index=1, text=f"b{EOS}", token_ids=[1, 2, 3], finish_reason="stop"),
            NS(index=0, text=f"a{DIFF}", token_ids=[4] * 7, finish_reason="length"),
        ]
    )
    gens = generations_from_output(out, 2, [EOS])
    assert [(g.text, g.finish_reason, g.n_tokens) for g in gens] == [(f"a{DIFF}", "length", 7), ("b", "stop", 3)]
    one = NS(outputs=[NS(index=0, text="x", token_ids=[1, 2], finish_reason="stop")])
    assert [(g.text, g.n_tokens) for g in generations_from_output(one, 3, [])] == [("x", 2)] * 3


def test_k_larger_than_batch(const_backend):
    b = const_backend
    b.batch_size = 3  # 5 samples of one problem span two generate calls
    try:
        out = b.generate([Request("a", 5, 1), Request("b", 5, 2)], settings(n=5))
        again = b.generate([Request("a", 5, 1), Request("b", 5, 2)], settings(n=5))
    finally:
        b.batch_size = 8
    assert [len(gs) for gs in out] == [5, 5] and out == again
    assert all(g.n_tokens == expected_tokens(g.text, g.finish_reason) for gs in out for g in gs)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_step_by_step_decoding_equals_generate_greedy(arch):
    """The backend's own decoding loop (rows leave the batch as they end, the KV cache reserves
    room for new tokens) gives what `model.generate` gives: same tokens, same stops, on a random
    tiny GPT-2 and a tiny Llama (SmolLM2's grouped-query attention)."""
    import torch

    tok = train_tokenizer(diff_special=True)
    model = build_model(tok, None, seed=3) if arch == "gpt2" else build_llama(tok, seed=3)
    backend = HFBackend("random", model_obj=model, tokenizer_obj=tok, device="cpu", batch_size=16)
    prompts = [f"def f{i}(x):\n    return x + {i}\n" * (1 + i % 3) for i in range(16)]
    # stops that cannot straddle the prompt's end: `generate` also matches a stop string that
    # begins in the prompt (a prompt ending in "\n" and a first "\n" would stop at "\n\n"),
    # where vLLM, OpenAI and this backend match the sample's own text only
    s = settings(n=1, temperature=0.0, max_new_tokens=24, stop=("def", "x +") if arch == "gpt2" else (" start", "ra"))
    ours = [g[0] for g in backend.generate([Request(p, 1, 0) for p in prompts], s)]
    enc = backend._left_pad(prompts)
    width = enc["input_ids"].shape[1]
    with torch.inference_mode():
        ids = model.generate(
            **enc,
            max_new_tokens=24,
            pad_token_id=backend.pad_id,
            eos_token_id=backend.eos,
            do_sample=False,
            stop_strings=list(s.stop),
            tokenizer=tok,
        )
    theirs = [backend._decode(row.tolist(), s) for row in ids[:, width:]]
    assert [(g.text, g.finish_reason, g.n_tokens) for g in ours] == [
        (g.text, g.finish_reason, g.n_tokens) for g in theirs
    ]
    assert {g.finish_reason for g in ours} == {"stop", "length"} or len({g.text for g in ours}) > 1


def test_samples_of_one_prompt_share_its_prefill_and_decode_as_if_each_had_its_own():
    """Rows continuing the same prompt copy its prefilled cache; greedy decoding from the copies
    gives what decoding each row from its own prefill gives (so the copy is the same state)."""
    import torch

    tok = train_tokenizer(diff_special=True)
    backend = HFBackend("random", model_obj=build_model(tok, None, seed=3), tokenizer_obj=tok, device="cpu")
    prompts = ["def f(x):\n    return x +", "def g(values, n):\n    total = 0\n    for v in values:\n"]
    rows = [0, 0, 1, 0, 1]
    s = settings(n=1, temperature=0.0, max_new_tokens=16, stop=("x +",))
    once, each = backend._left_pad(prompts), backend._left_pad([prompts[r] for r in rows])
    with torch.inference_mode():
        shared = backend._sample_rows(once["input_ids"], once["attention_mask"], s, torch.tensor(rows))
        separate = backend._sample_rows(each["input_ids"], each["attention_mask"], s)
    assert shared == separate
    assert len({tuple(r) for r in shared}) == 2 and all(shared)


def test_a_stop_string_begun_in_the_prompt_does_not_stop_the_sample():
    tok = train_tokenizer(diff_special=True)
    backend = HFBackend("random", model_obj=build_model(tok, None, seed=3), tokenizer_obj=tok, device="cpu")
    prompt = "def f0(x):\n    return x + 0\n"
    free = backend.generate([Request(prompt, 1, 0)], settings(n=1, temperature=0.0, max_new_tokens=6))[0][0]
    assert free.text.startswith("\n")  # this model's first token completes "\n\n" with the prompt's end
    stopped = backend.generate(
        [Request(prompt, 1, 0)], settings(n=1, temperature=0.0, max_new_tokens=6, stop=("\n\n",))
    )[0][0]
    assert (
        stopped.finish_reason == "stop" and "\n\n" in free.text and stopped.text == free.text[: free.text.index("\n\n")]
    )


@pytest.mark.parametrize(
    ("temperature", "top_p", "min_p"), [(1.0, 0.9, 0.0), (0.7, 0.5, 0.0), (1.0, 1.0, 0.05), (1.3, 0.95, 0.02)]
)
def test_filtered_candidates_are_what_transformers_warpers_keep(temperature, top_p, min_p):
    """Top-p then min-p over the most likely candidates (a row whose nucleus is wider falls back
    to its whole vocabulary) gives the distribution transformers' warpers give."""
    import torch
    import transformers

    from lintseq.inference.decoding import filtered_candidates

    torch.manual_seed(0)
    # sharp rows (nucleus within 8 candidates) and flat ones (nucleus wider: the fallback)
    logits = torch.randn(12, 500) * torch.tensor([8.0] * 6 + [0.5] * 6)[:, None]
    warpers = transformers.LogitsProcessorList([transformers.TemperatureLogitsWarper(temperature)])
    if top_p < 1:
        warpers.append(transformers.TopPLogitsWarper(top_p))
    if min_p > 0:
        warpers.append(transformers.MinPLogitsWarper(min_p))
    expected = torch.softmax(warpers(torch.zeros((12, 1), dtype=torch.long), logits.clone()), -1)
    ids, weights = filtered_candidates(logits / temperature, top_p, min_p, k=8)
    ours = torch.zeros_like(expected).scatter_add_(1, ids, weights)
    ours = ours / ours.sum(-1, keepdim=True)
    assert torch.equal(ours > 0, expected > 0)
    assert torch.allclose(ours, expected, atol=1e-6)
    assert ids.shape[1] > 8  # some rows needed the fallback


@pytest.mark.parametrize(("top_p", "min_p"), [(1.0, 0.0), (0.8, 0.0), (0.9, 0.1), (1.0, 0.2)])
def test_next_tokens_draw_from_the_filtered_distribution(top_p, min_p):
    """Draws (redrawn until top-p and min-p keep them) follow the filtered distribution."""
    import torch

    from lintseq.inference.decoding import filtered_candidates, next_tokens

    torch.manual_seed(1)
    logits = torch.randn(1, 50) * 2
    expected = torch.softmax(logits, -1)[0]
    if top_p < 1 or min_p > 0:
        ids, weights = filtered_candidates(logits, top_p, min_p)
        expected = torch.zeros(50).scatter_add_(0, ids[0], weights[0])
        expected /= expected.sum()
    draws = next_tokens(logits.expand(40_000, -1), 1.0, top_p, min_p)
    seen = torch.bincount(draws, minlength=50) / len(draws)
    assert (seen[expected == 0] == 0).all()
    assert (seen - expected).abs().max() < 0.01
    assert torch.equal(next_tokens(logits, 0.0, top_p, min_p), logits.argmax(-1))
