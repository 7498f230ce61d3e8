"""End to end on CPU: `lintseq sample` -> `lintseq evaluate` -> scores, per-problem results, a table
and a plot.

Two sources of samples: a tiny GPT-2 built here (scores near zero; this checks the pipeline), and a
served "model" on 127.0.0.1 that answers each HumanEval prompt with a LintSeq edit sequence of the
canonical solution (the pipeline must then score pass@1 = 1.0: resolution, prompts and tests line up).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

pytest.importorskip("lintseq.commands.evaluate")

from tiny_lm import save_tiny

from lintseq.cli import main
from lintseq.engine.edit_paths import sample_edit_sequence
from lintseq.evaluation.problems import load_benchmark
from lintseq.formatting import lintseq_completion

LIMIT = 3


def invoke(args: list[str]) -> str:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res.output


def test_tiny_model_sample_then_evaluate(tmp_path):
    model = save_tiny(tmp_path / "model")
    runs = {}
    for style in ("lintseq", "baseline"):
        out = tmp_path / f"{style}.jsonl"
        invoke(
            [
                "sample",
                "-m",
                str(model),
                "-b",
                "humaneval",
                "--style",
                style,
                "-n",
                "2",
                "--limit",
                str(LIMIT),
                "--max-new-tokens",
                "24",
                "--device",
                "cpu",
                "--seed",
                "1",
                "-o",
                str(out),
                "-q",
            ]
        )
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == 2 * LIMIT and all(0 < r["n_tokens"] <= 24 for r in rows)
        runs[style] = out
    base_json = tmp_path / "baseline.json"
    invoke(
        [
            "evaluate",
            str(runs["baseline"]),
            "-b",
            "humaneval",
            "-k",
            "1,2",
            "--json",
            str(base_json),
            "--label",
            "baseline",
            "--timeout",
            "5",
            "-q",
        ]
    )
    scores, results, plot = tmp_path / "lintseq.json", tmp_path / "results.jsonl", tmp_path / "passk.png"
    table = invoke(
        [
            "evaluate",
            str(runs["lintseq"]),
            "-b",
            "humaneval",
            "-k",
            "1,2",
            "--json",
            str(scores),
            "--results",
            str(results),
            "--plot",
            str(plot),
            "--compare",
            str(base_json),
            "--label",
            "lintseq",
            "--timeout",
            "5",
            "-q",
        ]
    )
    assert "lintseq" in table and "baseline" in table and "pass@1" in table
    s = json.loads(scores.read_text())
    assert 0.0 <= s["pass@1"] <= s["pass@2"] <= 1.0
    per_problem = [json.loads(line) for line in results.read_text().splitlines()]
    assert {r["task_id"] for r in per_problem} == {f"HumanEval/{i}" for i in range(LIMIT)}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class CanonicalHandler(BaseHTTPRequestHandler):
    """Completions endpoint whose answer to a HumanEval prompt is an edit sequence of its solution."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        solution = self.server.answers[body["prompt"]]
        choices = []
        for i in range(body["n"]):
            text = lintseq_completion(sample_edit_sequence(solution, seed=body["seed"] + i))
            choices.append({"index": i, "text": text, "finish_reason": "stop", "token_ids": [0] * (10 + i)})
        data = json.dumps(
            {"id": "c", "object": "text_completion", "created": 0, "model": body["model"], "choices": choices}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_served_canonical_edit_sequences_score_one(tmp_path):
    problems = load_benchmark("humaneval")[:LIMIT]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), CanonicalHandler)
    srv.answers = {p.prompt_for("lintseq"): p.canonical_solution for p in problems}
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        out = tmp_path / "s.jsonl"
        invoke(
            [
                "sample",
                "--backend",
                "openai",
                "--base-url",
                f"http://127.0.0.1:{srv.server_address[1]}/v1",
                "-m",
                "canonical",
                "-b",
                "humaneval",
                "--limit",
                str(LIMIT),
                "-n",
                "2",
                "-o",
                str(out),
                "-q",
            ]
        )
    finally:
        srv.shutdown()
        srv.server_close()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["resolved_clean"] and r["n_edits"] >= 1 for r in rows)
    scores = tmp_path / "scores.json"
    invoke(["evaluate", str(out), "-b", "humaneval", "-k", "1,2", "--json", str(scores), "--timeout", "10", "-q"])
    s = json.loads(scores.read_text())
    assert s["pass@1"] == 1.0 and s["pass@2"] == 1.0
