"""Benchmarks as data, a sandbox for model-written programs, pass@k and diversity."""
