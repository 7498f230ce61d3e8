"""The sandbox's fork server (see `sandbox.py`): one per worker slot, started once.

It runs as `python -I -B -c <this file's text> <socket fd>` and must import nothing outside the
standard library. For each request (a config literal, the program, and the write end of an
output pipe passed as a file descriptor) it forks:

- c1 starts a new session (the evaluator kills that process group at the end), enters new
  mount, network and PID namespaces (and a user namespace when not root), and forks
- PID 1 of the new PID namespace, which builds the program's view of the filesystem: mounts
  made private, a minimal /dev, tmpfs over /run and over directories an unprivileged uid cannot
  reach anyway (the interpreter's own directories bound back), /dev/null over every unix socket
  found outside them, then the whole tree read-only, and only then a fresh /proc and writable
  tmpfs over /tmp, /var/tmp and /dev/shm; it forks
- the program's process, which drops every capability (bounding set included, securebits
  locked so that uid 0 in a user namespace regains none on exec), drops to the sandbox uid as
  root, sets no_new_privs and its rlimits, runs the program and, only if the whole program ran,
  writes the sentinel line.

Mounts cannot be made writable again from inside: the program has no capability over its mount
namespace, and one it creates itself (a new user namespace) copies the mounts locked read-only.
c1 and PID 1 only wait and pass the exit status on; when PID 1 exits the kernel kills
everything left in the namespace. Forking a warm interpreter is what makes a sample cheap: no
interpreter start-up, no `unshare` binary.
"""

import os
import sys

ERROR_MARK = "LINTSEQ-SANDBOX-ERROR:"
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 28, 38
# SECBIT_NOROOT (uid 0 gains no capability on exec), KEEP_CAPS off, NO_CAP_AMBIENT_RAISE; all locked
SECUREBITS = 0x01 | 0x02 | 0x20 | 0x40 | 0x80
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
HOST: dict = {}  # read once by the server, before any namespace: unix sockets, cap_last_cap


def _recv_exact(sock, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _host_facts() -> dict:
    """What only the host's namespaces show: the unix sockets bound there (a read-only mount
    does not stop connect(2)), and how many capabilities the kernel has."""
    sockets = []
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="surrogateescape") as fh:
            next(fh, None)
            for line in fh:
                parts = line.rstrip("\n").split(None, 7)
                if len(parts) == 8 and parts[7].startswith("/"):
                    sockets.append(parts[7])
    except OSError:
        pass
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            last_cap = int(fh.read())
    except (OSError, ValueError):
        last_cap = 63
    return {"sockets": sorted(set(sockets)), "last_cap": last_cap}


def _serve(sock_fd: int) -> None:
    import ctypes
    import socket
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    HOST.update(_host_facts())
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


def _check(libc, ret: int, what: str) -> None:
    if ret != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


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
            _check(libc, libc.unshare(flags), "unshare")
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
        libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        if cfg["namespaces"]:
            _isolate_mounts(libc, cfg)
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # the program cannot ptrace its PID 1
        pid = os.fork()
    except BaseException as exc:
        _fail(exc)
    if pid:
        _wait_as_init(pid)
    _run_child(libc, cfg, src)


def _mount(libc, source, target, fstype, flags, data) -> None:
    enc = lambda s: s.encode("utf-8", "surrogateescape") if s is not None else None  # noqa: E731
    _check(libc, libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _under(path: str, dirs) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def _isolate_mounts(libc, cfg) -> None:
    """The program's filesystem: everything read-only but its own tmpfs (see the docstring)."""
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE, None)
    # Open what must stay visible before covering its ancestors; bind it back afterwards
    # through /proc/self/fd (still the host's /proc here, where this process also has a pid).
    keep = [(os.open(path, os.O_PATH | os.O_DIRECTORY), path) for path in cfg["keep"]]
    devs = []
    for name in DEV_NODES:
        try:
            devs.append((os.open(f"/dev/{name}", os.O_PATH), name))
        except OSError:
            pass
    null = os.open("/dev/null", os.O_PATH)
    hidden = [d for d, _ in cfg["hide"]]
    for target, mode in cfg["hide"]:
        _mount(libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size=1m,mode={mode}")
    _minimal_dev(libc, devs)
    writable = [d for d in cfg["writable"] if os.path.isdir(d)]
    _bind_back(libc, [(fd, p) for fd, p in keep if not _under(p, writable)])
    for path in HOST["sockets"]:
        covered = _under(path, writable + ["/dev"]) or (_under(path, hidden) and not _under(path, cfg["keep"]))
        if not covered:
            _hide_socket(libc, path, null)
    _read_only(libc, cfg["read_only_with"])
    _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    for target in writable:
        _mount(libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={cfg['tmpfs_mb']}m,mode=1777")
    # after /proc is this namespace's own: /proc/self still names this process
    _bind_back(libc, [(fd, p) for fd, p in keep if _under(p, writable)])
    os.close(null)


def _bind_back(libc, keep) -> None:
    for fd, path in keep:
        os.makedirs(path, 0o755, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
        os.close(fd)


def _minimal_dev(libc, devs) -> None:
    """A tmpfs /dev with only the harmless character devices, so the program reaches no disk,
    GPU or terminal its user may write to."""
    _mount(libc, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=755")
    for fd, name in devs:
        with open(f"/dev/{name}", "w"):
            pass
        _mount(libc, f"/proc/self/fd/{fd}", f"/dev/{name}", None, MS_BIND, None)
        os.close(fd)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/dev/{name}")
    os.mkdir("/dev/shm", 0o1777)


def _hide_socket(libc, path: str, null: int) -> None:
    import stat

    try:
        real = os.path.realpath(path)
        if not stat.S_ISSOCK(os.lstat(real).st_mode):
            return
    except OSError:
        return  # gone, or not visible from here
    _mount(libc, f"/proc/self/fd/{null}", real, None, MS_BIND, None)


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
    import platform

    machine = platform.machine()
    if machine.startswith("mips") or machine.startswith("ia64"):
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
    for point, exc in failed:
        # a mount covered by a later one is out of sight; what its path shows now must be read-only
        try:
            if not os.statvfs(point).f_flag & os.ST_RDONLY:
                raise exc
        except (FileNotFoundError, PermissionError):
            pass  # not reachable from here, so not by the program either


def _unescape(field: str) -> str:
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


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


def _drop_privileges(libc, uid) -> None:
    """No capability left, in any set, and none to regain: not by exec as uid 0 (securebits),
    not by setuid or file-capability binaries (no_new_privs)."""
    import ctypes

    for cap in range(HOST["last_cap"] + 1):
        _check(libc, libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "PR_CAPBSET_DROP")
    _check(libc, libc.prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0), "PR_SET_SECUREBITS")
    if uid is not None:  # as root: the uid change clears every capability (KEEP_CAPS is off)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    else:  # uid 0 of a user namespace keeps its uid; its capabilities go explicitly
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        data = (ctypes.c_uint32 * 6)()
        _check(libc, libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")
    _check(libc, libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    # dumpable again (PID 1 and the uid change cleared it), so /proc/self stays the program's own
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)


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
        if cfg["namespaces"]:
            _drop_privileges(libc, cfg["uid"])
        else:
            libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
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
