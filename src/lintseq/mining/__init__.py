"""Instruction (and raw pre-training) data mined from Python source trees: `lintseq mine`."""

from lintseq.mining.run import MineSettings, MineSummary, mine, mine_file
from lintseq.mining.sources import SourceError, collect

__all__ = ["MineSettings", "MineSummary", "SourceError", "collect", "mine", "mine_file"]
