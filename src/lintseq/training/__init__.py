"""Fine-tuning (and from-scratch training) of causal LMs on formatted LintSeq/baseline rows.

Imports of torch/transformers/trl happen inside the modules that need them, so `config` and
`steps` stay cheap to import.
"""
