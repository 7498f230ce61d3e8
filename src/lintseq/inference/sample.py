"""Drive a backend over a benchmark: k samples per problem, resolved and written as they finish."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tqdm import tqdm

from lintseq.diffs import END_OF_EDITS
from lintseq.formatting import STYLES as TRAINED_STYLES
from lintseq.inference.samples_file import SampleFile
from lintseq.inference.text import to_program
from lintseq.inference.types import Backend, Generation, Request, SamplingSettings, batch_seed

# `completion`: a model never trained on our formats continues the benchmark's own code prompt
STYLES: tuple[str, ...] = (*TRAINED_STYLES, "completion")


class ProblemLike(Protocol):
    task_id: str
    stop: tuple[str, ...]

    def prompt_for(self, style: str, chat_tokenizer: Any = None) -> str: ...


@dataclass
class SampleStats:
    problems: int = 0
    resumed: int = 0
    samples: int = 0
    clean: int = 0
    tokens: int = 0
    finish: Counter = field(default_factory=Counter)


def problem_seed(run_seed: int, task_id: str) -> int:
    """Each problem's seed depends only on the run seed and its id, not on order or batching."""
    return batch_seed(run_seed, "problem", task_id)


def rows_for(problem: ProblemLike, gens: list[Generation], style: str, run: dict) -> list[dict]:
    rows = []
    for i, g in enumerate(gens):
        if style == "completion":  # the sample continues the prompt: together they are the program
            program, clean, edits = problem.prompt_for(style) + g.text, True, None
        else:
            program, clean, edits = to_program(style, g.text)
        rows.append(
            {
                "task_id": problem.task_id,
                "sample": i,
                "completion": g.text,
                "program": program,
                "resolved_clean": clean,
                "n_edits": edits,
                "finish_reason": g.finish_reason,
                "n_tokens": g.n_tokens,
                **run,
            }
        )
    return rows


def _groups(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def sample_benchmark(
    problems: list[ProblemLike],
    backend: Backend,
    settings: SamplingSettings,
    *,
    style: str,
    out: str,
    model: str,
    benchmark: str,
    overwrite: bool = False,
    progress: bool = True,
    chat_tokenizer: Any = None,
) -> SampleStats:
    """Sample `settings.n` completions per problem into `out`, resuming a partial run.

    With `chat_tokenizer`, prompts go through its chat template, as `lintseq format --chat`
    rendered them for training."""
    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r} (expected one of {', '.join(STYLES)})")
    ids = [p.task_id for p in problems]
    if len(set(ids)) != len(ids):
        dup = sorted(t for t, c in Counter(ids).items() if c > 1)
        raise ValueError(f"duplicate task ids in the benchmark: {dup[:5]}")
    if style == "lintseq" and END_OF_EDITS not in settings.stop:
        # stop at the end-of-edits marker too: a model that misses its EOS would write on
        settings = replace(settings, stop=(*settings.stop, END_OF_EDITS))
    if style == "completion":  # the harness's stop words, e.g. "\ndef" after a HumanEval body
        words = dict.fromkeys(w for p in problems for w in p.stop if w not in settings.stop)
        settings = replace(settings, stop=(*settings.stop, *words))
    run = {
        "model": model,
        "backend": backend.name,
        "style": style,
        "chat": chat_tokenizer is not None,
        "benchmark": benchmark,
        "settings": settings.to_dict(),
    }
    sink = SampleFile(out, run, settings.n, overwrite=overwrite)
    stats = SampleStats(problems=len(problems))
    try:
        stats.resumed = sum(p.task_id in sink.done for p in problems)
        bar = tqdm(total=len(problems), initial=stats.resumed, unit="problem", disable=not progress)
        # Groups are cut from the whole list, so a resumed run batches (and seeds) as the first did.
        for group in _groups(problems, backend.problems_per_call(settings.n)):
            group = [p for p in group if p.task_id not in sink.done]
            if not group:
                continue
            requests = [
                Request(p.prompt_for(style, chat_tokenizer), settings.n, problem_seed(settings.seed, p.task_id))
                for p in group
            ]
            gens = backend.generate(requests, settings)
            rows = [row for p, g in zip(group, gens) for row in rows_for(p, g, style, run)]
            sink.append(rows)
            for r in rows:
                stats.samples += 1
                stats.clean += r["resolved_clean"]
                stats.tokens += r["n_tokens"] or 0
                stats.finish[r["finish_reason"]] += 1
            bar.update(len(group))
        bar.close()
        sink.finish()
    finally:
        sink.close()
    return stats
