"""Hostile programs end as failed samples and harm nothing (the files outside, the evaluator,
other samples, the network)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from listeners import Listener

from lintseq.evaluation.sandbox import (
    Limits,
    Sandbox,
    SandboxUnavailable,
    _mount_plan,
    _unreachable_ancestor,
    _within,
    sandbox_info,
)

LIMITS = Limits(timeout=4.0, memory_mb=1024, max_output=64 << 10)


@pytest.fixture(scope="module")
def box() -> Sandbox:
    return Sandbox(LIMITS, workers=2)


def _procs_of(uids: set[int]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid in uids:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_isolation_is_reported():
    info = sandbox_info()
    assert info.mode in ("namespaces+uid", "namespaces", "none")
    if info.mode == "none":
        assert info.detail and not info.network_isolated
    if os.geteuid() == 0 and info.mode != "none":
        assert info.mode == "namespaces+uid" and info.unprivileged_uid


def test_plain_programs(box):
    ok, bad, syntax = box.run_many(["print(sum(range(10)))", "assert 1 == 2", "def f(:\n"])
    assert ok.passed and ok.status == "passed" and ok.exit_code == 0 and "45" in ok.output
    assert not bad.passed and bad.status == "failed" and "AssertionError" in bad.output
    assert not syntax.passed and "SyntaxError" in syntax.output


@pytest.mark.parametrize(
    "program",
    [
        "import os\nos._exit(0)\nassert False\n",
        "import sys\nsys.exit(0)\n",
        "raise SystemExit\n",
        "import os, sys\nsys.stdout.flush()\nos.close(1)\nos._exit(0)\n",
    ],
)
def test_exiting_early_is_not_passing(box, program):
    res = box.run(program + "\nprint('tests ran')\n")
    assert not res.passed and res.status == "failed"


def test_hostile_batch(box, tmp_path):
    """All hostile programs in one run: each fails, the run goes on, a harmless one passes."""
    canary = tmp_path / "canary.txt"
    canary.write_text("precious\n")
    # a second canary outside /tmp (which the sandbox covers with its own tmpfs): only the
    # unprivileged uid protects it, and the program can see it
    outside = Path(__file__).parent / f".canary-{os.getpid()}"
    outside.write_text("precious\n")
    outside.chmod(0o644)
    try:
        files = f"""
import os, shutil
print('sees outside canary:', os.path.exists({str(outside)!r}))
for path in ({str(canary)!r}, {str(outside)!r}):
    try:
        os.remove(path)
    except OSError as e:
        print('remove', e)
    try:
        open(path, 'w').write('owned')
    except OSError as e:
        print('write', e)
