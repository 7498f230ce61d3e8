"""A program cannot make the read-only filesystem writable again, nor reach a unix socket, in
every isolation mode this machine has: remount, mount_setattr, umount, a user and mount
namespace of its own, exec with uid 0, /proc/1/root. Each attack is also run without the
sandbox, where it does write: the checks are real."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from listeners import Listener

from lintseq.evaluation import sandbox
from lintseq.evaluation.sandbox import Limits, Sandbox, SandboxUnavailable, sandbox_info

LIMITS = Limits(timeout=10.0, memory_mb=1024)

ATTACKS = r"""
import ctypes, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
TARGET = {target!r}
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC = 1, 32, 4096, 16384

def err():
    e = ctypes.get_errno()
    return f"{{e}} {{os.strerror(e)}}"

def write(tag):
    path = os.path.join(TARGET, tag)
    try:
        with open(path, "w") as fh:
            fh.write("owned")
        return "WROTE"
    except OSError as exc:
        return f"blocked ({{exc.strerror}})"

def attempt(name, fn):
    try:
        note = fn()
    except OSError as exc:
        note = f"error {{exc}}"
    print(f"ATTEMPT {{name}}: {{note}} -> {{write(name)}}", flush=True)

def remount():
    r1 = libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None)
    r2 = libc.mount(None, TARGET.encode(), None, MS_REMOUNT | MS_BIND, None)
    return f"remount: {{r1}} {{r2}} {{err()}}"

def setattr_clear():
    attr = (ctypes.c_uint64 * 4)(0, MS_RDONLY, 0, 0)
    r = libc.syscall(442, -100, b"/", 0x8000, ctypes.byref(attr), ctypes.sizeof(attr))
    return f"mount_setattr: {{r}} {{err()}}"

def umount():
    out = []
    for path in ("/tmp", "/proc", "/dev", "/"):
        out.append(str(libc.umount2(path.encode(), 2)))
    return f"umount2: {{out}} {{err()}}"

def own_namespaces():
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(0x10000000 | 0x20000) != 0:
        return f"unshare: {{err()}}"
    libc.prctl(4, 1, 0, 0, 0)  # dumpable again (gaining capabilities cleared it), so /proc/self is ours
    # inner id 1, not 0 (that takes CAP_SETFCAP); as uid 0 of the sandbox's own user namespace
    # the program may map nothing at all, and then tries its luck unmapped
    notes = []
    for name, text in (("setgroups", "deny"), ("uid_map", f"1 {{uid}} 1"), ("gid_map", f"1 {{gid}} 1")):
        try:
            with open(f"/proc/self/{{name}}", "w") as fh:
                fh.write(text)
        except OSError as exc:
            notes.append(f"{{name}}: {{exc.strerror}}")
    notes += [remount(), setattr_clear(), umount(), f"CapEff {{open('/proc/self/status').read().split('CapEff:')[1].split()[0]}}"]
    return "in own user+mount namespace: " + "; ".join(notes)

def exec_as_root():
    out = subprocess.run(["/bin/sh", "-c", "grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status"],
                         capture_output=True, text=True).stdout
    return " ".join(out.split())

attempt("plain", lambda: "no trick")
attempt("remount", remount)
attempt("mount_setattr", setattr_clear)
attempt("umount", umount)
attempt("exec", exec_as_root)
attempt("own_namespaces", own_namespaces)
for how, fn in (("chmod", lambda: os.chmod(TARGET, 0o700)), ("rename", lambda: os.rename(os.path.join(TARGET, "keep.txt"), os.path.join(TARGET, "moved.txt"))),
                ("delete", lambda: os.remove(os.path.join(TARGET, "keep.txt"))),
                ("proc1", lambda: open("/proc/1/root" + TARGET + "/via-proc1", "w").write("x"))):
    try:
        fn()
        print(f"ATTEMPT {{how}}: DONE", flush=True)
    except OSError as exc:
        print(f"ATTEMPT {{how}}: blocked ({{exc.strerror}})", flush=True)
