"""The first code that runs inside a sandboxed process (see `sandbox.py`).

It is run as `python -I -B -c <this file's text>` and reads one JSON config line and then the
program from stdin. It must import nothing outside the standard library, and nothing heavy (not even json):
its start-up time is paid once per sample.

Steps: read the program while still privileged; when the config asks for it, make the mount
namespace private, mount a fresh /proc (the new PID namespace), put tmpfs over /tmp and the other
world-writable directories, hide directories an unprivileged user cannot reach anyway while
keeping the interpreter's own directories visible; then fork. The parent stays PID 1 of the
namespace, waits for the child and exits with its status (when PID 1 exits, the kernel kills
everything left in the namespace). The child drops to the sandbox uid, sets its rlimits, runs
the program and, only if the whole program ran, writes the sentinel line to stdout.
"""

import os
import sys

ERROR_MARK = "LINTSEQ-SANDBOX-ERROR:"


def _main() -> None:
    cfg = eval(sys.stdin.readline(), {"__builtins__": {}})  # a literal written by sandbox.py
    src = sys.stdin.read()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    libc = None
    if cfg["mount"] or cfg["uid"] is not None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    if cfg["mount"]:
        _isolate_mounts(libc, cfg)
    pid = os.fork()
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
        if cfg["mount"]:
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
        os.write(2, f"{ERROR_MARK} {exc!r}\n".encode())
        os._exit(70)
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
    _main()
