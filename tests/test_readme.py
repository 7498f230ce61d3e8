"""The README's two top commands: CI must run the test command exactly as a reader types it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)[:2]]


def test_ci_runs_the_readme_test_command_verbatim():
    generate, tests = readme_commands()
    assert "lintseq generate --sample" in generate and "pytest" in tests
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert tests in ci_lines
