"""Carry a run directory started before stage keys by construction (lintseq before 2026-12-07,
commit 822a8e0) over to this code's keys, so that a long run goes on instead of starting again.

The new keys hash the same settings in another form (docs/design.md §6.6), and generation,
formatting and scoring are byte-identical across the change (benchmarks/same_output.py). So a
stage that is done, or was interrupted, under the old key holds what this code would write for
the same config. This rewrites the key in each stage's done.json / started.json, and nothing
else, after checking that the run's recorded config is the one given:

    python scripts/rekey_run.py --recipe smollm2-135m-cpu /root/runs/smollm2-cpu-regime
    python scripts/rekey_run.py my.toml RUN_DIR --dry-run

Only use it on a run whose config and inputs have not changed since it was started.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lintseq.experiment import recipe
from lintseq.experiment.layout import CONFIG_RECORD, Layout
from lintseq.experiment.runner import records_config, stage_keys
from lintseq.experiment.stages import build
from lintseq.io import write_json


def rekey(cfg: recipe.ExperimentConfig, run_dir: Path, dry_run: bool = False) -> list[str]:
    """The markers rewritten (or that would be), as 'STAGE/MARKER'."""
    if not records_config(run_dir, cfg):
        raise SystemExit(f"{run_dir}: its {CONFIG_RECORD} is not this config; nothing rewritten")
    layout = Layout(run_dir)
    keys = stage_keys(build(cfg))
    changed = []
    for name, key in keys.items():
        for marker in (layout.done(name), layout.started(name)):
            if not marker.is_file():
                continue
            doc = json.loads(marker.read_text(encoding="utf-8"))
            if doc.get("key") != key:
                changed.append(f"{name}/{marker.name}")
                if not dry_run:
                    write_json(marker, doc | {"key": key}, default=str)
    return changed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", nargs="?", help="the run's config file (or --recipe)")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--recipe", help="a bundled recipe instead of a config file")
    ap.add_argument("--dry-run", action="store_true", help="say what would be rewritten; write nothing")
    args = ap.parse_args()
    if bool(args.config) == bool(args.recipe):
        ap.error("give a config file or --recipe")
    cfg = recipe.load(args.config or recipe.recipe_path(args.recipe))
    changed = rekey(cfg, args.run_dir, args.dry_run)
    print(("would rewrite" if args.dry_run else "rewrote") + f" {len(changed)} markers: {', '.join(changed) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
