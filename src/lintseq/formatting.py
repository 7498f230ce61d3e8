"""Training rows in TRL's prompt/completion form (docs/design.md §2.5).

LintSeq text is `{instruction}\\n<|diff|>{edit 1}\\n<|diff|>...{edit n}\\n<|diff|>\\n<|diff|>{eos}`
and baseline text is `{instruction}\\n{program}{eos}`. The prompt ends exactly where sampling
starts (`prompt_for`), so the prompts `lintseq sample` sends match the ones trained on. EOS is
not written here: TRL appends `tokenizer.eos_token` to every completion, once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard

from lintseq.diffs import DIFF_TOKEN, EditError, apply_edits, lintseq_completion
from lintseq.engine.generate import Settings
from lintseq.engine.journal import default_rejects_path
from lintseq.engine.records import read_rows
from lintseq.engine.units import normalize
from lintseq.io import AtomicJsonl, write_jsonl
from lintseq.settings import default_of, same_as, setting

Style = Literal["lintseq", "baseline"]
STYLES: tuple[str, ...] = ("lintseq", "baseline")


@dataclass(frozen=True)
class FormatSettings:
    """`lintseq format`'s settings (the experiment's `[format]` table hands on `chat`); the field
    names and their defaults are `generate`'s, whose output this reads."""

    style: str = setting(
        "lintseq", help="lintseq: instruction -> edit sequence; baseline: instruction -> program.", choices=STYLES
    )
    instruction_field: str = same_as(Settings, "instruction_field")
    code_field: str = setting(
        default_of(Settings, "code_field"), help="Program field, used by the baseline style on rows without edit_path."
    )
    chat: bool = setting(
        False,
        help="Render the prompt through the tokenizer's chat template (instruct models); sampling then uses it too.",
    )
    tokenizer: str | None = setting(None, help="Tokenizer (path or name) for --chat.")


PROVENANCE = ("id", "row", "sample", "seed", "n_edits")


def is_style(value: str) -> TypeGuard[Style]:
    """Whether `value` names a style (narrows a plain string for the type checker)."""
    return value in STYLES


class FormatError(ValueError):
    """A row that cannot become a training example; the message is the reject reason."""


def load_chat_tokenizer(name: str) -> Any:
    """The tokenizer whose chat template renders prompts, for `format --chat` and `sample --chat`."""
    from transformers import AutoTokenizer

    from lintseq.models.names import resolve_model

    try:
        tok = AutoTokenizer.from_pretrained(resolve_model(name))
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot load tokenizer {name!r}: {e}") from e
    if not getattr(tok, "chat_template", None):
        raise ValueError(f"tokenizer {name!r} has no chat template")
    return tok


def prompt_for(instruction: str, style: Style, chat_tokenizer: Any = None) -> str:
    """The text a model is trained to continue, and is given at sampling time.

    With `chat_tokenizer`, the instruction is rendered as one user turn with the generation
    prompt; LintSeq then appends `<|diff|>` directly (the template already ends the turn).
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")
    if chat_tokenizer is not None:
        head = chat_tokenizer.apply_chat_template(
            [{"role": "user", "content": instruction}], tokenize=False, add_generation_prompt=True
        )
        return head + DIFF_TOKEN if style == "lintseq" else head
    return instruction + "\n" + DIFF_TOKEN if style == "lintseq" else instruction + "\n"


def _edit_path(row: dict) -> list[str]:
    path = row.get("edit_path")
    if not isinstance(path, list) or not all(isinstance(e, str) for e in path):
        raise FormatError("edit_path missing or not a list of strings")
    if not path:
        raise FormatError("edit_path is empty")
    if any(DIFF_TOKEN in e for e in path):
        raise FormatError(f"program contains {DIFF_TOKEN}")
    try:
        apply_edits(path)
    except EditError as exc:
        raise FormatError(f"edit_path does not replay: {exc}") from None
    return path


def _text_field(row: dict, name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise FormatError(f"field {name!r} missing or not a string")
    return value


def format_row(
    row: dict,
    style: Style,
    *,
    instruction_field: str = FormatSettings.instruction_field,
    code_field: str = FormatSettings.code_field,
    chat_tokenizer: Any = None,
) -> dict:
    """One training row: `prompt`, `completion`, `style` and the row's provenance fields.

    Baseline rows built from `generate` output take the program from the replayed edits, so
    both styles are trained on exactly the same programs.
    """
    instruction = _text_field(row, instruction_field)
    if DIFF_TOKEN in instruction:
        raise FormatError(f"instruction contains {DIFF_TOKEN}")
    if style == "lintseq":
        completion = lintseq_completion(_edit_path(row))
    elif style == "baseline":
        completion = apply_edits(_edit_path(row)) if "edit_path" in row else normalize(_text_field(row, code_field))
        if not completion.strip():
            raise FormatError("empty program")
        if DIFF_TOKEN in completion:
            raise FormatError(f"program contains {DIFF_TOKEN}")
    else:
        raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")
    out = {
        "prompt": prompt_for(instruction, style, chat_tokenizer),
        "completion": completion,
        "style": style,
    }
    out.update({k: row[k] for k in PROVENANCE if k in row})
    return out


@dataclass
class FormatStats:
    """What a `format_file` run did with each input line."""

    read: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        parts = [f"read {self.read}", f"wrote {self.written}"]
        if self.duplicates:
            parts.append(f"skipped {self.duplicates} extra samples (baseline keeps one per program)")
        if self.rejected:
            parts.append(f"rejected {sum(self.rejected.values())}")
        return ", ".join(parts)


def _is_extra_sample(row: dict) -> bool:
    """`generate` writes s samples per program; the baseline needs the program once."""
    return "edit_path" in row and row.get("sample", 0) != 0


def format_rows(
    rows: Iterable[tuple[int, dict | None, str]],
    style: Style,
    **kwargs: Any,
) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line, training row, None) or (line, None, reject reason) or (line, None, None) for a skip."""
    for n, row, _raw in rows:
        if row is None:
            yield n, None, "not a JSON object"
            continue
        if style == "baseline" and _is_extra_sample(row):
            yield n, None, None
            continue
        try:
            yield n, format_row(row, style, **kwargs), None
        except FormatError as exc:
            yield n, None, str(exc)


def format_file(
    src: str | Path,
    dst: str | Path,
    style: Style,
    *,
    rejects: str | Path | None = None,
    **kwargs: Any,
) -> FormatStats:
    """Format `src` into `dst` (JSON Lines); rejected lines go to `rejects` with their reason."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")
    rejects = Path(rejects) if rejects else default_rejects_path(Path(dst))
    stats = FormatStats()
    raw_by_line: dict[int, str] = {}

    def tracked() -> Iterator[tuple[int, dict | None, str]]:
        for item in read_rows(src):
            stats.read += 1
            raw_by_line[item[0]] = item[2]
            yield item

    rejected_rows: list[dict] = []
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with AtomicJsonl(dst) as out:
        for n, row, reason in format_rows(tracked(), style, **kwargs):
            raw = raw_by_line.pop(n, "")
            if row is not None:
                out.write(row)
                stats.written += 1
            elif reason is None:
                stats.duplicates += 1
            else:
                stats.rejected[reason.split(":")[0]] += 1
                rejected_rows.append({"line": n, "reason": reason, "raw": raw.rstrip("\n")})
    if rejected_rows:
        rejects.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(rejects, rejected_rows)
    return stats
