"""Files that are whole or absent, and JSON Lines read and written one way.

Every file lintseq writes under its final name goes through `AtomicFile`: the bytes go to a
hidden temporary file beside the target, `.NAME.XXXXXXXX.part`, are flushed and fsynced, and
only then renamed over the target with `os.replace`, which is atomic on POSIX. A crash leaves
the old file or the new one, never a torn file that looks complete, and at worst a `*.part`
file beside it. (The folder is not fsynced after the rename: a power cut may undo the rename,
which leaves the old file, still whole.) The temporary file is created with mode 0666 less
the umask, like any file the user writes, so permissions do not depend on how a file was
written. Folders built whole and then renamed into place (a trained or converted model) are
built in a `temp_dir` named the same way and put in place by `swap_dir`.

A long job's rows (generate's journal, the samples file) go to an `AppendLog`: whole rows are
appended to `NAME.partial`, and only a finished job renames it to `NAME`, so a file under its
real name is complete. One rule for what a crash leaves: bytes after the last newline are a
torn row, cut off when the log is read back; any other line that is not a JSON object is an
error naming the file and line (something other than lintseq wrote it).

JSON Lines are read as bytes, one line per `\\n`: `str.splitlines` would also split at
U+2028 and the other line breaks a string may hold when written with `ensure_ascii=False`.
A line that is not a JSON object is not dropped: `read_jsonl` yields it with its line number,
its text and the reason, and `load_jsonl` stops at it with those in the message.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

TEMP_SUFFIX = ".part"
T = TypeVar("T")

# ------------------------------------------------------------------------------------ writing


def _new_temp(path: Path, create: Callable[[Path], T]) -> T:
    """`create(name)` for the first free `.NAME.XXXXXXXX.part` beside `path` (it must fail
    with FileExistsError when the name is taken, as O_EXCL and mkdir do)."""
    for _ in range(100):
        try:
            return create(path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"))
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def _create_temp(path: Path) -> tuple[int, Path]:
    return _new_temp(path, lambda tmp: (os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp))


def temp_dir(path: str | os.PathLike) -> Path:
    """A new, empty hidden folder beside `path`, named like a temporary file, to build a
    folder in and rename into place (mode 0777 less the umask, like the folder it becomes)."""

    def make(tmp: Path) -> Path:
        os.mkdir(tmp, 0o777)
        return tmp

    return _new_temp(Path(path), make)


class AtomicFile:
    """A file written under a temporary name; `commit` puts it in place (used as a context
    manager: committed when the block ends cleanly, discarded when it raises).

    `close` and `commit` are separate so that two files can be finished first and renamed
    one after the other (`lintseq mine` writes its rows and their summary so).
    """

    def __init__(self, path: str | os.PathLike, mode: Literal["w", "wb"] = "w"):
        self.path = Path(path)
        fd, self.tmp = _create_temp(self.path)
        try:
            # held open across calls: AtomicFile is itself the context manager, close() ends it
            self.file: IO[Any] = open(fd, mode, encoding=None if "b" in mode else "utf-8")  # noqa: SIM115
        except BaseException:
            os.close(fd)
            self.tmp.unlink(missing_ok=True)
            raise

    def write(self, data: Any) -> int:
        return self.file.write(data)

    def close(self) -> None:
        """Flush and fsync the temporary file (once: later calls do nothing)."""
        if not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()

    def commit(self) -> None:
        self.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()


@contextmanager
def atomic_write(path: str | os.PathLike, mode: Literal["w", "wb"] = "w") -> Iterator[IO[Any]]:
    """`with atomic_write(path) as f: f.write(...)`: `path` holds all of it, or what it held
    before. `f` is a plain file object, for writers that want one (numpy, pyarrow, matplotlib)."""
    with AtomicFile(path, mode) as af:
        yield af.file


def swap_dir(work: str | os.PathLike, out: str | os.PathLike) -> None:
    """Rename the finished folder `work` to `out`. An old `out` is moved aside first and
    removed after, and put back if the rename fails: at every moment `out` is the old folder
    or the new one, whole (removing it first would lose it to a crash in between)."""
    work, out = Path(work), Path(out)
    old = None
    if out.exists():
        old = _new_temp(out, lambda tmp: _rename_unless_taken(out, tmp))
    try:
        os.replace(work, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def _rename_unless_taken(src: Path, dest: Path) -> Path:
    if dest.exists():
        raise FileExistsError(dest)
    os.replace(src, dest)
    return dest


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path` atomically."""
    with AtomicFile(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def write_json(path: str | os.PathLike, doc: Any, *, default: Any = None) -> None:
    """`doc` as indented JSON with a final newline, atomically."""
    write_atomic(path, json.dumps(doc, indent=2, default=default) + "\n")


def dumps_line(row: Any, *, ensure_ascii: bool = False) -> str:
    """One JSON Lines line, newline included (non-ASCII text kept as it is unless asked)."""
    return json.dumps(row, ensure_ascii=ensure_ascii) + "\n"


class AtomicJsonl(AtomicFile):
    """JSON Lines written one row at a time, in place only when the writer closes cleanly."""

    def __init__(self, path: str | os.PathLike, *, ensure_ascii: bool = False):
        super().__init__(path, "w")
        self.ensure_ascii = ensure_ascii

    def write(self, row: Any) -> int:
        return self.file.write(dumps_line(row, ensure_ascii=self.ensure_ascii))

    def __enter__(self) -> AtomicJsonl:
        return self


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any], *, ensure_ascii: bool = False) -> None:
    """Every row as one line, atomically."""
    with AtomicJsonl(path, ensure_ascii=ensure_ascii) as out:
        for row in rows:
            out.write(row)