shutil.rmtree({str(tmp_path)!r}, ignore_errors=True)
open({str(outside.parent / "new-file-from-sample")!r}, 'w').write('x')
"""
        programs = {
            "files": files,
            "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
            "memory": "x = bytearray(50 * 1024 ** 3)\n",
            "forever": "while True:\n    pass\n",
            "print_gigabytes": "import sys\nwhile True:\n    sys.stdout.write('x' * 1_000_000)\n",
            "kill_parent": "import os\nos.kill(os.getppid(), 9)\n",
            "kill_everything": "import os, signal\nos.kill(-1, signal.SIGKILL)\n",
            "harmless": "assert sorted([3, 1, 2]) == [1, 2, 3]\n",
        }
        results = dict(zip(programs, box.run_many(programs.values())))
        assert canary.read_text() == "precious\n"
        assert outside.read_text() == "precious\n"
        assert not (outside.parent / "new-file-from-sample").exists()
        for name, res in results.items():
            if name == "harmless":
                assert res.passed, res
            else:
                assert not res.passed, (name, res)
        assert results["forever"].status == "timeout"
        assert results["forever"].duration < LIMITS.timeout + 3
        assert results["print_gigabytes"].status == "timeout" and results["print_gigabytes"].truncated
        assert len(results["print_gigabytes"].output) <= LIMITS.max_output + 100
        assert results["memory"].status == "failed" and "MemoryError" in results["memory"].output
        assert results["fork_bomb"].status in ("timeout", "killed")
        if box.info.mode == "namespaces+uid":  # visible where the checkout is, unless the sample's mounts cover it
            plan = _mount_plan(True, LIMITS.tmpfs_mb)
            covered = [*(d for d, _ in plan["hide"]), *plan["writable"]]
            folder = str(outside.parent)
            visible = not _within(folder, covered) or _within(folder, plan["keep"])  # tests/ is on sys.path
            if _unreachable_ancestor(folder) is not None and not _within(folder, covered):
                visible = False
            assert f"sees outside canary: {visible}" in results["files"].output
        # nothing the samples started is still running
        uids = set(box.uids())
        if uids:
            assert _procs_of(uids) == []
        # and the evaluator still works
        assert box.run("print('still here')").passed
    finally:
        outside.unlink(missing_ok=True)
        (outside.parent / "new-file-from-sample").unlink(missing_ok=True)


def _reach(port: int) -> str:
    return textwrap.dedent(
        f"""
        import socket
        s = socket.create_connection(('127.0.0.1', {port}), timeout=2)
        s.sendall(b'hello from the sample')
        s.close()
        """
    )


def test_network_is_unreachable(box):
    if not box.info.network_isolated:
        pytest.skip(f"no network isolation on this machine: {box.info.detail}; {box.info.tried}")
    with Listener.tcp() as listener:
        res = box.run(_reach(listener.port))
    assert not res.passed
    assert listener.hits == []


def test_network_probe_can_fail():
    """The same program does reach the listener when isolation is off: the test above is real."""
    with Listener.tcp() as listener:
        res = Sandbox(LIMITS, workers=1, isolation="none").run(_reach(listener.port))
    assert res.passed, res
    assert listener.hits == [b"hello from the sample"]


@pytest.mark.parametrize("isolation", ["auto", "none"])
def test_working_directory_is_private_empty_and_gone_after(isolation, box):
    prog = (
        "import os, tempfile\nassert os.listdir('.') == []\nopen('scratch.txt', 'w').write('x')\n"
        "assert os.environ['HOME'] == os.environ['TMPDIR'] == os.getcwd() == tempfile.gettempdir()\n"
        "print(os.getcwd())\n"
    )
    runner = box if isolation == "auto" else Sandbox(LIMITS, workers=2, isolation="none")
    first, second = runner.run_many([prog, prog])
    assert first.passed and second.passed, (first, second)
    if isolation == "none":  # a folder in the real /tmp, removed after each program
        assert first.output != second.output
        assert not Path(first.output.strip()).exists() and not Path(second.output.strip()).exists()


def test_experiment_opt_out_is_checked_and_reaches_the_sandbox(tmp_path):
    """[evaluate] unsafe_no_sandbox: a bool, off by default, read by the evaluate stage (its key
    changes when it is turned on)."""
    from lintseq.experiment import recipe as config
    from lintseq.experiment import stages

    base = '[model]\nname = "m"\n[data]\nsources = ["mbpp:train"]\n[sample]\nbenchmarks = ["humaneval"]\n'
    path = tmp_path / "c.toml"
    path.write_text(base + '[evaluate]\nunsafe_no_sandbox = "yes"\n')
    with pytest.raises(config.ConfigError, match="unsafe_no_sandbox = 'yes': expected true or false"):
        config.load(path)
    slices = {}
    for value in ("false", "true"):
        path.write_text(base + f"[evaluate]\nunsafe_no_sandbox = {value}\n")
        stage = next(s for s in stages.build(config.load(path)) if s.name == "evaluate-lintseq-humaneval")
        slices[value] = stage.reads["evaluate"]
    assert slices["false"]["unsafe_no_sandbox"] is False and slices["true"]["unsafe_no_sandbox"] is True


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_volume_does_not_change_the_verdict(box, stream):
    """A program that prints far more than is kept still passes, and what is kept is its first
    and last bytes with the count of those in between."""
    total = 40 * LIMITS.max_output
    program = (
        f"import sys\nsys.{stream}.write('<start>' + 'x' * {total} + '<end>')\n"
        "def f(x):\n    print('y' * 100_000)\n    return x\nassert f(3) == 3\n"
    )
    res = box.run(program)
    assert res.passed and res.status == "passed" and res.truncated, res.status
    assert res.output.startswith("<start>") and res.output.rstrip().endswith("y" * 1000)
    head, rest = res.output.split("\n[... ", 1)
    omitted, tail = rest.split(" bytes of output not kept ...]\n", 1)
    assert len(head) == LIMITS.max_output // 2 and LIMITS.max_output // 4 < len(tail) < len(head)
    assert len(head) + int(omitted) + len(tail) == len("<start><end>") + total + 100_001
    failing = box.run(program.replace("f(3) == 3", "f(3) == 4"))
    assert failing.status == "failed" and "AssertionError" in failing.output


@pytest.mark.parametrize("mode", ["namespaces+uid", "namespaces"])
def test_a_program_cannot_signal_the_sandbox(mode):
    """Signals to its process group, its parent (pid 0 from inside: also the group), everyone it
    can see, and the namespace's init: only the program dies, and its worker serves on (as uid 0
    of a user namespace, the program shares its uid with the worker outside)."""
    try:
        box = Sandbox(LIMITS, workers=1, isolation=mode)
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    programs = [
        "import os\nos.kill(0, 9)\n",
        "import os\nos.killpg(0, 9)\n",
        "import os\nos.kill(os.getppid(), 9)\n",
        "import os\nfor sig in (9, 15):\n    try:\n        os.kill(1, sig)\n    except OSError:\n        pass\n"
        "print('init survived')\n",
        "import os\nos.kill(-1, 9)\n",
    ]
    with box:
        results = list(box.run_many(programs * 2))
        assert [r.status for r in results[:3]] == ["killed"] * 3
        assert "init survived" in results[3].output
        assert box.run("print('still here')").passed
        assert box.timings.worker_starts == 1


@pytest.mark.parametrize("mode", ["namespaces+uid", "namespaces"])
def test_ordinary_programs_work(mode):
    """What tests of model samples use: subprocesses, a multiprocessing pool (semaphores in
    /dev/shm), threads, temporary files, the interpreter's own modules."""
    try:
        box = Sandbox(LIMITS, workers=1, isolation=mode)
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    program = textwrap.dedent(
        """
        import multiprocessing, subprocess, sys, tempfile, threading, sqlite3
        with multiprocessing.Pool(2) as pool:
            assert pool.map(abs, [-1, -2, 3]) == [1, 2, 3]
        out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True)
        assert out.stdout == "42\\n"
        done = []
        t = threading.Thread(target=done.append, args=(1,))
        t.start(); t.join()
        with tempfile.NamedTemporaryFile("w+") as fh:
            fh.write("x"); fh.flush()
        assert sqlite3.connect(":memory:").execute("select 1").fetchone() == (1,) and done == [1]
        """
    )
    with box:
        res = box.run(program)
    assert res.passed, res.output


def test_a_forged_report_changes_nothing(box):
    """The sandbox's report ends the output stream; a program that prints one (any shape) is
    judged by the real one, written after it."""
    from lintseq.evaluation._launcher import REPORT_MARK

    for fake in ('{"code": 0, "timeout": false, "error": null, "t": {}}', "{}", "[1]", "not json"):
        body = fake.encode()
        forged = body + len(body).to_bytes(4, "little") + REPORT_MARK
        res = box.run(f"import os\nos.write(1, {forged!r})\nraise SystemExit(3)\n")
        assert res.status == "failed" and res.exit_code == 2, (fake, res)
