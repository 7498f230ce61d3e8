"""`lintseq evaluate` as most people run it, as an ordinary user (the real CLI, this venv's
python): hostile samples cannot delete, overwrite, create, rename or chmod that user's files,
remove the folder that holds the samples, or reach a loopback or unix-socket listener, and the
run finishes with its output written. Where the kernel allows no sandbox, evaluate refuses
unless told --unsafe-no-sandbox.

CI runs as root, so the test creates a throwaway user (useradd), lets it traverse to this
python for the test's duration (setfacl, else o+x, restored after) and switches to it
(runuser, setpriv or su). Run as another user, it tests that user on a scratch folder.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from listeners import Listener

import lintseq

SRC = Path(lintseq.__file__).resolve().parents[1]
LINTSEQ = Path(sys.executable).parent / "lintseq"

ATTACKS = {
    "delete": "os.remove(HOME + '/canary.txt')",
    "overwrite": "open(HOME + '/canary.txt', 'w').write('owned')",
    "create": "open(HOME + '/planted.txt', 'w').write('x')",
    "rename": "os.rename(HOME + '/canary.txt', HOME + '/renamed.txt')",
    "chmod_home": "os.chmod(HOME, 0o777)",
    "symlink": "os.symlink('/etc/passwd', HOME + '/link')",
    "rmtree_work": "shutil.rmtree(WORK)",
    "rename_work": "os.rename(WORK, WORK + '.gone')",
    "truncate_samples": "open(WORK + '/samples.jsonl', 'w').close()",
    "create_in_work": "open(WORK + '/planted.txt', 'w').write('x')",
    "loopback": "socket.create_connection(('127.0.0.1', PORT), timeout=2).sendall(b'hi')",
    "unix_socket": "s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(HOME + '/agent.sock')",
    "remount": "assert libc.mount(None, b'/', None, 32 | 4096, None) == 0, ctypes.get_errno(); "
    "open(HOME + '/after-remount.txt', 'w')",
    "own_namespace": "assert libc.unshare(0x10000000 | 0x20000) == 0, ctypes.get_errno(); "
    "libc.mount(None, HOME.encode(), None, 32 | 4096, None); libc.umount2(HOME.encode(), 2); "
    "open(HOME + '/after-unshare.txt', 'w')",
}
PRELUDE = (
    "import ctypes, os, shutil, socket\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "HOME, WORK, PORT = {home!r}, {work!r}, {port}\n"
)


def _program(name: str, home: Path, work: Path, port: int) -> str:
    body = ATTACKS[name]
    return PRELUDE.format(home=str(home), work=str(work), port=port) + (
        f"try:\n    {body}\n    print('ATTEMPT {name}: DONE')\n"
        f"except (OSError, AssertionError) as exc:\n    print('ATTEMPT {name}: blocked', repr(exc))\n"
    )


@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: Path  # where the hostile samples aim: the user's home, or a scratch folder when run as yourself
    prefix: list[str] = field(default_factory=list)  # switches to the user

    def run(self, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
        env = {
            "HOME": str(self.home),
            "PATH": f"{LINTSEQ.parent}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(SRC),
        }
        if self.prefix and self.prefix[-1] == "-c":  # su takes one shell command
            import shlex

            line = " ".join(shlex.quote(a) for a in ["env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv])
            cmd = [*self.prefix, f"cd {shlex.quote(str(cwd))} && exec {line}"]
            return subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        return subprocess.run([*self.prefix, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _switch_prefix(name: str, uid: int, gid: int) -> list[str]:
    if shutil.which("runuser"):
        return [shutil.which("runuser"), "-u", name, "--"]
    if shutil.which("setpriv"):
        return [shutil.which("setpriv"), f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--"]
    if shutil.which("su"):
        return [shutil.which("su"), "-s", "/bin/sh", name, "-c"]
    return []


def _needed_paths() -> list[Path]:
    paths = {
        Path(sys.executable),
        Path(os.path.realpath(sys.executable)),
        LINTSEQ,
        SRC,
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
    }
    paths.update(Path(p) for p in sys.path if p and os.path.isdir(p))
    return sorted(paths)


class _Grants:
    """Traverse rights on the ancestors of this python that other users lack, for one user,
    taken back afterwards: an ACL entry where setfacl exists, else o+x (mode restored)."""

    def __init__(self, user: str):
        self.user = user
        self.acl = shutil.which("setfacl") is not None
        self.done: list[tuple[Path, int]] = []

    def grant(self, paths: list[Path]) -> None:
        seen = set()
        for path in paths:
            for d in [*reversed(path.parents), path]:
                if d in seen or not d.is_dir():
                    continue
                seen.add(d)
                mode = d.stat().st_mode
                if mode & stat.S_IXOTH:
                    continue
                if self.acl:
                    subprocess.run(["setfacl", "-m", f"u:{self.user}:x", str(d)], check=True)
                else:
                    d.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
                self.done.append((d, stat.S_IMODE(mode)))

    def revoke(self) -> None:
        for d, mode in reversed(self.done):
            if self.acl:
                subprocess.run(["setfacl", "-x", f"u:{self.user}", str(d)], check=False)
            else:
                d.chmod(mode)
        self.done.clear()


@pytest.fixture(scope="module")
def user():
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid())
        scratch = Path(me.pw_dir) / f".lintseq-sandbox-test-{secrets.token_hex(4)}"
        scratch.mkdir(parents=True)
        try:
            yield User(me.pw_name, me.pw_uid, me.pw_gid, scratch)
        finally:
            scratch.chmod(0o700)
            shutil.rmtree(scratch, ignore_errors=True)
        return
    name = "lsq" + secrets.token_hex(4)
    if not shutil.which("useradd") or not _switch_prefix(name, 0, 0):
        pytest.skip("running as root without useradd or a way to switch user (runuser, setpriv, su)")
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True, capture_output=True)
    grants = _Grants(name)
    try:
        pw = pwd.getpwnam(name)
        grants.grant(_needed_paths())
        yield User(name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir), _switch_prefix(name, pw.pw_uid, pw.pw_gid))
    finally:
        grants.revoke()
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


def _as_user(user: User, path: Path, text: str | None = None, mode: int | None = None) -> None:
    if text is None:
        path.mkdir()
    else:
        path.write_text(text)
    os.chown(path, user.uid, user.gid)
    if mode is not None:
        path.chmod(mode)


@pytest.fixture()
def scene(user):
    """The user's things: a canary in the home, a working folder with the samples file, and
    two listeners started outside: loopback TCP and a unix socket in the home only the user
    may connect to."""
    home, work = user.home, user.home / f"work-{secrets.token_hex(3)}"
    _as_user(user, work)
    _as_user(user, home / "canary.txt", "precious\n", 0o600)
    tcp = Listener.tcp()
    unix = Listener.unix(home / "agent.sock", 0o600, owner=(user.uid, user.gid))
    bench = work / "bench.jsonl"
    _as_user(user, bench, json.dumps({"task_id": "h/0", "prompt": "attack", "test": "print('tests ran')\n"}) + "\n")
    try:
        yield home, work, tcp, unix
    finally:
        tcp.close()
        unix.close()
        for leftover in ("canary.txt", "planted.txt", "renamed.txt", "link", "after-remount.txt", "after-unshare.txt"):
            (home / leftover).unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(str(work) + ".gone", ignore_errors=True)


def _write_samples(user: User, work: Path, names: list[str], home: Path, port: int) -> Path:
    rows = [{"task_id": "h/0", "sample": i, "program": _program(n, home, work, port)} for i, n in enumerate(names)]
    path = work / "samples.jsonl"
    _as_user(user, path, "".join(json.dumps(r) + "\n" for r in rows))
    return path


def _evaluate(user: User, work: Path, *extra: str, wrap: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return user.run(
        [
            *wrap,
            str(LINTSEQ),
            "evaluate",
            "samples.jsonl",
            "-b",
            "bench.jsonl",
            "--completion-format",
            "program",
            "-k",
            "1",
            "--json",
            "scores.json",
            "--results",
            "results.jsonl",
            "--timeout",
            "10",
            "--workers",
            "2",
            "-q",
            *extra,
        ],
        cwd=work,
    )


def test_hostile_samples_cannot_touch_the_users_files(user, scene):
    home, work, tcp, unix = scene
    home_mode = home.stat().st_mode
    samples = _write_samples(user, work, list(ATTACKS), home, tcp.port)
    before = samples.read_text()
    res = _evaluate(user, work)
    if res.returncode != 0 and "--unsafe-no-sandbox" in res.stderr:
        assert (home / "canary.txt").read_text() == "precious\n"
        pytest.skip(f"the kernel allows {user.name} no sandbox; evaluate refused as it should: {res.stderr[-400:]}")
    assert res.returncode == 0, res.stdout + res.stderr
    # the user's files are as they were
    assert (home / "canary.txt").read_text() == "precious\n"
    assert home.stat().st_mode == home_mode
    for planted in ("planted.txt", "renamed.txt", "link", "after-remount.txt", "after-unshare.txt"):
        assert not (home / planted).exists(), planted
    assert samples.read_text() == before
    assert sorted(p.name for p in work.iterdir()) == ["bench.jsonl", "results.jsonl", "samples.jsonl", "scores.json"]
    assert tcp.hits == [] and unix.hits == []
    # every attack ran (and was stopped); the run wrote its output
    scores = json.loads((work / "scores.json").read_text())
    assert scores["sandbox"]["mode"] == "namespaces" and scores["sandbox"]["read_only_fs"], scores["sandbox"]
    assert scores["samples_evaluated"] == len(ATTACKS)
    (row,) = [json.loads(line) for line in (work / "results.jsonl").read_text().splitlines()]
    for name, sample in zip(ATTACKS, row["samples"]):
        assert f"ATTEMPT {name}: blocked" in sample["output"], (name, sample)
        assert sample["status"] == "passed", (name, sample)


def test_the_attacks_are_real_without_the_sandbox(user, scene):
    """The control: unsandboxed, as the same user, a sample does plant a file and reach the
    listener, so the test above can fail."""
    home, work, tcp, unix = scene
    _write_samples(user, work, ["create_in_work", "loopback", "unix_socket"], home, tcp.port)
    res = _evaluate(user, work, "--unsafe-no-sandbox")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "warning: --unsafe-no-sandbox" in res.stderr
    assert (work / "planted.txt").read_text() == "x"
    assert tcp.hits == [b"hi"] and unix.hits == [b"<connected>"]
    assert json.loads((work / "scores.json").read_text())["sandbox"]["mode"] == "none"


def test_refuses_to_run_unsandboxed_unless_told(user, scene, tmp_path):
    """No user namespaces allowed (max_user_namespaces = 0 inside a user namespace of the test's
    own, so nothing outside changes): evaluate says why and how to opt out, and runs only with
    --unsafe-no-sandbox, whose report says so."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1) to build a namespace without user namespaces")
    home, work, tcp, _ = scene
    _write_samples(user, work, ["create_in_work"], home, tcp.port)
    jail = (
        shutil.which("unshare"),
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
        "jail",
    )
    probe = user.run([*jail, "true"], cwd=work)
    if probe.returncode != 0:
        pytest.skip(f"cannot build the test's namespace here: {probe.stderr.strip()}")
    res = _evaluate(user, work, wrap=jail)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "cannot isolate samples on this machine" in res.stderr and "--unsafe-no-sandbox" in res.stderr
    assert not (work / "scores.json").exists() and not (work / "planted.txt").exists()
    res = _evaluate(user, work, "--unsafe-no-sandbox", wrap=jail)
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads((work / "scores.json").read_text())["sandbox"]["mode"] == "none"