# ------------------------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class JsonLine:
    """One non-blank line of a JSON Lines file: the object it holds, or why it holds none."""

    number: int  # 1-based line number, blank lines counted (what an editor shows)
    index: int  # 0-based among the non-blank lines (a row number)
    text: str  # the line as read, newline included; bytes that do not decode shown as \\xNN
    value: dict[str, Any] | None  # the JSON object; None when the line is not one
    error: str = ""  # why not: "not UTF-8: ...", "invalid JSON: ..." or "not a JSON object: TYPE"


class JsonlError(ValueError):
    """A JSON Lines file with a line that is not a JSON object, where every line must be one."""


def read_jsonl(source: str | os.PathLike | int | Iterable[bytes], *, errors: str = "strict") -> Iterator[JsonLine]:
    """Every non-blank line of a JSON Lines file (a path, gzip-compressed if it ends in .gz; an open descriptor, read from where
    it stands and closed at the end; or binary lines, such as `gzip.open(path)`). `errors` is
    how bytes are decoded: "strict" reports a line that is not UTF-8, "surrogatepass" also
    accepts the lone surrogates lintseq's own partial files may hold, "replace" reads on with
    U+FFFD."""
    if isinstance(source, (str, os.PathLike)) and os.fspath(source).endswith(".gz"):
        with gzip.open(source, "rb") as gz:  # exported samples and results are compressed
            yield from _parse(gz, errors)
    elif isinstance(source, (str, os.PathLike, int)):
        with open(source, "rb") as fh:
            yield from _parse(fh, errors)
    else:
        yield from _parse(source, errors)


def _parse(lines: Iterable[bytes], errors: str) -> Iterator[JsonLine]:
    index = 0
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8", errors)
        except UnicodeDecodeError as exc:
            yield JsonLine(
                number,
                index,
                raw.decode("utf-8", "backslashreplace"),
                None,
                f"not UTF-8: byte {raw[exc.start]:#04x} at offset {exc.start}",
            )
            index += 1
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield JsonLine(number, index, text, None, f"invalid JSON: {exc.msg} at column {exc.colno}")
        else:
            if isinstance(value, dict):
                yield JsonLine(number, index, text, value)
            else:
                yield JsonLine(number, index, text, None, f"not a JSON object: {type(value).__name__}")
        index += 1


def load_jsonl(
    source: str | os.PathLike | Iterable[bytes], *, name: str | None = None, errors: str = "strict"
) -> list[dict[str, Any]]:
    """Every object of a JSON Lines file that must hold nothing else; the first line that is
    not an object is a `JsonlError` naming the file (`name`, for lines from elsewhere) and line."""
    rows = []
    for line in read_jsonl(source, errors=errors):
        if line.value is None:
            raise JsonlError(f"{name or source}:{line.number}: {line.error}")
        rows.append(line.value)
    return rows


# ------------------------------------------------------------------------------ append logs


def partial_path(path: str | os.PathLike) -> Path:
    """Where an unfinished job keeps its rows: `NAME.partial` beside `NAME`."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def encode_line(row: Any) -> bytes:
    """One JSON Lines line as bytes; lone surrogates (a source file's undecodable bytes, kept
    by Python's surrogateescape) are written as they are, and read back with surrogatepass."""
    return dumps_line(row).encode("utf-8", "surrogatepass")


class AppendLog:
    """JSON Lines rows appended to `PATH.partial` and renamed to `PATH` by `commit`.

    Each `append` is one `os.write` of whole lines (so a crash tears at most the last line),
    fsynced when `durable` (a problem's samples took minutes; generate's rows take
    milliseconds and are fsynced at close). `read` gives the rows a stopped job left, by the
    module's torn-line rule; `rewrite` keeps a subset of them (the caller's resume rule).
    """

    def __init__(self, path: str | os.PathLike, *, durable: bool = False) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.durable = durable
        self._fd: int | None = None

    def exists(self) -> bool:
        return self.partial.exists()

    def read(self) -> list[dict[str, Any]]:
        """The partial file's rows; a torn last line is cut off the file itself, so the next
        append starts a line of its own."""
        if not self.partial.exists():
            return []
        data = self.partial.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            with open(self.partial, "r+b") as f:
                f.truncate(keep)
        return load_jsonl(io.BytesIO(data[:keep]), name=str(self.partial), errors="surrogatepass")

    def rewrite(self, rows: Iterable[Any]) -> None:
        """Replace the partial file's rows with `rows`, atomically."""
        self._require_closed()
        write_atomic(self.partial, b"".join(encode_line(r) for r in rows))

    def open(self) -> None:
        """Start appending (after the rows already in the partial file, if any)."""
        self._require_closed()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)

    def append(self, rows: Iterable[Any]) -> None:
        if self._fd is None:
            raise ValueError(f"{self.partial} is not open")
        data = b"".join(encode_line(r) for r in rows)
        view = memoryview(data)
        while view:  # a regular file takes it all in one write; a short write is not an error
            view = view[os.write(self._fd, view) :]
        if data and self.durable:
            os.fsync(self._fd)

    def close(self) -> None:
        """Make the rows durable and stop appending; the partial file stays for a resume."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def commit(self) -> None:
        """Close, and give the finished rows their real name."""
        self.close()
        os.replace(self.partial, self.path)

    def discard(self) -> None:
        self.close()
        self.partial.unlink(missing_ok=True)

    def _require_closed(self) -> None:
        if self._fd is not None:
            raise ValueError(f"{self.partial} is open for appending")
