"""Looking at LintSeq data before training on it: `lintseq show` (one program's edits, step by
step) and `lintseq stats` (numbers and plots for a whole file, or two side by side)."""
