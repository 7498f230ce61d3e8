"""What `lintseq evaluate`, the experiment's `[evaluate]` table and `evaluate_many` share: one
name, default and check per setting (see `lintseq.settings`)."""

from __future__ import annotations

from dataclasses import dataclass

from lintseq.diffs import RULES
from lintseq.evaluation.sandbox import Limits, Sandbox
from lintseq.evaluation.timing import FACTOR, MIN_TIME_LIMIT
from lintseq.settings import setting

FORMATS = ("auto", "diff", "program")  # how a sample's completion is read


@dataclass(frozen=True)
class EvaluateSettings:
    """How samples become programs, which pass@k are reported, and the sandbox's limits."""

    completion_format: str = setting(
        "auto",
        help="diff: resolve edit sequences; program: plain programs (Markdown fences removed; an unclosed fence "
        "keeps its code); auto: detect per sample.",
        choices=FORMATS,
    )
    resolution: str = setting(
        "paper",
        help="How edit sequences become programs. paper: the authors' rule, which produced the paper's scores "
        "(every row of a hunk inserted at its new-side start; counts and old side ignored). strict (analysis): "
        "the diff format's reading, a hunk whose header disagrees with its rows is skipped. recount (analysis): "
        "strict, but a miscounted hunk applied as written. The scores JSON says what each did.",
        choices=RULES,
    )
    k: tuple[int, ...] = setting(
        (1, 5, 10),
        help="pass@k for these k (reported only for k <= n).",
        flags=("-k",),
        csv=True,
        min=1,
        metavar="K[,K...]",
    )
    timeout: float = setting(
        Limits.timeout,
        help="Wall-clock seconds per sample (CPU time gets the same); humaneval+ and mbpp+ derive theirs (below).",
        min=0,
        min_open=True,
    )
    min_time_limit: float = setting(
        MIN_TIME_LIMIT,
        help="humaneval+ and mbpp+: a task's limit is max(this, --time-factor x its reference solution's time).",
        min=0,
        min_open=True,
    )
    time_factor: float = setting(FACTOR, help="See --min-time-limit.", min=0, min_open=True)
    memory_mb: int = setting(Limits.memory_mb, help="Address-space limit per sample.", min=64)
    workers: int | None = setting(
        None, help="Samples run at once (default: CPU count).", flags=("-j", "--workers"), min=1
    )
    unsafe_no_sandbox: bool = setting(
        False,
        help="Run samples without any isolation, with your permissions and network access (for machines "
        "whose kernel allows no sandbox; without it, evaluate refuses there). Only for samples you trust.",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", tuple(sorted({int(k) for k in self.k})))

    def limits(self) -> Limits:
        return Limits(timeout=self.timeout, memory_mb=self.memory_mb)

    def sandbox(self) -> Sandbox:
        """The sandbox these settings ask for (`SandboxUnavailable` where none can run)."""
        return Sandbox(self.limits(), workers=self.workers, isolation="none" if self.unsafe_no_sandbox else "auto")
