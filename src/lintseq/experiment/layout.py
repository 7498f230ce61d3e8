"""Where an experiment keeps its files: every stage's name and every file name in RUN_DIR, in one place.

Each stage writes only into its folder, `RUN_DIR/<stage name>/` (the report stage also writes
`report.md`), under the file names below; the stages and the report that read a file ask
`Layout` for its path, which is built from the same names, so writer and reader cannot drift
apart. The stage names are part of a run's identity: the runner finds finished stages by
them, so renaming one re-runs that stage in every existing run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lintseq.formatting import Style

ARMS: tuple[Style, Style] = ("baseline", "lintseq")
BASE = "base"  # the zero-shot row: the untouched base model

CONFIG_RECORD = "config.json"  # RUN_DIR/config.json: the settings of the latest run, for the record
DONE = "done.json"  # a stage's marker, written last: its key, outputs and time
STARTED = "started.json"  # an attempt's marker: a stage found with this but no DONE was interrupted

MINE_CORPUS = "mine-corpus"
PRETRAIN = "pretrain"
MINE_DATA = "mine-data"
DATA = "data"
GENERATE = "generate"
FORMAT = "format"
GATE = "gate-lintseq"  # the go/no-go check of the LintSeq arm before its sampling
REPORT = "report"
REPORT_MD = "report.md"  # the one file outside a stage folder (the report stage's)

# the files in a stage's folder
CORPUS = "corpus.jsonl"  # mine-corpus
MINED = "rows.jsonl"  # mine-data
MODEL = "model"  # pretrain, train-ARM (a folder)
INSTRUCTIONS = "instructions.jsonl"  # data
EDITS = "edits.jsonl"  # generate
SAMPLES = "samples.jsonl"  # sample-ROW-BENCH
RESULTS = "results.jsonl"  # evaluate-ROW-BENCH
SCORES = "scores.json"  # evaluate-ROW-BENCH
SCORES_STRICT = "scores-strict.json"  # evaluate-lintseq-BENCH: the diff format's strict reading (analysis, §2.6)


def training_rows_file(style: str) -> str:
    """format writes one file per style (an arm's name)."""
    return f"{style}.jsonl"


# A plus benchmark whose prompts and task ids are its base's, in the same order: when both are
# evaluated, the base's samples are scored on both (sampled once).
SAME_PROMPTS = {"humaneval+": "humaneval"}


def slug(benchmark: str) -> str:
    """A benchmark's name as it appears in stage and figure names (a file: its stem)."""
    name = Path(benchmark).stem if ("/" in benchmark or benchmark.endswith(".jsonl")) else benchmark
    return re.sub(r"[^A-Za-z0-9]+", "-", name.replace("+", "-plus")).strip("-").lower()


def sampled_as(benchmark: str, benchmarks: list[str]) -> str:
    """The benchmark whose sample stage provides `benchmark`'s samples."""
    base = SAME_PROMPTS.get(benchmark.lower())
    return base if base in benchmarks else benchmark


def train_stage(arm: str) -> str:
    return f"train-{arm}"


def sample_stage(row: str, benchmark: str) -> str:
    """The stage that samples `benchmark` (as sampled: see `sampled_as`) for one row."""
    return f"sample-{row}-{slug(benchmark)}"


def evaluate_stage(row: str, benchmark: str) -> str:
    return f"evaluate-{row}-{slug(benchmark)}"


@dataclass(frozen=True)
class Layout:
    """The paths of one run directory."""

    root: Path

    def stage(self, name: str) -> Path:
        return self.root / name

    def done(self, name: str) -> Path:
        return self.root / name / DONE

    def started(self, name: str) -> Path:
        return self.root / name / STARTED

    @property
    def corpus(self) -> Path:
        """The pre-training corpus `mine --raw` wrote."""
        return self.root / MINE_CORPUS / CORPUS

    @property
    def mined_rows(self) -> Path:
        return self.root / MINE_DATA / MINED

    @property
    def pretrained(self) -> Path:
        return self.root / PRETRAIN / MODEL

    @property
    def instructions(self) -> Path:
        return self.root / DATA / INSTRUCTIONS

    @property
    def edits(self) -> Path:
        return self.root / GENERATE / EDITS

    def training_rows(self, style: str) -> Path:
        return self.root / FORMAT / training_rows_file(style)

    def model(self, arm: str) -> Path:
        return self.root / train_stage(arm) / MODEL

    def samples(self, row: str, sampled: str) -> Path:
        """The samples file of the stage that sampled `sampled` (see `sampled_as`)."""
        return self.root / sample_stage(row, sampled) / SAMPLES

    def results(self, row: str, benchmark: str) -> Path:
        return self.root / evaluate_stage(row, benchmark) / RESULTS

    def scores(self, row: str, benchmark: str) -> Path:
        return self.root / evaluate_stage(row, benchmark) / SCORES

    def scores_strict(self, row: str, benchmark: str) -> Path:
        return self.root / evaluate_stage(row, benchmark) / SCORES_STRICT

    @property
    def figures(self) -> Path:
        return self.root / REPORT

    @property
    def report(self) -> Path:
        return self.root / REPORT_MD
