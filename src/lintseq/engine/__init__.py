"""Generation: programs into insertion-only, lint-clean edit sequences.

`units` splits a program into LintSeq units, `edit_paths` samples the backward deletion walk and
diffs it into edits, `generate` drives that over a dataset on local processes (`journal` keeps
its output resumable, `records` reads the input rows, `summary` counts what happened), and
`ray` runs the same per-row work on a Ray cluster.
"""
