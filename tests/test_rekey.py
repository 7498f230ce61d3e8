"""scripts/rekey_run.py: a run directory from before stage keys by construction keeps its work."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from lintseq.experiment import recipe as cfgmod
from lintseq.experiment import runner, stages
from lintseq.experiment.layout import CONFIG_RECORD, Layout

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "rekey_run.py"


def _rekey_module():
    spec = importlib.util.spec_from_file_location("rekey_run", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_old_keys_are_carried_over_and_a_different_config_is_refused(tmp_path: Path) -> None:
    cfg = cfgmod.load(cfgmod.recipe_path("micro"))
    run_dir = tmp_path / "run"
    layout = Layout(run_dir)
    run_dir.mkdir()
    (run_dir / CONFIG_RECORD).write_text(json.dumps(cfg.to_dict(), default=str))
    for name in ("data", "generate"):  # done under an old key, and one interrupted
        layout.stage(name).mkdir()
        layout.done(name).write_text(json.dumps({"key": "old", "outputs": {}, "upstream": {}}))
    layout.stage("format").mkdir()
    layout.started("format").write_text(json.dumps({"key": "old", "upstream": {}}))
    rekey = _rekey_module().rekey

    assert rekey(cfg, run_dir, dry_run=True) == ["data/done.json", "generate/done.json", "format/started.json"]
    assert json.loads(layout.done("data").read_text())["key"] == "old"  # a dry run writes nothing
    rekey(cfg, run_dir)
    keys = runner.stage_keys(stages.build(cfg))
    assert json.loads(layout.done("generate").read_text()) == {"key": keys["generate"], "outputs": {}, "upstream": {}}
    assert json.loads(layout.started("format").read_text())["key"] == keys["format"]
    assert rekey(cfg, run_dir) == []  # nothing left to carry over

    cfg.generate.samples += 1
    with pytest.raises(SystemExit, match="not this config"):
        rekey(cfg, run_dir)
