"""Here, after the device: its samples into the run directory, then evaluation and the usual report.

    python scripts/gpu/finish.py --recipe smollm2-135m --run runs/smollm2-gpu FILES_AT

FILES_AT is the folder the device tool's reply names (`files_at`): the parts device.py wrote
under $OUT and their manifest. A missing or damaged part stops here, before anything is written
(lintseq.experiment.handoff). Then `lintseq experiment --stages evaluate-*,report` on the same run
directory: the stages the device ran are taken as their done.json records them (their models
stayed there), and the report is the one `lintseq experiment` always writes. Where the device did
not finish, the stages it did not reach are named and nothing downstream of them runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
from lintseq.experiment import handoff  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", required=True, help="the recipe prepare.py and device.py had (a name or a TOML file)")
    ap.add_argument("--run", required=True, type=Path, help="the run directory prepare.py packed")
    ap.add_argument("files_at", type=Path, help="the folder with device.py's parts and manifest")
    args = ap.parse_args()
    try:
        files = handoff.unpack(args.files_at, handoff.ARCHIVE, args.run)
    except handoff.HandoffError as exc:
        sys.exit(f"{exc}: fetch the device's files again (or rerun its last call)")
    print(f"{len(files)} files from the device into {args.run}")
    which = [args.recipe] if args.recipe.endswith(".toml") else ["--recipe", args.recipe]
    stages = ",".join(handoff.AFTER_DEVICE)
    cmd = [sys.executable, "-m", "lintseq", "experiment", *which, "-o", str(args.run), "--stages", stages]
    return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())