"""


def modes() -> list[str]:
    found = []
    for mode in ("namespaces+uid", "namespaces"):
        try:
            Sandbox(LIMITS, workers=1, isolation=mode).close()
            found.append(mode)
        except SandboxUnavailable:
            pass
    return found


MODES = modes()


@pytest.fixture()
def target():
    """A world-writable directory outside /tmp: only the read-only mount protects it."""
    path = Path(__file__).parent / f".sandbox-target-{os.getpid()}"
    path.mkdir()
    path.chmod(0o777)
    (path / "keep.txt").write_text("precious\n")
    (path / "keep.txt").chmod(0o666)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _attempts(output: str) -> dict[str, str]:
    return {
        line.split(":", 1)[0][len("ATTEMPT ") :]: line.split(":", 1)[1]
        for line in output.splitlines()
        if line.startswith("ATTEMPT ")
    }


@pytest.mark.skipif(not MODES, reason=f"no namespace isolation here: {sandbox_info().tried}")
@pytest.mark.parametrize("method", ["mount_setattr", "remount"])
@pytest.mark.parametrize("mode", MODES)
def test_read_only_cannot_be_undone(mode, method, target, monkeypatch):
    """Both ways the launcher makes mounts read-only (mount_setattr, and the per-mount remount
    for kernels before 5.12) hold."""
    monkeypatch.setattr(sandbox, "READ_ONLY_METHODS", (method,))
    with Sandbox(LIMITS, workers=1, isolation=mode) as box:
        assert box.info.read_only_fs
        res = box.run(ATTACKS.format(target=str(target)))
    got = _attempts(res.output)
    assert set(got) == {
        "plain",
        "remount",
        "mount_setattr",
        "umount",
        "exec",
        "own_namespaces",
        "chmod",
        "rename",
        "delete",
        "proc1",
    }, res.output
    for name, note in got.items():
        assert "WROTE" not in note and "DONE" not in note, (name, note)
    assert "CapEff: 0000000000000000" in got["exec"] and "CapBnd: 0000000000000000" in got["exec"], got["exec"]
    # the program did get a namespace of its own, with every capability in it, and still could not write
    assert "in own user+mount namespace" in got["own_namespaces"] and "CapEff 000001ffffffffff" in got["own_namespaces"]
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    assert (target / "keep.txt").read_text() == "precious\n"
    assert target.stat().st_mode & 0o777 == 0o777


def test_attacks_do_write_without_the_sandbox(target):
    """The control: the same writes land when nothing isolates the program."""
    program = ATTACKS.format(target=str(target)).split('attempt("plain"')[0] + 'attempt("plain", lambda: "none")\n'
    res = Sandbox(LIMITS, workers=1, isolation="none").run(program)
    assert "WROTE" in _attempts(res.output)["plain"], res.output
    assert (target / "plain").read_text() == "owned"


def _connect(path: Path) -> str:
    return textwrap.dedent(
        f"""
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect({str(path)!r})
        s.close()
        """
    )


@pytest.mark.parametrize("mode", [*MODES, "none"])
def test_unix_sockets_outside_tmp_are_hidden(mode, target):
    """A daemon's or agent's socket (here one any uid may connect to) is out of reach; without the
    sandbox the same program connects."""
    path = target / "agent.sock"
    with (
        Listener.unix(path, 0o777) as listener,
        Sandbox(LIMITS, workers=1, isolation=mode) as box,  # started after the socket exists
    ):
        res = box.run(_connect(path))
    if mode == "none":
        assert res.passed and listener.hits == [b"<connected>"], res
    else:
        assert not res.passed and listener.hits == [], res


@pytest.mark.skipif(not MODES, reason=f"no namespace isolation here: {sandbox_info().tried}")
def test_sockets_bound_after_the_sandbox_started_are_hidden_too(target):
    with Sandbox(LIMITS, workers=1, isolation=MODES[-1]) as box:
        assert box.run("pass").passed  # the worker is up and has looked at the host's sockets
        path = target / "late.sock"
        with Listener.unix(path, 0o777) as listener:
            time.sleep(1.1)  # a worker looks again at most once a second
            res = box.run(_connect(path))
    assert not res.passed and listener.hits == [], res


@pytest.mark.skipif(not MODES, reason=f"no namespace isolation here: {sandbox_info().tried}")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("private", [False, True], ids=["open", "private"])
def test_interpreter_folders_under_tmp_stay_visible_and_read_only(mode, private, monkeypatch):
    """A checkout or venv under /tmp (as CI clones may be) is bound back into the sample's fresh
    /tmp, read-only; also inside a private folder (mode 0700, as `mktemp -d` makes), which the
    sample's uid could not traverse."""
    outer = Path(tempfile.mkdtemp(prefix="lsq-interp-", dir="/tmp"))
    folder = outer / "checkout" if private else outer
    try:
        folder.mkdir(exist_ok=True)
        folder.chmod(0o755)
        outer.chmod(0o700 if private else 0o755)
        (folder / "lsq_probe_module.py").write_text("VALUE = 42\n")
        (folder / "lsq_probe_module.py").chmod(0o644)
        monkeypatch.syspath_prepend(str(folder))
        program = (
            f"import os, sys\nsys.path.insert(0, {str(folder)!r})\nimport lsq_probe_module\n"
            "assert lsq_probe_module.VALUE == 42\n"
            f"try:\n    open({str(folder / 'planted.txt')!r}, 'w')\n    print('WROTE')\n"
            "except OSError as exc:\n    print('blocked', exc.strerror)\n"
            "assert os.listdir('/tmp') != []  # the fresh /tmp holds only the bound folder and the workdir\n"
        )
        with Sandbox(LIMITS, workers=1, isolation=mode) as box:
            res = box.run(program)
        assert res.passed, res
        assert "blocked Read-only file system" in res.output
        assert not (folder / "planted.txt").exists()
    finally:
        shutil.rmtree(outer, ignore_errors=True)
