"""The sandbox's fork server (see `sandbox.py`): one per worker slot, started once.

It runs as `python -I -B -c <this file's text> <socket fd>` and must import nothing outside the
standard library. For each request (a config literal, the program, and the write end of an
output pipe passed as a file descriptor) it forks:

- c1 starts a new session (the evaluator kills that process group at the end), enters new
  mount, network and PID namespaces (and a user namespace when not root), and forks
- PID 1 of the new PID namespace, which makes the mounts private, mounts a fresh /proc, covers
  /tmp and the other world-writable directories with tmpfs, hides directories an unprivileged
  user cannot reach anyway while binding the interpreter's own directories back, and forks
- the program's process, which drops to the sandbox uid, sets its rlimits, runs the program and,
  only if the whole program ran, writes the sentinel line.

c1 and PID 1 only wait and pass the exit status on; when PID 1 exits the kernel kills
everything left in the namespace. Forking a warm interpreter is what makes a sample cheap: no
interpreter start-up, no `unshare` binary.
"""

import os
import sys

ERROR_MARK = "LINTSEQ-SANDBOX-ERROR:"
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000


def _recv_exact(sock, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _serve(sock_fd: int) -> None:
    import ctypes
    import socket
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    # no PR_SET_PDEATHSIG here: it fires when the evaluator *thread* that started the server
    # ends; the server stops when the evaluator's end of the socket closes instead
    sock = socket.socket(fileno=sock_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    while True:
        try:
            header, fds, _, _ = socket.recv_fds(sock, 8, 1)
            if not header:
                os._exit(0)
            header += _recv_exact(sock, 8 - len(header))
            payload = _recv_exact(sock, struct.unpack("=Q", header)[0]).decode("utf-8", "surrogatepass")
        except (EOFError, OSError):
            os._exit(0)
        line, _, src = payload.partition("\n")
        cfg = eval(line, {"__builtins__": {}})  # a literal written by sandbox.py
        out = fds[0]
        pid = os.fork()
        if pid == 0:
            sock.close()
            _first_child(libc, cfg, src, out)
        os.close(out)
        sock.sendall(struct.pack("=q", pid))
        _, status = os.waitpid(pid, 0)
        sock.sendall(struct.pack("=q", os.waitstatus_to_exitcode(status)))


def _fail(exc: BaseException) -> None:
    os.write(2, f"{ERROR_MARK} {exc!r}\n".encode())
    os._exit(70)


def _first_child(libc, cfg, src: str, out: int) -> None:
    try:
        os.setsid()
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        if cfg["namespaces"]:
            outer_uid, outer_gid = os.getuid(), os.getgid()
            flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET
            if cfg["user_namespace"]:
                flags |= CLONE_NEWUSER
            if libc.unshare(flags) != 0:
                import ctypes

                raise OSError(ctypes.get_errno(), "unshare")
            if cfg["user_namespace"]:
                for name, text in (("setgroups", "deny"), ("uid_map", f"0 {outer_uid} 1"), ("gid_map", f"0 {outer_gid} 1")):
                    with open(f"/proc/self/{name}", "w") as fh:
                        fh.write(text)
        pid = os.fork()
    except BaseException as exc:
        _fail(exc)
    if pid:
        _wait_as_init(pid)
    try:
        libc.prctl(1, 9, 0, 0, 0)
        if cfg["namespaces"]:
            _isolate_mounts(libc, cfg)
        pid = os.fork()
    except BaseException as exc:
        _fail(exc)
    if pid:
        _wait_as_init(pid)
    _run_child(libc, cfg, src)


def _mount(libc, source, target, fstype, flags, data) -> None:
    import ctypes

    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _isolate_mounts(libc, cfg) -> None:
    ms_nosuid, ms_nodev, ms_noexec, ms_bind, ms_rec, ms_private = 2, 4, 8, 4096, 16384, 1 << 18
    _mount(libc, None, "/", None, ms_rec | ms_private, None)
    _mount(libc, "proc", "/proc", "proc", ms_nosuid | ms_nodev | ms_noexec, None)
    # Open the directories to keep before covering their ancestors; bind them back afterwards
    # through /proc/self/fd (the new /proc belongs to this process's namespace).
    keep = [(os.open(path, os.O_PATH | os.O_DIRECTORY), path) for path in cfg["keep"]]
    for target, mode, size in cfg["cover"]:
        _mount(libc, "tmpfs", target, "tmpfs", ms_nosuid | ms_nodev, f"size={size},mode={mode}")
    for fd, path in keep:
        os.makedirs(path, 0o755, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}", path, None, ms_bind | ms_rec, None)
        os.close(fd)


def _wait_as_init(pid: int) -> None:
    for fd in (0, 1, 2):
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        try:
            got, status = os.waitpid(pid, 0)
        except ChildProcessError:
            os._exit(70)
        if got == pid:
            break
    if os.WIFSIGNALED(status):
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status))


def _run_child(libc, cfg, src: str) -> None:
    import resource

    try:
        workdir = cfg["workdir"]
        if cfg["namespaces"]:
            os.mkdir(workdir, 0o700)
            if cfg["uid"] is not None:
                os.chown(workdir, cfg["uid"], cfg["uid"])
        for name, value in cfg["rlimits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        if cfg["uid"] is not None:
            os.setgroups([])
            os.setresgid(cfg["uid"], cfg["uid"], cfg["uid"])
            os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
            libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: no setuid binaries
        os.chdir(workdir)
    except BaseException as exc:  # the sandbox, not the program, failed
        _fail(exc)
    del cfg["rlimits"]
    sentinel = cfg.pop("sentinel")
    code = 1
    try:
        exec(compile(src, "<program>", "exec"), {"__name__": "__sandbox__"})
        code = 0
    except SystemExit as exc:
        sys.stderr.write(f"program exited early: SystemExit({exc.code!r})\n")
        code = 2
    except BaseException:
        import linecache
        import traceback

        linecache.cache["<program>"] = (len(src), None, src.splitlines(True), "<program>")
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass
    if code == 0:
        try:
            os.write(1, f"\n{sentinel}\n".encode())
        except OSError:
            code = 1
    os._exit(code)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
