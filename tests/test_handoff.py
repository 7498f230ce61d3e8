"""A run split between machines: `--stages`/`--until` (runner.select) and the checked parts that
carry the run directory (lintseq.experiment.handoff). The micro recipe split for real, on CPU,
is the slow test at the end; scripts/gpu/README.md has the plan it checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from lintseq.cli import main
from lintseq.experiment import handoff, runner, stages
from lintseq.experiment import recipe as cfgmod
from lintseq.experiment.layout import Layout


@pytest.fixture(scope="module")
def micro():
    return cfgmod.load(cfgmod.recipe_path("micro"))


def _mark_done(run_dir: Path, names: list[str], key: str = "recorded") -> None:
    for name in names:
        (run_dir / name).mkdir(parents=True, exist_ok=True)
        (run_dir / name / "done.json").write_text(json.dumps({"key": key, "outputs": {}, "upstream": {}}))


def test_select_by_pattern_and_until(micro):
    graph = stages.build(micro)
    assert runner.select(graph) is None
    assert runner.select(graph, until="format") == {"mine-corpus", "pretrain", "data", "generate", "format"}
    device = runner.select(graph, handoff.ON_DEVICE)
    assert device is not None and {"train-baseline", "train-lintseq", "gate-lintseq"} <= device
    assert all(n.startswith(("train-", "gate-", "sample-")) for n in device)
    assert runner.select(graph, ["train-*"], until="train-baseline") == {"train-baseline"}
    with pytest.raises(ValueError, match="matches no stage"):
        runner.select(graph, ["tran-*"])
    with pytest.raises(ValueError, match="not a stage"):
        runner.select(graph, until="formatting")


def test_a_stage_left_out_is_taken_as_its_marker_records_it(micro, tmp_path):
    run_dir = tmp_path / "run"
    only = runner.select(stages.build(micro), handoff.ON_DEVICE)
    actions = {p.stage.name: p.action for p in runner.plan(micro, run_dir, only)}
    assert actions["format"] == "leave" and actions["train-baseline"] == "blocked"
    assert actions["sample-lintseq-mbpp"] == "blocked" and actions["report"] == "leave"

    # done elsewhere, files absent here, recorded keys no setting here would give: still taken
    _mark_done(run_dir, ["mine-corpus", "pretrain", "data", "generate", "format"])
    steps = runner.plan(micro, run_dir, only)
    actions = {p.stage.name: p.action for p in steps}
    assert actions["format"] == "skip" and actions["train-baseline"] == "run"
    assert all(a == "run" for n, a in actions.items() if n.startswith(("train-", "gate-", "sample-")))
    assert all(a == "leave" for n, a in actions.items() if n.startswith("evaluate-") or n == "report")
    # the selected stages are keyed on the recorded keys: a different recorded key, a different key
    before = {p.stage.name: p.key for p in steps}
    _mark_done(run_dir, ["format"], key="another")
    after = {p.stage.name: p.key for p in runner.plan(micro, run_dir, only)}
    assert after["generate"] == before["generate"] and after["train-baseline"] != before["train-baseline"]
    # without a selection nothing is taken on trust: the same folder runs from the start
    assert {p.action for p in runner.plan(micro, run_dir)} == {"run"}


def test_the_cli_refuses_a_selection_that_matches_nothing_and_reports_blocked_stages(tmp_path):
    args = ["experiment", "--recipe", "micro", "-o", str(tmp_path / "run")]
    res = CliRunner().invoke(main, [*args, "--stages", "nope-*"])
    assert res.exit_code == 2 and "matches no stage" in res.output
    res = CliRunner().invoke(main, [*args, "--plan", "--stages", "train-*,gate-*", "--stages", "sample-*"])
    assert res.exit_code == 0 and "blocked train-baseline" in res.output and "leave  format" in res.output


def test_handoff_files_are_the_markers_and_the_folders_read_across(micro, tmp_path):
    run_dir = tmp_path / "run"
    _mark_done(run_dir, ["mine-corpus", "pretrain", "data", "generate", "format"])
    for rel in ("format/baseline.jsonl", "pretrain/model/config.json", "generate/edits.jsonl"):
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / rel).write_text("{}\n")
    only = runner.select(stages.build(micro), handoff.ON_DEVICE)
    assert only is not None
    files = {str(f) for f in handoff.handoff_files(micro, run_dir, only)}
    assert {"format/baseline.jsonl", "pretrain/model/config.json", "generate/done.json"} <= files
    assert "generate/edits.jsonl" not in files  # only format reads them, and format does not run there


def _run_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_parts_are_at_most_the_limit_join_back_and_refuse_a_missing_or_damaged_part(tmp_path):
    assert handoff.PART_BYTES == 16 * 2**20  # what the device tool brings back per file
    run_dir = tmp_path / "run"
    for i in range(3):
        (run_dir / f"sample-{i}").mkdir(parents=True)
        (run_dir / f"sample-{i}" / "samples.jsonl").write_bytes(os.urandom(3000))  # does not compress
    files = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*") if p.is_file())
    out = tmp_path / "out"
    manifest = handoff.pack(run_dir, files, out, "back", part_bytes=2048)
    parts = [out / p["name"] for p in manifest["parts"]]
    assert len(parts) >= 5 and all(p.stat().st_size <= 2048 for p in parts)
    assert sum(p.stat().st_size for p in parts) == manifest["bytes"]
    assert sorted(f.name for f in out.iterdir()) == sorted([*(p.name for p in parts), "back.tar.gz.manifest.json"])

    here = tmp_path / "here"
    assert sorted(handoff.unpack(out, "back", here)) == sorted(map(str, files))
    assert _run_tree(here) == _run_tree(run_dir)

    parts[2].rename(tmp_path / parts[2].name)
    with pytest.raises(handoff.HandoffError, match=rf"1 of {len(parts)} parts missing: {parts[2].name}"):
        handoff.unpack(out, "back", tmp_path / "again")
    data = bytearray((tmp_path / parts[2].name).read_bytes())
    data[7] ^= 1
    parts[2].write_bytes(bytes(data))
    with pytest.raises(handoff.HandoffError, match="size or SHA-256"):
        handoff.unpack(out, "back", tmp_path / "again")
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())
    (out / "back.tar.gz.manifest.json").unlink()
    with pytest.raises(handoff.HandoffError, match="no manifest"):
        handoff.check_parts(out, "back.tar.gz")


def test_a_new_split_replaces_the_parts_of_an_earlier_one(tmp_path):
    big, small = tmp_path / "model.whl", tmp_path / "b" / "model.whl"
    big.write_bytes(os.urandom(5000))
    small.parent.mkdir()
    small.write_bytes(b"x" * 10)
    out = tmp_path / "parts"
    assert len(handoff.split(big, out, part_bytes=1000)["parts"]) == 5
    assert len(handoff.split(small, out, part_bytes=1000)["parts"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["model.whl.1of1", "model.whl.manifest.json"]
    assert handoff.join(out, "model.whl", tmp_path / "joined").read_bytes() == b"x" * 10


@pytest.mark.slow
def test_micro_split_between_two_machines_gives_the_usual_report(tmp_path):
    """Here until format, the device's stages in another folder from the carried parts, the
    samples back in parts, evaluation and the report here: every stage done, the models never here."""
    conf = cfgmod.recipe_path("micro")
    cfg = cfgmod.load(conf)
    here, device = tmp_path / "here", tmp_path / "device"
    graph = stages.build(cfg)
    runner.run(cfg, here, only=runner.select(graph, until=handoff.BEFORE_DEVICE), log=lambda m: None)

    on_device = runner.select(graph, handoff.ON_DEVICE)
    assert on_device is not None
    handoff.pack(here, handoff.handoff_files(cfg, here, on_device), tmp_path / "to", "run")
    handoff.unpack(tmp_path / "to", "run", device)
    steps = runner.run(cfg, device, only=on_device, log=lambda m: None)
    assert {p.stage.name for p in steps if p.action == "run"} == on_device

    after = runner.select(graph, handoff.AFTER_DEVICE)
    assert after is not None
    handoff.pack(device, handoff.handoff_files(cfg, device, after), tmp_path / "back", "run", part_bytes=4096)
    handoff.unpack(tmp_path / "back", "run", here)
    steps = runner.run(cfg, here, only=after, log=lambda m: None)
    assert {p.stage.name for p in steps if p.action == "run"} == after
    assert "Paired difference, LintSeq - baseline" in (here / "report.md").read_text(encoding="utf-8")
    assert all(Layout(here).done(st.name).is_file() for st in graph)
    assert not (here / "train-lintseq" / "model").exists()
