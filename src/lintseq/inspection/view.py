"""`lintseq show`: one program's edit sequence, step by step, in the terminal or as HTML.

Each edit is a panel with its hunks and the program after it, the lines it added marked `+`
on a green background. The HTML page is rich's record of the same rendering, so the two
views cannot drift apart.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.terminal_theme import MONOKAI
from rich.text import Text

from lintseq.inspection.sequences import EditSequence, edit_kinds, replay
from lintseq.io import write_atomic

ADDED = "on #1f3d1f"  # background of the lines an edit added
TAB = 4

HTML_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="UTF-8">
<title>{title}</title>
<style>
{{stylesheet}}
body {{{{ color: {{foreground}}; background-color: {{background}}; margin: 1em; }}}}
pre {{{{ font-family: Menlo, 'DejaVu Sans Mono', Consolas, monospace; font-size: 13px; line-height: 1.25; }}}}
</style>
</head>
<body>
<pre><code>{{code}}</code></pre>
</body>
</html>
"""


def _program(lines: list[str], added: set[int]) -> Text:
    """The program with line numbers; added lines get a `+` and the green background."""
    code = "\n".join(line.expandtabs(TAB) for line in lines)
    highlighted = Syntax(code, "python", theme="monokai", background_color="default").highlight(code)
    width = len(str(len(lines)))
    code_width = max((len(line) for line in code.split("\n")), default=0) + 1
    out = Text()
    for i, line in enumerate(highlighted.split("\n", allow_blank=True)[: len(lines)]):
        mark = i in added
        out.append(f"{i + 1:>{width}} ", style="dim")
        out.append("+ " if mark else "  ", style="bold green" if mark else "")
        if mark:
            line.pad_right(code_width - len(line))  # one green block, as wide as the program
            line.stylize(ADDED)
        out.append_text(line)
        out.append("\n")
    out.rstrip()
    return out


def _hunks(hunks: list[str]) -> Text:
    out = Text()
    for hunk in hunks:
        header, *body = hunk.split("\n")
        out.append(header + "\n", style="cyan")
        for line in body:
            out.append(line[:1] + line[1:].expandtabs(TAB) + "\n", style="green")  # tabs as in the program below
    out.rstrip()
    return out


def header(seq: EditSequence, source: str) -> Text:
    where = [f"line {seq.line}"]
    if seq.row is not None:
        where.append(f"row {seq.row}")
    if seq.sample is not None:
        where.append(f"sample {seq.sample}")
    if seq.seed is not None:
        where.append(f"seed {seq.seed}")
    what = {
        "generate": "generate output",
        "lintseq": "format output (lintseq)",
        "baseline": "format output (baseline)",
        "sample": "sample output" + (", resolved by the paper's rule" if seq.rule == "paper" else ""),
    }
    title = Text()
    title.append(seq.id or Path(source).name, style="bold")
    title.append(f"  {source}  " + ", ".join(where) + f"  {what.get(seq.style, seq.style)}", style="dim")
    return title


def renderables(seq: EditSequence, source: str) -> list:
    """What `show` prints, in order: a header, the instruction, one panel per edit."""
    out: list = [
        header(seq, source),
        Panel(Text(seq.instruction.expandtabs(TAB)), title="instruction", title_align="left", border_style="dim"),
    ]
    if not seq.edits:
        lines = seq.program.splitlines()
        why = "a sample without edits" if seq.style == "sample" else "a baseline row holds no edits"
        out.append(Panel(_program(lines, set()), title=f"the program ({why})", title_align="left"))
        return out
    kinds = edit_kinds(seq.edits, seq.rule)
    n = len(seq.edits)
    for k, (step, kind) in enumerate(zip(replay(seq.edits, seq.rule), kinds), 1):
        title = (
            f"edit {k}/{n}: +{len(step.added)} line{'s' if len(step.added) != 1 else ''} "
            f"in {len(step.hunks)} hunk{'s' if len(step.hunks) != 1 else ''} ({kind}), "
            f"{len(step.lines)} line{'s' if len(step.lines) != 1 else ''} now"
        )
        body = Group(_hunks(step.hunks), Text(""), _program(step.lines, set(step.added)))
        out.append(Panel(body, title=title, title_align="left", border_style="green" if k == n else "blue"))
    return out


def show(seq: EditSequence, source: str, console: Console | None = None) -> None:
    console = console or Console()
    for item in renderables(seq, source):
        console.print(item)


def export_html(seq: EditSequence, source: str, path: str | Path, width: int = 110) -> None:
    """The same view as a standalone HTML page (inline styles, no scripts, nothing fetched)."""
    console = Console(record=True, width=width, file=io.StringIO(), color_system="truecolor", force_terminal=True)
    show(seq, source, console)
    title = f"lintseq show: {seq.id or Path(source).name}"
    page = console.export_html(theme=MONOKAI, inline_styles=True, code_format=HTML_PAGE.format(title=_escape(title)))
    write_atomic(path, page)


def _escape(text: str) -> str:
    import html

    return html.escape(text).replace("{", "{{").replace("}", "}}")
