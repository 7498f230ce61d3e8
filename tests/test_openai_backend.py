"""The OpenAI-compatible backend against a small real HTTP server on 127.0.0.1.

The server speaks the completions protocol (POST /v1/completions), records every request body,
and answers each with n choices carrying text, finish_reason and (unless asked not to)
vLLM's `token_ids` extra field. The real `openai` client talks to it over HTTP.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_lm import DIFF, EOS, train_tokenizer

from lintseq.diffs import resolve
from lintseq.inference.openai_api import OpenAIBackend, request_kwargs
from lintseq.inference.types import BackendError, Request, SamplingSettings


def choice_text(prompt: str, i: int) -> str:
    return f"@@ -0,0 +1 @@\n+x = {len(prompt)} + {i}\n{DIFF}\n{DIFF}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, **body})
        if self.path != "/v1/completions" or body.get("model") == "missing":
            return self.reply(
                404 if body.get("model") == "missing" else 400,
                {"error": {"message": "no such model", "type": "invalid_request_error"}},
            )
        n = body.get("n", 1)
        if self.server.wrong_n:
            n += 1
        choices = []
        for i in range(n):
            c = {
                "index": i,
                "text": choice_text(body["prompt"], i) + self.server.suffix,
                "finish_reason": "length" if i % 2 else "stop",
                "logprobs": None,
            }
            if body.get("return_token_ids") and self.server.token_ids:
                c["token_ids"] = list(range(5 + i))
            choices.append(c)
        self.reply(
            200,
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "created": 0,
                "model": body["model"],
                "choices": choices,
                "usage": {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10},
            },
        )

    def reply(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.requests, srv.token_ids, srv.suffix, srv.wrong_n = [], True, "", False
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    yield srv
    srv.shutdown()
    srv.server_close()


SETTINGS = SamplingSettings(n=3, temperature=0.7, top_p=0.9, min_p=0.05, max_new_tokens=64, stop=("\nclass",), seed=5)


def test_request_carries_sampling_settings(server):
    b = OpenAIBackend("served", base_url=server.url, api_key="k", concurrency=2)
    out = b.generate([Request("p1", 3, 11), Request("prompt two", 3, 12)], SETTINGS)
    assert len(server.requests) == 2
    by_prompt = {r["prompt"]: r for r in server.requests}
    for prompt, seed in (("p1", 11), ("prompt two", 12)):
        r = by_prompt[prompt]
        assert r["path"] == "/v1/completions"
        assert (r["model"], r["n"], r["temperature"], r["top_p"], r["max_tokens"], r["seed"]) == (
            "served",
            3,
            0.7,
            0.9,
            64,
            seed,
        )
        assert r["stop"] == ["\nclass"]
        assert (r["min_p"], r["skip_special_tokens"], r["return_token_ids"]) == (0.05, False, True)
    # answers come back in request order, choices in index order, token counts from token_ids
    assert [g.text for g in out[1]] == [choice_text("prompt two", i) for i in range(3)]
    assert [g.n_tokens for g in out[0]] == [5, 6, 7]
    assert [g.finish_reason for g in out[0]] == ["stop", "length", "stop"]


def test_no_min_p_field_unless_set(server):
    b = OpenAIBackend("served", base_url=server.url)
    b.generate([Request("p", 1, 1)], SamplingSettings(n=1, temperature=0.0))
    assert "min_p" not in server.requests[0] and server.requests[0]["temperature"] == 0.0


def test_plain_endpoint_gets_no_extras(server):
    b = OpenAIBackend("served", base_url=server.url, vllm_extras=False)
    b.generate([Request("p", 2, 1)], SamplingSettings(n=2))
    r = server.requests[0]
    assert not {"min_p", "skip_special_tokens", "return_token_ids"} & set(r)
    with pytest.raises(ValueError, match="min_p"):
        b.generate([Request("p", 2, 1)], SETTINGS)


def test_counts_without_token_ids(server, tmp_path):
    server.token_ids = False
    server.suffix = EOS  # a server that leaves the EOS text in place
    b = OpenAIBackend("served", base_url=server.url)
    out = b.generate([Request("p", 2, 1)], SamplingSettings(n=2))[0]
    assert [g.n_tokens for g in out] == [None, None]
    assert all(g.text.endswith(EOS) for g in out)
    tok_dir = tmp_path / "tok"
    train_tokenizer().save_pretrained(tok_dir)
    b = OpenAIBackend("served", base_url=server.url, tokenizer=str(tok_dir))
    out = b.generate([Request("p", 2, 1)], SamplingSettings(n=2))[0]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tok_dir)
    for g in out:
        assert not g.text.endswith(EOS)
        n_text = len(tok(g.text, add_special_tokens=False)["input_ids"])
        assert g.n_tokens == n_text + (g.finish_reason == "stop")


def test_wrong_number_of_choices_is_an_error(server):
    server.wrong_n = True
    with pytest.raises(BackendError, match="choices"):
        OpenAIBackend("served", base_url=server.url).generate([Request("p", 2, 1)], SamplingSettings(n=2))


def test_request_kwargs_pure():
    kw = request_kwargs("m", SETTINGS, Request("x", 3, 9))
    assert kw["extra_body"] == {"skip_special_tokens": False, "return_token_ids": True, "min_p": 0.05}
    assert (kw["n"], kw["seed"], kw["stop"]) == (3, 9, ["\nclass"])


def test_cli_openai_end_to_end(server, tmp_path):
    pytest.importorskip("lintseq.evaluation.problems")
    from lintseq.cli import main

    out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(
        main,
        [
            "sample",
            "--backend",
            "openai",
            "--base-url",
            server.url,
            "--api-key",
            "k",
            "-m",
            "served",
            "-b",
            "humaneval",
            "--limit",
            "3",
            "-n",
            "2",
            "--min-p",
            "0.1",
            "--stop",
            "\ndef",
            "--stop",
            "\nclass",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in Path(out).read_text().splitlines()]
    assert [(r["task_id"], r["sample"]) for r in rows] == [(f"HumanEval/{i}", s) for i in range(3) for s in (0, 1)]
    # the lintseq style also stops at the end-of-edits marker
    end = "\n" + DIFF + "\n" + DIFF
    assert all(
        req["stop"] == ["\ndef", "\nclass", end] and req["min_p"] == 0.1 and req["n"] == 2 for req in server.requests
    )
    assert all(req["prompt"].endswith("\n" + DIFF) for req in server.requests)
    for r in rows:
        assert r["backend"] == "openai" and r["resolved_clean"]
        assert r["program"] == resolve(r["completion"]).program == f"x = {r['program'].split('= ')[1]}"
        assert r["n_tokens"] == 5 + r["sample"]


def test_cli_server_error_is_reported(server, tmp_path):
    pytest.importorskip("lintseq.evaluation.problems")
    from lintseq.cli import main

    out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(
        main,
        [
            "sample",
            "--backend",
            "openai",
            "--base-url",
            server.url,
            "-m",
            "missing",
            "-b",
            "humaneval",
            "--limit",
            "1",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code != 0 and "no such model" in res.output
    assert not out.exists()


def test_cli_no_extra_fields(server, tmp_path):
    pytest.importorskip("lintseq.evaluation.problems")
    from lintseq.cli import main

    base = [
        "sample",
        "--backend",
        "openai",
        "--base-url",
        server.url,
        "-m",
        "served",
        "-b",
        "humaneval",
        "--limit",
        "1",
        "-n",
        "2",
        "--no-extra-fields",
        "-q",
    ]
    res = CliRunner().invoke(main, base + ["-o", str(tmp_path / "a.jsonl"), "--min-p", "0.1"])
    assert res.exit_code != 0 and "min_p" in res.output
    res = CliRunner().invoke(main, base + ["-o", str(tmp_path / "b.jsonl")])
    assert res.exit_code == 0, res.output
    assert "return_token_ids" not in server.requests[-1]
    rows = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert [r["n_tokens"] for r in rows] == [None, None]


def test_cli_chat_prompts_are_the_ones_format_trains_on(server, tmp_path):
    """`sample --chat` sends exactly the prompt `format --chat` wrote for the same instruction."""
    from lintseq.cli import main
    from lintseq.evaluation.problems import load_benchmark
    from lintseq.training.tokenizer import train_bpe_tokenizer

    problems = load_benchmark("humaneval")[:2]
    tok = train_bpe_tokenizer([p.prompt for p in problems], vocab_size=400)
    tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    tok.save_pretrained(tmp_path / "tok")
    gen = tmp_path / "gen.jsonl"
    gen.write_text(
        "".join(
            json.dumps({"instruction": p.prompt, "response": "x = 1\n", "edit_path": ["@@ -0,0 +1 @@\n+x = 1"]}) + "\n"
            for p in problems
        )
    )
    for style, extra in (("lintseq", []), ("baseline", ["--style", "baseline"])):
        fmt = tmp_path / f"{style}.jsonl"
        res = CliRunner().invoke(
            main, ["format", str(gen), "-o", str(fmt), "--chat", "--tokenizer", str(tmp_path / "tok"), *extra]
        )
        assert res.exit_code == 0, res.output
        server.requests.clear()
        res = CliRunner().invoke(
            main,
            [
                "sample",
                "--backend",
                "openai",
                "--base-url",
                server.url,
                "-m",
                "served",
                "-b",
                "humaneval",
                "--limit",
                "2",
                "--chat",
                "--tokenizer",
                str(tmp_path / "tok"),
                "--style",
                style,
                "-o",
                str(tmp_path / f"s-{style}.jsonl"),
                "-q",
            ],
        )
        assert res.exit_code == 0, res.output
        trained = [json.loads(line)["prompt"] for line in fmt.read_text().splitlines()]
        assert sorted(r["prompt"] for r in server.requests) == sorted(trained)  # requests run concurrently
        assert trained[0].startswith("<|user|>") and trained[0].endswith(
            "<|assistant|>" + (DIFF if style == "lintseq" else "")
        )
    res = CliRunner().invoke(
        main,
        [
            "sample",
            "--backend",
            "openai",
            "--base-url",
            server.url,
            "-m",
            "served",
            "-b",
            "humaneval",
            "--chat",
            "-o",
            str(tmp_path / "x.jsonl"),
        ],
    )
    assert res.exit_code != 0 and "--tokenizer" in res.output
