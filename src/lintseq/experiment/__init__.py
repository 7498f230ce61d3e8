"""`lintseq experiment`: the paper's baseline-vs-LintSeq comparison as one resumable run."""
