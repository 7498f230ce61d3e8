"""Phase I, backward sampling (docs/design.md §2.2), and the no-linter ablation (§2.3).

A state is the ascending list of unit indices still present. The backward walk ends with the
empty program; reversing it and diffing consecutive states (Phase II) gives the edits.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

from lintseq.diffs import edits_from_states
from lintseq.engine.units import Program, split_units
from lintseq.linters import Linter, get_linter

Weighting = Literal["indent", "uniform"]


def derive_seed(run_seed: int, code: str, sample: int = 0) -> int:
    """Per-program seed from the run seed and the program text, so output is order-free."""
    digest = hashlib.blake2b(
        f"{run_seed}\x00{sample}\x00".encode() + code.encode("utf-8", "surrogatepass"),
        digest_size=8,
    ).digest()
    return int.from_bytes(digest, "big") >> 1


def _weights(program: Program, remaining: Sequence[int], weighting: Weighting) -> list[float] | None:
    if weighting == "uniform":
        return None
    if weighting == "indent":
        return [program.units[i].depth + 1 for i in remaining]
    raise ValueError(f"unknown weighting {weighting!r}; use 'indent' or 'uniform'")


def backward_states(
    program: Program, linter: Linter, rng: random.Random, weighting: Weighting = "indent"
) -> list[list[int]]:
    """States from the full program down to the empty one, each lint-clean but the first."""
    remaining = list(range(len(program.units)))
    states = [remaining]
    while remaining:
        w = _weights(program, remaining, weighting)
        u = rng.choices(remaining, weights=w, k=1)[0]
        alive = set(remaining)
        doomed = {u} | (set(program.block(u)) & alive)
        while True:
            keep = [i for i in remaining if i not in doomed]
            if not keep:
                break
            bad = linter.error_units(program, keep)
            if not bad:
                break
            new: set[int] = set()
            for e in bad:
                new.add(e)
                new.update(program.block(e))
            new = (new & alive) - doomed
            if not new:  # a backend blamed nothing deletable: still make progress
                new = {keep[-1]}
            doomed |= new
        remaining = keep
        states.append(remaining)
    return states


def random_states(program: Program, rng: random.Random) -> list[list[int]]:
    """The no-linter ablation: remove a random subset of size U(1..n-1) until empty."""
    remaining = list(range(len(program.units)))
    states = [remaining]
    while remaining:
        n = len(remaining)
        size = rng.randint(1, n - 1) if n > 1 else 1
        gone = set(rng.sample(remaining, size))
        remaining = [i for i in remaining if i not in gone]
        states.append(remaining)
    return states


def states_to_edits(program: Program, states: list[list[int]]) -> list[str]:
    """Phase II: reverse the backward states and write each step as a diff."""
    forward = states[::-1]
    texts = [program.state_lines(s) for s in forward]
    masks = []
    for a, b in pairwise(forward):
        old = set(a)
        masks.append([i not in old for i in program.line_owner(b)])
    return edits_from_states(texts, masks)


def edit_sequence(
    program: Program, rng: random.Random, linter: Linter | None, weighting: Weighting = "indent"
) -> list[str]:
    """Phase I then Phase II for a split program; `linter=None` is the no-linter ablation."""
    if linter is None:
        states = random_states(program, rng)
    else:
        states = backward_states(program, linter, rng, weighting)
    return states_to_edits(program, states)


def sample_edit_sequence(
    code: str,
    *,
    seed: int,
    linter: str | Linter = "fast",
    weighting: Weighting = "indent",
) -> list[str]:
    """One LintSeq edit sequence for `code`: insertion-only diffs that rebuild it exactly.

    `linter` is a backend name (`fast`, `pylint`), a `Linter`, or `none` for the ablation.
    Raises `SourceError` if the code does not tokenize.
    """
    linter_ = None if linter == "none" else get_linter(linter)
    return edit_sequence(split_units(code), random.Random(seed), linter_, weighting)
