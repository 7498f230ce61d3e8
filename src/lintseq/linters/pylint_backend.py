"""The `pylint` backend: the authors' release decisions, with one linter kept alive.

The release (pylintseq) writes every state to a temp file and runs `pylint` on it from
scratch: about 40 ms a call, most of it building a linter and loading every checker. Here the
`PyLinter` is built once per process and each program is checked from a string, which is
the same analysis without the start-up, the file and the config lookup.

Decisions kept from the release (docs/design.md §3.10): `--disable=C,R`; E and F messages count,
plus W0311 (bad-indentation) and W0231 (super-init-not-called); a syntax error whose message
says "... on line N" (an empty block, an unmatched bracket) blames line N, the release's
parse of the message; a message with no line blames the last line (the release's
`rm[int(line) - 1]` with line 0). Decisions changed: E0401 and E0611 (they depend on which
packages are installed) do not count, no config file is read, and nothing is written to disk.

Needs `pylint==3.2.6` and `astroid==3.2.4` (`pip install 'lintseq[pylint]'`): it uses pylint's
private `PyLinter._lint_file`, `_config_initialization` and `ASTWalker` as that version has
them, and warns when another version is installed.
"""

from __future__ import annotations

import functools
import warnings
from typing import Protocol

import astroid
import pylint
from astroid import MANAGER
from astroid.context import _invalidate_cache
from astroid.inference_tip import clear_inference_tip_cache
from pylint.checkers import BaseRawFileChecker, BaseTokenChecker
from pylint.config.config_initialization import _config_initialization
from pylint.lint import PyLinter
from pylint.reporters import CollectingReporter
from pylint.typing import FileItem
from pylint.utils.ast_walker import ASTWalker

from lintseq.linters import Linter, register


class _Cached(Protocol):
    def cache_clear(self) -> None: ...


_isort_place: _Cached | None
try:  # isort 5 (what pylint 3.2 uses); isort 4 has no such cache
    from isort.place import module_with_reason as _isort_place
except ImportError:  # pragma: no cover
    _isort_place = None

#: The release's command line, minus the output-format flags it parsed text with.
RELEASE_FLAGS = (
    "--disable=C,R",
    "--reports=n",
    "--score=n",
    "--unsafe-load-any-extension=y",
    "--generated-members=cv2.*",
)
#: Environment-independent results and no stats pickled to the user's home.
OUR_FLAGS = ("--persistent=n", "--jobs=1", "--disable=import-error,no-name-in-module")

COUNTED_WARNINGS = frozenset({"W0311", "W0231"})
IGNORED = frozenset({"E0401", "E0611"})

PINNED = {"pylint": "3.2.6", "astroid": "3.2.4"}
MODNAME = "lintseq_program"
FILEPATH = "lintseq_program.py"


def counts(msg_id: str) -> bool:
    """The release's filter: E and F messages plus two warnings, less the environment ones."""
    if msg_id in IGNORED:
        return False
    return msg_id[:1] in ("E", "F") or msg_id in COUNTED_WARNINGS


def blamed_line(msg_id: str, line: int | None, text: str, last: int) -> int:
    """The line the release deletes for one message."""
    if msg_id == "E0001" and "on line" in text:
        # The release takes the last word before the final "(": "... on line N (file, line M)".
        word = text[: text.rfind("(")].rstrip().split(" ")[-1]
        if word.isdigit():
            return int(word)
    if not line:
        return last
    return line


def build_linter(extra_flags: tuple[str, ...] = ()) -> PyLinter:
    """A configured `PyLinter` with the standard checkers and no config file."""
    found = {"pylint": pylint.__version__, "astroid": astroid.__version__}
    if found != PINNED:
        warnings.warn(
            f"the pylint backend is pinned to {PINNED} and found {found}; its judgement "
            "(and the private API it uses) may differ",
            RuntimeWarning,
            stacklevel=2,
        )
    linter = PyLinter()
    linter.load_default_plugins()
    # config_file=None: parse only these flags; no pylintrc/pyproject.toml lookup.
    rest = _config_initialization(
        linter,
        [*RELEASE_FLAGS, *OUR_FLAGS, *extra_flags],
        CollectingReporter(),
        config_file=None,
    )
    if rest:
        raise ValueError(f"unexpected pylint arguments: {rest}")
    return linter


class PylintLinter(Linter):
    """One `PyLinter`, its checkers and its AST walker, built once and reused per program.

    What `PyLinter.check` does for one file, minus the file: `initialize`, open every
    checker, build the tree from the string, `_lint_file`, close the checkers. The checker
    set and the walker's visit table depend only on the configuration, so they are prepared
    once (pylint rebuilds them on every call, a third of its per-call cost on small programs).
    """

    name = "pylint"

    def __init__(self, extra_flags: tuple[str, ...] = ()) -> None:
        self.linter = linter = build_linter(extra_flags)
        assert isinstance(linter.reporter, CollectingReporter)  # the one build_linter gave it
        self.reporter = linter.reporter
        self._checkers = linter.prepare_checkers()
        walker = ASTWalker(linter)
        for checker in self._checkers:
            walker.add_checker(checker)
        self._check = functools.partial(
            linter.check_astroid_module,
            walker=walker,
            tokencheckers=[c for c in self._checkers if isinstance(c, BaseTokenChecker)],
            rawcheckers=[c for c in self._checkers if isinstance(c, BaseRawFileChecker)],
        )

    def messages(self, source: str) -> list[tuple[str, int | None, str]]:
        """All messages pylint emits for `source`: (msg_id, line, text), before the filter."""
        linter = self.linter
        self.reporter.reset()
        linter.initialize()
        for checker in self._checkers:
            checker.open()
        try:
            linter.set_current_module(MODNAME, FILEPATH)
            module = linter.get_ast(FILEPATH, MODNAME, data=source)
            if module is not None:
                linter._lint_file(FileItem(MODNAME, FILEPATH, MODNAME), module, self._check)
        except astroid.AstroidError as exc:  # what pylint's own loop turns into F0002
            linter.add_message("astroid-error", args=(FILEPATH, repr(exc)))
        finally:
            for checker in reversed(self._checkers):
                checker.close()
            self._forget()
        found: list[tuple[str, int | None, str]] = [(m.msg_id, m.line, m.msg) for m in self.reporter.messages]
        self.reporter.reset()
        return found

    def error_lines(self, source: str) -> set[int]:
        last = max(1, source.count("\n") + (0 if source.endswith("\n") else 1))
        return {blamed_line(msg_id, line, text, last) for msg_id, line, text in self.messages(source) if counts(msg_id)}

    def _forget(self) -> None:
        """Drop this program's tree and the caches that would keep it (stale results, memory).

        pylint's import checker builds a fresh isort config per module, so isort's
        `place_module` cache never hits across programs; it would only hold 1,000 configs.
        """
        MANAGER.astroid_cache.pop(MODNAME, None)
        clear_inference_tip_cache()
        _invalidate_cache()
        if _isort_place is not None:
            _isort_place.cache_clear()

    def close(self) -> None:
        self._forget()


register("pylint", PylintLinter)
